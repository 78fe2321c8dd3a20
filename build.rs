//! Builds the default image from the Smalltalk sources in `image/` (or the
//! folder named by `LST_IMAGE_SOURCES`) with the project's own image
//! builder, so that `lst` carries it in the binary.

use lst_vm::image::builder::{Source, build};
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-env-changed=LST_IMAGE_SOURCES");
    let dir = match std::env::var_os("LST_IMAGE_SOURCES") {
        Some(d) => Path::new(&d).to_path_buf(),
        None => Path::new(&root).join("image"),
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "st"))
        .collect();
    paths.sort();
    let sources: Vec<Source> = paths
        .iter()
        .map(|p| {
            println!("cargo:rerun-if-changed={}", p.display());
            Source {
                name: format!("image/{}", p.file_name().unwrap().to_string_lossy()),
                text: std::fs::read_to_string(p)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())),
            }
        })
        .collect();
    let options = lst_vm::Options {
        gc_stress: false,
        ..Default::default()
    };
    let mut vm = match build(&sources, options) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("the default image does not build:\n{e}");
            std::process::exit(1);
        }
    };
    vm.set_output(Box::new(std::io::sink()));
    let bytes = vm.image_bytes().expect("the image fits in memory");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lst.image");
    std::fs::write(&out, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
