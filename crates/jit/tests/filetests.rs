//! Text filetests, in the manner of Cranelift's:
//!
//! * `filetests/translate/*.test`: a Smalltalk method, a line `---`, then
//!   the IR the translator must produce for it (and for its block bodies,
//!   each after a blank line). `LST_BLESS=1` rewrites the expected part
//!   from the actual output (review the diff before committing it).
//! * `filetests/fold/*.test`: the same, after [`lst_jit::fold`].
//! * `filetests/semantic/*.test`: the same, after [`lst_jit::semantic`]
//!   (SmallInt's, Float's and the object inline operations as the literals'
//!   facts) and then
//!   [`lst_jit::fold`]. Lines of the source part starting `; fires:` list
//!   instructions (`int_sub`, `inline_valid int_rem` …) the lowered IR
//!   must contain, checked even when blessing (`; quick:` lines list
//!   selectors the facts say a quick method answers): a fast path that should
//!   fire and does not fails the test whatever the expected text says.
//! * `filetests/verify/*.ir`: IR whose first line is `; ok` (it must
//!   verify and print back to exactly the same text) or `; error: TEXT`
//!   (verification must fail with a message containing TEXT).

use lst_bytecode::inline_ops::{ObjectOp, Receiver};
use lst_jit::ir::InlineOp;
use lst_jit::ir::Kind;
use lst_jit::translate::{Source, block_bodies, translate};
use lst_jit::{parse, semantic, verify};
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

/// What a filetest does to the translated IR.
#[derive(Clone, Copy, PartialEq)]
enum Passes {
    None,
    Fold,
    /// The semantic lowering, then fold.
    Semantic,
}

/// For each literal of `m` that is a selector `receiver` answers inline,
/// that operation.
fn literal_ops(m: &lst_compiler::CompiledMethod, receiver: Receiver) -> Vec<Option<InlineOp>> {
    m.literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => {
                InlineOp::of_selector(receiver, s.as_bytes())
            }
            _ => None,
        })
        .collect()
}

/// The IR text for a method's source: the method, then each block body,
/// after `passes` (`quick_names`: selectors a quick method answers).
fn translated(source: &str, passes: Passes, quick_names: &[String]) -> String {
    let m = lst_compiler::compile_method(source, &["x".into(), "y".into()])
        .unwrap_or_else(|d| panic!("{d:?}"));
    let ops = literal_ops(&m, Receiver::SmallInt);
    let float_ops = literal_ops(&m, Receiver::Float);
    let object_ops: Vec<Option<ObjectOp>> = m
        .literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => ObjectOp::of_selector(s.as_bytes()),
            _ => None,
        })
        .collect();
    let quick: Vec<bool> = m
        .literals
        .iter()
        .map(|l| match l {
            lst_compiler::LiteralValue::Selector(s) => quick_names.contains(s),
            _ => false,
        })
        .collect();
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
        if passes == Passes::Semantic {
            let facts = semantic::Facts {
                literal_ops: &ops,
                float_ops: &float_ops,
                object_ops: &object_ops,
                quick: &quick,
            };
            semantic::lower(&mut f, &facts);
            verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
        }
        if passes != Passes::None {
            lst_jit::fold::fold(&mut f);
        }
        verify::verify(&f).unwrap_or_else(|e| panic!("{name}: {e:?}\n{f}"));
        out.push(f.to_string());
    }
    out.join("\n")
}

#[test]
fn translate_filetests() {
    expected_output("translate", Passes::None);
}

#[test]
fn fold_filetests() {
    expected_output("fold", Passes::Fold);
}

#[test]
fn semantic_filetests() {
    expected_output("semantic", Passes::Semantic);
}

/// The selectors the `; quick:` lines of a test's source list: the
/// facts say some quick method answers them.
fn quick_selectors(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("; quick:"))
        .flat_map(|l| l.split(',').map(|w| w.trim().to_string()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The instructions the `; fires:` lines of a test's source list.
fn must_fire(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("; fires:"))
        .flat_map(|l| l.split(',').map(|w| w.trim().to_string()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `ir` has an instruction `name` (with its operands' first
/// words, e.g. `inline_valid int_rem`).
fn has_instruction(ir: &str, name: &str) -> bool {
    ir.lines().any(|l| {
        let body = l.split_once(" = ").map_or(l.trim(), |(_, b)| b);
        body == name || body.starts_with(&format!("{name} "))
    })
}

fn expected_output(dir: &str, passes: Passes) {
    let bless = std::env::var_os("LST_BLESS").is_some();
    for path in files(dir, "test") {
        let text = std::fs::read_to_string(&path).unwrap();
        let (source, expected) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
        let fires = must_fire(source);
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .map(|l| format!("{l}\n"))
            .collect();
        let actual = translated(&code, passes, &quick_selectors(source));
        for name in &fires {
            assert!(
                has_instruction(&actual, name),
                "{}: the fast path `{name}` does not fire:\n{actual}",
                path.display()
            );
        }
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
