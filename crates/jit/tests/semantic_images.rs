//! The semantic lowering on every method and block body of lst's own
//! image and of LLST's two images: the lowered IR verifies, prints and
//! parses back to itself, still verifies after folding, and the fast paths
//! fire (the SmallInt arithmetic of the images is not all left to sends).
//! The same after the unboxed Float regions ([`lst_jit::semantic::region`]),
//! which must verify on their own too.

use lst_bytecode::inline_ops::{InlineOp, ObjectOp, Receiver};
use lst_jit::ir::{Function, Inst, Kind};
use lst_jit::semantic::{Facts, lower};
use lst_jit::translate::{Source, block_bodies, translate};
use lst_jit::{parse, verify};
use lst_vm::image::builder;
use lst_vm::{Options, Vm};

/// `receiver`'s operation of each literal (`#quo:` is a Symbol literal).
fn literal_ops(literals: &[String], receiver: Receiver) -> Vec<Option<InlineOp>> {
    literals
        .iter()
        .map(|l| {
            let s = l.strip_prefix('#')?;
            InlineOp::of_selector(receiver, s.as_bytes())
        })
        .collect()
}

/// The object operation of each literal.
fn object_ops(literals: &[String]) -> Vec<Option<ObjectOp>> {
    literals
        .iter()
        .map(|l| ObjectOp::of_selector(l.strip_prefix('#')?.as_bytes()))
        .collect()
}

fn check_function(f: &Function, name: &str) {
    if let Err(e) = verify::verify(f) {
        panic!("{name} does not verify:\n{}\n{f}", e.join("\n"));
    }
    let text = f.to_string();
    let back = parse::parse_function(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    assert_eq!(&back, f, "{name}: the printed IR parses differently");
}

/// Lowers everything in the VM (first making unboxed regions if
/// `regions`); answers (functions lowered, fast paths, unboxed
/// operations).
fn check(vm: &Vm, regions: bool) -> (usize, usize, usize) {
    let (mut done, mut fast, mut unboxed) = (0, 0, 0);
    for m in vm.all_methods() {
        let name = format!("{}>>{}", m.class, m.selector);
        let src = Source {
            name: &name,
            bytecodes: &m.bytecodes,
            arg_count: lst_bytecode::selector_arity(m.selector.as_bytes()).unwrap_or(0) as u8,
            temp_count: m.temporary_size.clamp(1, 255) as u8,
        };
        let ops = literal_ops(&m.literals, Receiver::SmallInt);
        let float_ops = literal_ops(&m.literals, Receiver::Float);
        let object_ops = object_ops(&m.literals);
        let kinds = std::iter::once(Kind::Method).chain(
            block_bodies(&m.bytecodes)
                .into_iter()
                .map(|(start, _)| Kind::BlockBody { start }),
        );
        for kind in kinds {
            let Ok(mut f) = translate(&src, kind.clone()) else {
                continue;
            };
            let facts = Facts {
                literal_ops: &ops,
                float_ops: &float_ops,
                object_ops: &object_ops,
                quick: &[],
                not_float: &[],
            };
            let name = format!("{name} {kind:?}");
            if regions {
                lst_jit::semantic::region::unbox(&mut f, &facts);
                check_function(&f, &format!("{name} (regions)"));
            }
            lower(&mut f, &facts);
            check_function(&f, &name);
            lst_jit::fold::fold(&mut f);
            check_function(&f, &format!("{name} (folded)"));
            let both =
                |i: &&lst_jit::ir::InstData| matches!(i.inst, Inst::BothInt(..) | Inst::IsInt(..));
            fast += f.blocks.iter().flat_map(|b| &b.insts).filter(both).count();
            let f64 =
                |i: &&lst_jit::ir::InstData| matches!(i.inst, Inst::F64(..) | Inst::F64Compare(..));
            unboxed += f.blocks.iter().flat_map(|b| &b.insts).filter(f64).count();
            done += 1;
        }
    }
    (done, fast, unboxed)
}

#[test]
fn our_image_lowers_and_verifies() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = builder::read_sources(std::path::Path::new(dir), "image").unwrap();
    let vm = builder::build(&sources, Options::default()).unwrap_or_else(|e| panic!("{e}"));
    for regions in [false, true] {
        let (done, fast, unboxed) = check(&vm, regions);
        eprintln!("lst image: {done} functions, {fast} fast paths, {unboxed} unboxed operations");
        assert!(done > 1000, "only {done}");
        assert!(fast > 500, "only {fast} fast paths in {done} functions");
        assert_eq!(unboxed > 0, regions, "{unboxed} unboxed operations");
    }
}

#[test]
fn llst_images_lower_and_verify() {
    for image in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        let Some(bytes) = lst_test_images::read(image) else {
            continue;
        };
        let vm = Vm::from_llst_image(&bytes, Options::default()).unwrap();
        for regions in [false, true] {
            let (done, fast, unboxed) = check(&vm, regions);
            eprintln!("{image}: {done} functions, {fast} fast paths, {unboxed} unboxed operations");
            assert!(fast > 50, "{image}: only {fast} fast paths");
        }
    }
}
