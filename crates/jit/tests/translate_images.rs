//! Every method and block body of LLST's two images and of lst's own
//! image (built from image/*.st) translates to IR that verifies, and whose
//! text parses back to the same IR; so does the IR after folding. LLST's images may hold methods the
//! translator declines (its compiler leaves values on the operand stack
//! where paths meet); ours must all translate.

use lst_jit::ir::{Function, Kind};
use lst_jit::translate::{Source, block_bodies, translate};
use lst_jit::{parse, verify};
use lst_vm::image::builder;
use lst_vm::{Options, Vm};

fn arg_count(selector: &str) -> u8 {
    lst_bytecode::selector_arity(selector.as_bytes()).unwrap_or(0) as u8
}

/// Translates everything in the VM; answers (functions translated, declined).
fn check(vm: &Vm) -> (usize, Vec<String>) {
    let mut done = 0;
    let mut declined = vec![];
    for m in vm.all_methods() {
        let name = format!("{}>>{}", m.class, m.selector);
        let src = Source {
            name: &name,
            bytecodes: &m.bytecodes,
            arg_count: arg_count(&m.selector),
            temp_count: m.temporary_size.clamp(1, 255) as u8,
        };
        let kinds = std::iter::once(Kind::Method).chain(
            block_bodies(&m.bytecodes)
                .into_iter()
                .map(|(start, _)| Kind::BlockBody { start }),
        );
        for kind in kinds {
            match translate(&src, kind.clone()) {
                Ok(mut f) => {
                    check_function(&f, &name, &kind);
                    lst_jit::fold::fold(&mut f);
                    check_function(&f, &format!("{name} (folded)"), &kind);
                    done += 1;
                }
                Err(e) => declined.push(format!("{name} {kind:?}: {e}")),
            }
        }
    }
    (done, declined)
}

/// `f` verifies and its text parses back to it.
fn check_function(f: &Function, name: &str, kind: &Kind) {
    if let Err(e) = verify::verify(f) {
        panic!("{name} ({kind:?}) does not verify:\n{}\n{f}", e.join("\n"));
    }
    let text = f.to_string();
    let back = parse::parse_function(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    assert_eq!(
        &back, f,
        "{name}: the printed IR parses differently:\n{text}"
    );
}

/// LLST's image `name`, or `None` when it is not there (`lst_test_images`).
fn llst(name: &str) -> Option<Vm> {
    let bytes = lst_test_images::read(name)?;
    Some(Vm::from_llst_image(&bytes, Options::default()).unwrap())
}

#[test]
fn llst_images_translate_and_verify() {
    for image in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        let Some(vm) = llst(image) else { continue };
        let (done, declined) = check(&vm);
        eprintln!(
            "{image}: {done} functions translated, {} declined",
            declined.len()
        );
        for d in declined.iter().take(20) {
            eprintln!("  {d}");
        }
        assert!(done > 150, "{image}: only {done}");
        assert!(
            declined.len() * 50 < done,
            "{image}: declined {}",
            declined.len()
        );
    }
}

#[test]
fn our_image_translates_and_verifies_completely() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    let vm = builder::build(&sources, Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let (done, declined) = check(&vm);
    assert!(done > 1000, "only {done}");
    assert!(declined.is_empty(), "{}", declined.join("\n"));
}
