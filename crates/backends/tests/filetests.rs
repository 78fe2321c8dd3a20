//! Back-end filetests, in the manner of Cranelift's `precise-output`:
//!
//! * `filetests/clif/*.test`: a Smalltalk method, a line `---`, then the
//!   CLIF the Cranelift lowering makes of it and of each of its block
//!   bodies (before Cranelift's own optimizations).
//! * `filetests/x86/*.test`: the same, with the baseline's x86-64 code,
//!   disassembled (iced-x86, Intel syntax, offsets from the unit's start).
//!
//! The method is compiled into lst's own image, in the class a line
//! `; class: NAME` names (`Object` when none does), and each unit is
//! compiled by a fresh JIT, so function numbers are stable. Numbers that
//! differ per run are named: the shared stubs, the runtime helpers and
//! the Float functions by their names (`<lst_send_stub>`), send sites as
//! `<site N>` (plus an offset into the site), the tiering counter as
//! `<counter>`, and any other address as `<addr>`; the Vm fields the code
//! reads and writes by name (`[rdi+<vm.nil>]`, `v0+<vm.nil>`), so that a
//! new Vm field does not change every listing.
//!
//! `LST_BLESS=1` rewrites the expected part from the actual output
//! (review the diff before committing it). Lines of the source part
//! `; fires: A, B` list text some line of the output must contain, and
//! `; absent: A, B` text no line may contain, and `; count: TEXT = N`
//! says exactly N lines contain TEXT (e.g. the send stub is reached only
//! from each send's fallback, never on a fast path); all are checked even when
//! blessing, so a fast path that should fire and does not fails the test
//! whatever the expected text says.

use cranelift_codegen::ir::types::I64;
use lst_backends::CraneliftJit;
use lst_backends::exit_stub::Exit;
use lst_backends::helpers;
use lst_jit::translate::block_bodies;
use lst_vm::jit_runtime::boundary::{Compiled, Compiler};
use lst_vm::jit_runtime::float_ops::float_ops;
use lst_vm::jit_runtime::inline_cache::SendSite;
use lst_vm::jit_runtime::tiering::Level;
use lst_vm::layout::method;
use lst_vm::link::Origin;
use lst_vm::value::Value;
use lst_vm::{Options, Vm};
use std::path::{Path, PathBuf};

/// lst's own image, built from its sources.
fn image() -> Vm {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../image");
    let sources = lst_vm::image::builder::read_sources(Path::new(dir), "image").unwrap();
    lst_vm::image::builder::build(&sources, Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = format!("{}/tests/filetests/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .test files in {dir}");
    v
}

/// The words after `; KEY:` on the source part's lines.
fn directive(source: &str, key: &str) -> Vec<String> {
    let prefix = format!("; {key}:");
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .flat_map(|l| l.split(',').map(|w| w.trim().to_string()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Compiles `code` into the class named `class`: the method.
fn install(vm: &mut Vm, class: &str, code: &str) -> Value {
    let class = vm
        .global(class)
        .filter(|&c| vm.is_class_shaped(c))
        .unwrap_or_else(|| panic!("no class {class}"));
    let origin = Origin {
        label: "filetest",
        first_line: 1,
    };
    vm.compile_into(class, code, origin)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The bytecode offsets of `m`'s units: 0, then each block body.
fn units(vm: &Vm, m: Value) -> Vec<u16> {
    let code = vm.heap.get(m, method::BYTECODES).unwrap();
    let bodies = block_bodies(vm.heap.bytes(code));
    std::iter::once(0)
        .chain(bodies.into_iter().map(|(start, _)| start))
        .collect()
}

/// The listing of each unit of `m` as `level` compiles it.
fn listing(vm: &Vm, m: Value, level: Level) -> String {
    let mut out = vec![];
    for start in units(vm, m) {
        let mut jit = CraneliftJit::new().expect("a JIT");
        jit.keep_listing = true;
        let compiled = jit
            .compile(vm, m, start, 1, level)
            .unwrap_or_else(|e| panic!("unit at {start}: {e}"));
        let text = jit.listing.take().expect("a listing");
        let names = Names::new(&jit, &compiled, text.code.len());
        let body = match level {
            Level::Optimized => name_functions(&jit, &names.mask(&text.clif)),
            Level::Baseline => names.mask(&disassemble(&text.code)),
        };
        let body = name_vm_fields(&body, level);
        out.push(format!("; unit at {start}\n{body}"));
    }
    out.join("\n")
}

/// The Vm fields compiled code reads and writes, by their offset from
/// the Vm (`Layout`), so that a listing names `vm.nil` instead of an
/// offset that moves whenever the Vm gains a field.
fn vm_fields() -> Vec<(i64, &'static str)> {
    let l = Vm::native_layout();
    let a = l.alloc;
    let mut v: Vec<(i64, &'static str)> = [
        (l.stack_base, "stack_base"),
        (l.stack_len, "stack_len"),
        (l.countdown, "countdown"),
        (l.regs_hp, "regs_hp"),
        (l.regs_value, "regs_value"),
        (l.regs_k, "regs_k"),
        (l.regs_records_by_word, "records_by_word"),
        (l.nil, "nil"),
        (l.true_, "true"),
        (l.false_, "false"),
        (l.smallint_class, "smallint_class"),
        (l.context_class, "context_class"),
        (l.block_class, "block_class"),
        (l.blocks, "blocks"),
        (l.inline_ops, "inline_ops"),
        (l.float_class, "float_class"),
        (l.regs_answer, "regs_answer"),
        (l.stack_limit, "stack_limit"),
        (l.gc_stress, "gc_stress"),
    ]
    .into_iter()
    .map(|(o, n)| (i64::from(o), n))
    .collect();
    v.extend(
        [
            (a.base, "heap_base"),
            (a.top, "heap_top"),
            (a.words, "heap_words"),
            (a.next_hash, "next_hash"),
            (a.allocated_words, "allocated_words"),
        ]
        .map(|(o, n)| (o as i64, n)),
    );
    v.sort();
    v
}

/// The field at Vm offset `off`: its name, plus the offset into it for
/// a word of an array field (`inline_ops+16`).
fn vm_field(fields: &[(i64, &str)], off: i64) -> Option<String> {
    let (base, name) = fields.iter().rev().find(|(o, _)| *o <= off)?;
    match off - base {
        0 => Some((*name).to_string()),
        d if *name == "inline_ops" && d % 8 == 0 => Some(format!("{name}+{d}")),
        _ => None,
    }
}

/// `text` with each Vm-relative address named by its field: `[rdi+0x…]`
/// in the baseline's code (rdi holds the Vm throughout) and `v0+N` in
/// CLIF (v0, the first parameter, is the Vm).
fn name_vm_fields(text: &str, level: Level) -> String {
    let fields = vm_fields();
    let (re, radix) = match level {
        Level::Baseline => (regex::Regex::new(r"\[rdi\+0x([0-9a-f]+)\]").unwrap(), 16),
        Level::Optimized => (regex::Regex::new(r"\bv0\+(\d+)\b").unwrap(), 10),
    };
    re.replace_all(text, |c: &regex::Captures| {
        let off = i64::from_str_radix(&c[1], radix).expect("an offset");
        match (vm_field(&fields, off), level) {
            (Some(f), Level::Baseline) => format!("[rdi+<vm.{f}>]"),
            (Some(f), Level::Optimized) => format!("v0+<vm.{f}>"),
            (None, _) => c[0].to_string(),
        }
    })
    .into_owned()
}

/// `clif` with each imported function's line (`fn0 = colocated u0:16
/// sig1`) followed by the name of the function it imports.
fn name_functions(jit: &CraneliftJit, clif: &str) -> String {
    let names = jit.function_names();
    let name_of = |line: &str| {
        let n: u32 = line.split_once(" u0:")?.1.split(' ').next()?.parse().ok()?;
        names.iter().find(|(i, _)| *i == n).map(|(_, name)| name)
    };
    clif.lines()
        .map(
            |l| match name_of(l).filter(|_| l.trim_start().starts_with("fn")) {
                Some(name) => format!("{l}  ; {name}\n"),
                None => format!("{l}\n"),
            },
        )
        .collect()
}

/// x86-64 code as Intel-syntax text, one instruction per line, with
/// offsets from its start.
fn disassemble(code: &[u8]) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    formatter.options_mut().set_hex_prefix("0x");
    formatter.options_mut().set_hex_suffix("");
    formatter.options_mut().set_uppercase_hex(false);
    formatter.options_mut().set_branch_leading_zeros(false);
    formatter.options_mut().set_leading_zeros(false);
    let mut out = String::new();
    let mut text = String::new();
    for insn in &mut decoder {
        text.clear();
        formatter.format(&insn, &mut text);
        out.push_str(&format!("{:5x}  {text}\n", insn.ip()));
    }
    out
}

/// A number this close to an address the test names is an address too
/// (in the same mapping: code memory, the Rust heap, the executable).
const NEAR: u64 = 1 << 32;

/// The addresses a compiled unit refers to, by name.
struct Names {
    /// Exact addresses and their names.
    exact: Vec<(u64, String)>,
    /// Each send site's range.
    sites: Vec<(u64, u64)>,
    /// The unit's code.
    code: (u64, u64),
}

impl Names {
    fn new(jit: &CraneliftJit, compiled: &Compiled, code_len: usize) -> Names {
        let t = jit.targets();
        let mut exact = vec![
            (t.send_stub, "lst_send_stub".to_string()),
            (t.return_stub, "lst_return_stub".to_string()),
            (t.exit_deopt, Exit::Deopt.name().to_string()),
            (t.exit_trap, Exit::Trap.name().to_string()),
        ];
        let all = helpers::all(I64);
        exact.extend(
            t.helpers
                .iter()
                .zip(&all)
                .map(|((a, _), h)| (*a, h.name.to_string())),
        );
        exact.extend(
            t.float_ops
                .iter()
                .zip(float_ops())
                .map(|(a, op)| (*a, format!("lst_{}", op.name()))),
        );
        exact.push((t.new_slots, "lst_new_slots_inline".to_string()));
        if let Some(c) = &compiled.counter {
            exact.push((c.as_ptr() as u64, "counter".to_string()));
        }
        let size = std::mem::size_of::<SendSite>() as u64;
        let sites = compiled
            .sites
            .iter()
            .map(|s| (s as *const SendSite as u64, size))
            .collect();
        Names {
            exact,
            sites,
            code: (compiled.code as u64, code_len as u64),
        }
    }

    /// The name of the number `n`, if it is an address.
    fn name(&self, n: u64) -> Option<String> {
        if let Some((_, name)) = self.exact.iter().find(|(a, _)| *a == n) {
            return Some(format!("<{name}>"));
        }
        let within = |base: u64, len: u64| n >= base && n - base < len;
        if let Some(i) = self.sites.iter().position(|&(b, l)| within(b, l)) {
            return Some(match n - self.sites[i].0 {
                0 => format!("<site {i}>"),
                off => format!("<site {i}+{off}>"),
            });
        }
        if within(self.code.0, self.code.1.max(1)) {
            return Some(format!("<code+{:#x}>", n - self.code.0));
        }
        // Near an address it names: one this test does not name (not a
        // constant such as a header mask, far from any).
        let near = |a: u64| a.abs_diff(n) < NEAR;
        let known = self.exact.iter().map(|e| e.0);
        let known = known.chain(self.sites.iter().map(|s| s.0));
        (n > u64::from(u32::MAX) && known.chain([self.code.0]).any(near))
            .then(|| "<addr>".to_string())
    }

    /// `text` with every hex (`0x…`) or long decimal number that is an
    /// address replaced by its name.
    fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
            let (before, from) = rest.split_at(i);
            // A digit inside a name (`v12`, `block3`) is not a number.
            let in_word = before
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let (token, after) = number_token(from);
            out.push_str(before);
            let value = parse_number(token);
            match value.filter(|_| !in_word).and_then(|n| self.name(n)) {
                Some(name) => out.push_str(&name),
                None => out.push_str(token),
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

/// The number at the start of `s` (`0x…` or decimal, with `_`s) and
/// what follows it.
fn number_token(s: &str) -> (&str, &str) {
    let hex = s.starts_with("0x");
    let skip = if hex { 2 } else { 0 };
    let end = s[skip..]
        .find(|c: char| !(c.is_ascii_hexdigit() && (hex || c.is_ascii_digit()) || c == '_'))
        .map_or(s.len(), |e| e + skip);
    s.split_at(end)
}

fn parse_number(token: &str) -> Option<u64> {
    let digits: String = token.chars().filter(|&c| c != '_').collect();
    match digits.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => digits.parse().ok(),
    }
}

/// Runs the tests in `dir` with code from `level`.
fn expected_output(dir: &str, level: Level) {
    let bless = std::env::var_os("LST_BLESS").is_some();
    let mut vm = image();
    for path in files(dir) {
        let text = std::fs::read_to_string(&path).unwrap();
        let (source, expected) = text
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
        let class = directive(source, "class");
        let class = class.first().map_or("Object", |c| c.as_str());
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .map(|l| format!("{l}\n"))
            .collect();
        let m = install(&mut vm, class, &code);
        let actual = listing(&vm, m, level);
        check_lines(&path, source, &actual);
        if bless {
            std::fs::write(&path, format!("{source}\n---\n{actual}")).unwrap();
        } else {
            assert_eq!(actual.trim(), expected.trim(), "{}", path.display());
        }
    }
}

/// The `; fires:`, `; absent:` and `; count:` checks of one test.
fn check_lines(path: &Path, source: &str, actual: &str) {
    for count in directive(source, "count") {
        let (text, n) = count
            .rsplit_once('=')
            .and_then(|(t, n)| Some((t.trim(), n.trim().parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("{}: `; count: {count}`", path.display()));
        let found = actual.lines().filter(|l| l.contains(text)).count();
        assert_eq!(found, n, "{}: lines with `{text}`", path.display());
    }
    for want in directive(source, "fires") {
        assert!(
            actual.lines().any(|l| l.contains(&want)),
            "{}: `{want}` does not fire:\n{actual}",
            path.display()
        );
    }
    for unwanted in directive(source, "absent") {
        let hit = actual.lines().find(|l| l.contains(&unwanted));
        assert!(
            hit.is_none(),
            "{}: `{unwanted}` is there: {hit:?}\n{actual}",
            path.display()
        );
    }
}

#[test]
fn clif_filetests() {
    expected_output("clif", Level::Optimized);
}

#[test]
#[cfg(target_arch = "x86_64")]
fn x86_filetests() {
    expected_output("x86", Level::Baseline);
}
