//! Builds the images `lst` carries, with the project's own image builder:
//! the default image from the Smalltalk sources in `image/` (or the folder
//! named by `LST_IMAGE_SOURCES`), and the benchmark image (`lst bench`):
//! the same sources plus `bench/awfy/` and `bench/micro/`.

use lst_vm::image::builder::{Source, build};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, label: &str) -> Vec<Source> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let sources = lst_vm::image::builder::read_sources(dir, label)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for s in &sources {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join(&s.name[label.len() + 1..]).display()
        );
    }
    sources
}

fn write_image(sources: &[Source], name: &str) {
    let options = lst_vm::Options {
        gc_stress: false,
        ..Default::default()
    };
    let mut vm = match build(sources, options) {
        Ok(vm) => vm,
        Err(e) => {
            eprintln!("the image {name} does not build:\n{e}");
            std::process::exit(1);
        }
    };
    vm.set_output(Box::new(std::io::sink()));
    let bytes = vm.image_bytes().expect("the image fits in memory");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
    std::fs::write(&out, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-env-changed=LST_IMAGE_SOURCES");
    let library = match std::env::var_os("LST_IMAGE_SOURCES") {
        Some(d) => sources(Path::new(&d), "image"),
        None => sources(&root.join("image"), "image"),
    };
    write_image(&library, "lst.image");
    let mut with_benchmarks = library;
    with_benchmarks.extend(sources(&root.join("bench/awfy"), "bench/awfy"));
    with_benchmarks.extend(sources(&root.join("bench/micro"), "bench/micro"));
    write_image(&with_benchmarks, "bench.image");
}
