//! The back ends only select instructions (issue 18, "done means"): no
//! file of `crates/backends/src` writes the object layout as a literal
//! (the SmallInt tag's shift or mask, a header offset, the size mask, the
//! word size as a factor) or names a selector or a primitive number. Those
//! come from `Layout`, the table of inline operations and `lst-jit`.
//!
//! Each rule is a pattern over a line with its comment removed; a line that
//! matches fails the test with its file and line number, unless [`EXEMPT`]
//! lists it with the reason. A file's `#[cfg(test)]` module is not scanned.

use regex::Regex;
use std::path::{Path, PathBuf};

/// A pattern that shows a back end knows the object model or Smalltalk.
struct Rule {
    what: &'static str,
    pattern: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        what: "a shift by a literal (the tag's or the word's shift belongs to Layout)",
        pattern: r"(<<|>>)\s*\d|\b(ishl|sshr|ushr)_imm\w*\([^,()]+,\s*\d+\s*\)",
    },
    Rule {
        what: "a literal mask or tag operand of a bit operation",
        pattern: r"\b(band|bor|bxor)_imm\w*\([^,()]+,\s*\d+\s*\)|;\s*(sar|sal|shl|shr|or|and|test|bt)\s+\w+\s*,\s*(BYTE\s+|DWORD\s+|QWORD\s+)?\d+\b",
    },
    Rule {
        what: "a hex constant (a mask such as the header's size mask)",
        pattern: r"\b0[xX][0-9a-fA-F_]{3,}",
    },
    Rule {
        what: "the word size as a literal factor",
        pattern: r"\*\s*8\b|\b8\s*\*",
    },
    Rule {
        what: "a literal displacement from a register (a header or slot offset)",
        pattern: r"\[\s*r\w+\s*[-+]\s*\d+\s*\]",
    },
    Rule {
        what: "a Cranelift load or store at a literal offset",
        pattern: r"\b(load|store|istore\d*|uload\d*|sload\d*)\([^;]*,\s*[1-9]\d*\s*\)",
    },
    Rule {
        what: "a selector named in a string",
        pattern: r#"b?"([A-Za-z][A-Za-z0-9]*:)+"|b?"[-+*/\\<>=~@%|&]{1,2}"|b"[^"]*"|b':'"#,
    },
    Rule {
        what: "a primitive number",
        pattern: r"(?i)\bprim\w*\s*(==|!=|=>|\(|:)\s*\d+|\bnumber:\s*\d+",
    },
];

/// Lines that match a rule and may: file, a text the line contains,
/// and why.
const EXEMPT: &[(&str, &str, &str)] = &[
    (
        "baseline.rs",
        "[r11 + rsi * 8 + ",
        "an x86 address scale (a VM stack slot): dynasm takes only a \
         literal scale; `baseline` asserts that a word is 8 bytes",
    ),
    (
        "baseline.rs",
        "[r11 + r10 * 8 + disp]",
        "an x86 address scale, chosen by the tag's scale from `Layout`",
    ),
    (
        "object_ops.rs",
        "[rax + rcx * 8 + slot]",
        "an x86 address scale (an indexed slot, the index untagged by the \
         tag's width from `Layout`): dynasm takes only a literal scale",
    ),
    (
        "object_ops.rs",
        "[Rq(base) + Rq(i) * 8 + disp]",
        "an x86 address scale in `store_ref` (an indexed slot): dynasm \
         takes only a literal scale",
    ),
    (
        "quick_ops.rs",
        "[r9 + rcx * 8 + first]",
        "an x86 address scale (a getter's instance variable): dynasm takes \
         only a literal scale",
    ),
    (
        "baseline.rs",
        "[rax + rcx * 8]",
        "the resume jump table's entries are 8 bytes (`.align 8`)",
    ),
    (
        "jit.rs",
        "(1, Some(b':')) => 2,",
        "which selectors may be quick (a keyword of one argument): moving \
         with the quick sends out of the back ends (issue 18, item 3)",
    ),
];

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![];
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `line` without a `//` comment (not one inside a string literal).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn exempt(file: &str, line: &str) -> bool {
    EXEMPT
        .iter()
        .any(|(f, text, _)| file.ends_with(f) && line.contains(text))
}

/// Every line of `path` some rule finds: `file:line: what: text`.
fn findings(path: &Path, rules: &[(Regex, &str)]) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path);
    let name = name.display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![];
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        if line.trim() == "#[cfg(test)]" && next.starts_with("mod ") {
            break;
        }
        let code = code_of(line);
        for (re, what) in rules {
            if re.is_match(code) && !exempt(&name, line) {
                out.push(format!("{name}:{}: {what}: {}", i + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn back_ends_write_no_layout_selector_or_primitive_literals() {
    let rules: Vec<(Regex, &str)> = RULES
        .iter()
        .map(|r| (Regex::new(r.pattern).unwrap(), r.what))
        .collect();
    let found: Vec<String> = sources().iter().flat_map(|p| findings(p, &rules)).collect();
    assert!(found.is_empty(), "\n{}", found.join("\n"));
}

/// Each rule finds what it is for (so a rule that matches nothing cannot
/// pass unnoticed).
#[test]
fn the_rules_find_literals() {
    let samples = [
        "let x = b.ins().ishl_imm_u(hp, 3);",
        "let t = b.ins().band_imm_u(v, 1);",
        "; test al, 1",
        "let m = 0xFFFF_FFFF;",
        "let frame = slots * 8;",
        "; mov r8, QWORD [rax + 8]",
        "let c = b.ins().load(I64, FLAGS, x, 8);",
        "if s == b\"at:\" {",
        "Inst::Primitive { number: 60, .. }",
    ];
    for sample in samples {
        let hit = RULES
            .iter()
            .any(|r| Regex::new(r.pattern).unwrap().is_match(code_of(sample)));
        assert!(hit, "no rule finds {sample:?}");
    }
    assert!(
        !Regex::new(RULES[0].pattern)
            .unwrap()
            .is_match(code_of("// x << 1"))
    );
}
