//! Disassembler (bytecode → text), derived from the instruction table.
//!
//! Produces text rather than printing, so that the CLI, the JIT dumps and
//! golden tests share it. Literal operands are described by a caller-supplied
//! closure, because only the caller can read the heap.

use crate::{DecodeError, Insn, Op, Operand, decode_all};
use std::fmt::Write;

/// Renders one instruction's operands (without offset and bytes).
pub fn disasm_insn(insn: &Insn, literal: &dyn Fn(usize) -> Option<String>) -> String {
    let spec = insn.op.spec();
    let mut s = spec.mnemonic.to_string();
    match spec.operand {
        Operand::None => {}
        Operand::Index | Operand::Count => {
            let _ = write!(s, " {}", insn.arg);
        }
        Operand::Constant => {
            let _ = match insn.arg {
                0..=9 => write!(s, " {}", insn.arg),
                10 => write!(s, " nil"),
                11 => write!(s, " true"),
                12 => write!(s, " false"),
                k => write!(s, " <invalid {k}>"),
            };
        }
        Operand::Unary => special(&mut s, &crate::UNARY_SPECIALS, insn.arg),
        Operand::Binary => special(&mut s, &crate::BINARY_SPECIALS, insn.arg),
    }
    match insn.op {
        Op::PushLiteral | Op::SendMessage => {
            if let Some(l) = literal(insn.arg as usize) {
                let _ = write!(s, "  ; {l}");
            }
        }
        Op::SendToSuper => {
            let _ = write!(s, " {}", insn.extra);
            if let Some(l) = literal(insn.extra as usize) {
                let _ = write!(s, "  ; {l}");
            }
        }
        Op::PushBlock => {
            let _ = write!(s, " end {}", insn.extra);
        }
        Op::DoPrimitive => {
            let _ = write!(s, " prim {}", insn.extra);
        }
        Op::Branch | Op::BranchIfTrue | Op::BranchIfFalse => {
            let _ = write!(s, " {}", insn.extra);
        }
        _ => {}
    }
    s
}

/// Disassembles a whole method: one line per instruction,
/// `offset  bytes  mnemonic operands`. A decoding error ends the listing with
/// a line naming it.
pub fn disasm(code: &[u8], literal: &dyn Fn(usize) -> Option<String>) -> String {
    let mut out = String::new();
    for item in decode_all(code) {
        match item {
            Ok((at, insn)) => {
                let bytes: Vec<String> = code[at..at + insn.len as usize]
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "{at:04}  {:<9} {}",
                    bytes.join(" "),
                    disasm_insn(&insn, literal)
                );
            }
            Err(e) => {
                let at = match e {
                    DecodeError::Truncated { at }
                    | DecodeError::InvalidOpcode { at, .. }
                    | DecodeError::UnknownSpecial { at, .. } => at,
                };
                let _ = writeln!(out, "{at:04}  <error: {e}>");
            }
        }
    }
    out
}

/// ` selector` from `table`, or ` <invalid k>`.
fn special(s: &mut String, table: &[&str], k: u8) {
    let _ = match table.get(usize::from(k)) {
        Some(selector) => write!(s, " {selector}"),
        None => write!(s, " <invalid {k}>"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_boot_method() {
        let code = [0x5A, 0x81, 0x90, 0xF5, 0xF1];
        let text = disasm(&code, &|i| (i == 0).then(|| "#main".to_string()));
        assert_eq!(
            text,
            "0000  5A        pushConstant nil\n\
             0001  81        markArguments 1\n\
             0002  90        sendMessage 0  ; #main\n\
             0003  F5        popTop\n\
             0004  F1        selfReturn\n"
        );
    }

    #[test]
    fn special_sends_name_their_selectors() {
        let text = disasm(&[0xB0, 0xB3, 0xBA, 0xBF, 0xA1], &|_| None);
        assert_eq!(
            text,
            "0000  B0        sendBinary <\n\
             0001  B3        sendBinary -\n\
             0002  BA        sendBinary \\\\\n\
             0003  BF        sendBinary <invalid 15>\n\
             0004  A1        sendUnary notNil\n"
        );
    }

    #[test]
    fn reports_errors_inline() {
        let text = disasm(&[0x21, 0xE0], &|_| None);
        assert!(
            text.contains("0001  <error: invalid opcode 14 at 1>"),
            "{text}"
        );
    }
}
