//! What the command-line tests share: running the `lst` binary (with no
//! GC stress from the environment) with piped input, its output as text,
//! and scratch files. Each test binary includes this with `mod support;`
//! and uses what it needs.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A command running the `lst` binary with `args`.
pub fn lst_command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lst"));
    c.args(args).env_remove("LST_GC_STRESS");
    c
}

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.st` files of a folder of the repository, in name order.
pub fn st_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(folder))
        .expect("the folder")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "st"))
        .collect();
    files.sort();
    files
}

/// Runs `lst args` with no input (and, with `verify`, the JIT checking
/// every IR it builds: `LST_JIT_VERIFY`), as the differential tests do:
/// (exit success, stdout, stderr).
pub fn run(args: &[&str], verify: bool) -> (bool, String, String) {
    let mut c = lst_command(args);
    if verify {
        c.env("LST_JIT_VERIFY", "1");
    }
    let out = c.stdin(Stdio::null()).output().expect("lst runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `lst args` with `stdin` piped in; everything it printed.
pub fn lst(args: &[&str], stdin: &str) -> Output {
    run_with_input(lst_command(args), stdin)
}

/// Runs `lst args` in the folder `dir` with `stdin` piped in.
pub fn lst_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut c = lst_command(args);
    c.current_dir(dir);
    run_with_input(c, stdin)
}

fn run_with_input(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lst runs");
    // lst may end before reading all of its input (an error, `-e`); a
    // closed pipe here is not the test's concern.
    let _ = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("lst ends")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `stderr` without the JIT's own `jit: ` lines (`--jit-stats`), so that
/// what a program printed can be compared with an interpreted run's.
pub fn without_jit_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("jit: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A fresh scratch folder for `test`, unique to this test process.
pub fn temp_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lst-test-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("a scratch folder");
    d
}

/// A file `name` holding `contents` in the scratch folder of `test`.
pub fn temp_file(test: &str, name: &str, contents: &[u8]) -> PathBuf {
    let path = temp_dir(test).join(name);
    std::fs::write(&path, contents).expect("a scratch file");
    path
}

/// For tests that drive a Vm in process: lst's own image built from
/// `image/` (with GC stress if asked), its output discarded, `methods`
/// compiled into Object.
pub fn own_image_with(gc_stress: bool, methods: &[&str]) -> lst_vm::Vm {
    let sources = lst_vm::image::builder::read_sources(&root().join("image"), "image").unwrap();
    let options = lst_vm::Options {
        gc_stress,
        ..lst_vm::Options::default()
    };
    let mut vm = lst_vm::image::builder::build(&sources, options).unwrap_or_else(|e| panic!("{e}"));
    vm.set_output(Box::new(std::io::sink()));
    for source in methods {
        define_in_object(&mut vm, source);
    }
    vm
}

/// Compiles method `source` into Object.
pub fn define_in_object(vm: &mut lst_vm::Vm, source: &str) {
    let object = vm.global("Object").unwrap();
    let here = lst_vm::link::Origin {
        label: "test",
        first_line: 1,
    };
    vm.compile_into(object, source, here)
        .unwrap_or_else(|e| panic!("{source}: {e:?}"));
}

/// The method Object answers `selector` with.
pub fn method_of_object(vm: &mut lst_vm::Vm, selector: &str) -> lst_vm::value::Value {
    let object = vm.global("Object").unwrap();
    let symbol = vm.find_symbol(selector.as_bytes()).unwrap();
    vm.lookup_method(symbol, object).unwrap()
}
