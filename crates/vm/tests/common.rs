//! Shared helpers: boot an LLST image in-process with scripted input and
//! captured output; build the small test image (`fixtures/mini`) and
//! evaluate expressions in it.

#![allow(dead_code)]

use lst_vm::{ExitStatus, Options, ReaderConsole, Vm};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct Captured(Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

/// Boots `image_name` with `input` as the console, returns (status,
/// output); `None` when the image is not there (see `lst_test_images`).
pub fn run_image(image_name: &str, input: &str, options: Options) -> Option<(ExitStatus, String)> {
    let mut vm =
        Vm::from_llst_image(&lst_test_images::read(image_name)?, options).expect("image loads");
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    vm.set_console(Box::new(ReaderConsole(std::io::Cursor::new(
        input.as_bytes().to_vec(),
    ))));
    let status = vm.boot().expect("boot runs");
    Some((status, out.text()))
}

pub fn options() -> Options {
    Options {
        gc_stress: false,
        ..Options::default()
    }
}

pub fn stress_options() -> Options {
    Options {
        gc_stress: true,
        ..Options::default()
    }
}

/// Lines of the REPL's answers after the start-up test run.
pub fn after_tests(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("Running ") && !l.ends_with("OK"))
        .map(str::to_string)
        .collect()
}

/// Where test expressions come from, for error locations.
pub const HERE: lst_vm::link::Origin = lst_vm::link::Origin {
    label: "test",
    first_line: 1,
};

/// A VM on the small test image (`tests/fixtures/mini`), with its output
/// captured.
pub fn mini_vm_with(options: Options) -> (Vm, Captured) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mini");
    let sources = lst_vm::image::builder::read_sources(std::path::Path::new(dir), "mini").unwrap();
    let mut vm = lst_vm::image::builder::build(&sources, options).unwrap_or_else(|e| panic!("{e}"));
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    (vm, out)
}

/// Evaluates `src`: the printString of its value ("?" if it has none),
/// the compile error, or "failed".
pub fn eval(vm: &mut Vm, src: &str) -> String {
    use lst_vm::session::Evaluation;
    match vm.evaluate(src, HERE).unwrap() {
        Evaluation::Value(v) => vm.print_string(v).unwrap().unwrap_or_else(|| "?".into()),
        Evaluation::CompileError(d) => format!("compile error: {d}"),
        Evaluation::Failed => "failed".into(),
    }
}
