//! Text filetests, in the manner of Cranelift's:
//!
//! * `filetests/translate/*.test`: a Smalltalk method, a line `---`, then
//!   the IR the translator must produce for it (and for its block bodies,
//!   each after a blank line). `LST_BLESS=1` rewrites the expected part
//!   from the actual output (review the diff before committing it).
//! * `filetests/fold/*.test`: the same, after [`lst_jit::fold`].
//! * `filetests/verify/*.ir`: IR whose first line is `; ok` (it must
//!   verify and print back to exactly the same text) or `; error: TEXT`
//!   (verification must fail with a message containing TEXT).

use lst_jit::ir::Kind;
use lst_jit::translate::{Source, block_bodies, translate};
use lst_jit::{parse, verify};
use std::path::PathBuf;

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = format!("{}/tests/filetests/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .{ext} files in {dir}");
    v
}

/// The IR text for a method's source: the method, then each block body;
/// folded if `fold`.
fn translated(source: &str, fold: bool) -> String {
    let m = lst_compiler::compile_method(source, &["x".into(), "y".into()])
        .unwrap_or_else(|d| panic!("{d:?}"));
    let name = format!("Test>>{}", m.selector);
    let src = Source {
        name: &name,
        bytecodes: &m.bytecodes,
        arg_count: m.arg_count as u8,
        temp_count: m.temp_size as u8,
    };
    let mut out = vec![];
    let kinds = std::iter::once(Kind::Method).chain(
        block_bodies(&m.bytecodes)
            .into_iter()
            .map(|(start, _)| Kind::BlockBody { start }),
    );
    for kind in kinds {
        let f = translate(&src, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut f = f;
        if fold {
            lst_jit::fold::fold(&mut f);
        }
        verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
        out.push(f.to_string());
    }
    out.join("\n")
}

#[test]
fn translate_filetests() {
    expected_output("translate", false);
}

#[test]
fn fold_filetests() {
    expected_output("fold", true);
}

fn expected_output(dir: &str, fold: bool) {
    let bless = std::env::var_os("LST_BLESS").is_some();
    for path in files(dir, "test") {
        let text = std::fs::read_to_string(&path).unwrap();
        let (source, expected) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
        let actual = translated(source, fold);
        if bless {
            std::fs::write(&path, format!("{source}\n---\n{actual}")).unwrap();
        } else {
            assert_eq!(actual.trim(), expected.trim(), "{}", path.display());
        }
    }
}

#[test]
fn verify_filetests() {
    for path in files("verify", "ir") {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        let f = parse::parse_function(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = verify::verify(&f);
        match first.strip_prefix("; error: ") {
            Some(want) => {
                let errors = result.expect_err(&format!("{} verified", path.display()));
                assert!(
                    errors.iter().any(|e| e.contains(want.trim())),
                    "{}: wanted {want:?}, got {errors:?}",
                    path.display()
                );
            }
            None => {
                assert_eq!(first.trim(), "; ok", "{}: first line", path.display());
                result.unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
                assert_eq!(
                    f.to_string(),
                    body,
                    "{} does not print back",
                    path.display()
                );
            }
        }
    }
}
