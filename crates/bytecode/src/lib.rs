//! The Little Smalltalk bytecode set (bytes → [`Insn`] → bytes → text).
//!
//! This crate owns the one definition of the LST instruction set that every
//! other part of lst uses: the interpreter, the compiler, the JIT front end,
//! the disassembler and the tests. It knows nothing about the heap: operands
//! are plain numbers (literal indices, temporary indices, byte offsets).
//!
//! # Encoding (LLST / Little Smalltalk v5)
//! One byte holds a 4-bit opcode (high nibble) and a 4-bit argument (low
//! nibble). Opcode 0 is the *extended* form: the low nibble is the opcode and
//! the next byte the argument (0–255). Some instructions carry extra bytes:
//! `pushBlock` and the three branches a 2-byte little-endian offset,
//! `doPrimitive` and `sendToSuper` one byte. Opcode 15 (`doSpecial`) selects
//! its operation by its argument.
//!
//! The table [`for_each_insn!`] is the single source: [`Op`], the
//! [`SPECS`] array, the decoder ([`decode_at`]), the encoder ([`encode`]) and
//! the disassembler ([`disasm`]) are all derived from it.

mod disasm;
pub mod inline_ops;
mod selector;

/// The selectors `sendBinary` sends, by its argument. LLST knows the first
/// [`LLST_BINARY_SPECIALS`] (`<`, `<=`, `+`); lst's own compiler also
/// uses the rest, so that common arithmetic and comparisons need no
/// literal and no method lookup when both operands are SmallInts. LLST's
/// images never contain the others.
pub const BINARY_SPECIALS: [&str; 11] =
    ["<", "<=", "+", "-", "*", ">", ">=", "=", "~=", "//", "\\\\"];

/// How many of [`BINARY_SPECIALS`] LLST's own bytecode uses.
pub const LLST_BINARY_SPECIALS: usize = 3;

/// The selectors `sendUnary` sends, by its argument.
pub const UNARY_SPECIALS: [&str; 2] = ["isNil", "notNil"];
pub use disasm::{disasm, disasm_insn};
pub use selector::selector_arity;

/// Lists every instruction once: `Variant = opcode/special, operand, extra, "mnemonic"`.
///
/// * opcode: the 4-bit opcode (1–15); for `doSpecial` (15) the second number
///   is the special selector, otherwise `_`.
/// * operand: how the 4/8-bit argument is printed (`index`, `count`, `const`,
///   `unary`, `binary`, `none`, `special`).
/// * extra: the bytes that follow (`none`, `u16`, `u8`).
#[macro_export]
macro_rules! for_each_insn {
    ($m:ident) => {
        $m! {
            PushInstance    = 1, _,  index,  none, "pushInstance";
            PushArgument    = 2, _,  index,  none, "pushArgument";
            PushTemporary   = 3, _,  index,  none, "pushTemporary";
            PushLiteral     = 4, _,  index,  none, "pushLiteral";
            PushConstant    = 5, _,  constant, none, "pushConstant";
            AssignInstance  = 6, _,  index,  none, "assignInstance";
            AssignTemporary = 7, _,  index,  none, "assignTemporary";
            MarkArguments   = 8, _,  count,  none, "markArguments";
            SendMessage     = 9, _,  index,  none, "sendMessage";
            SendUnary       = 10, _, unary,  none, "sendUnary";
            SendBinary      = 11, _, binary, none, "sendBinary";
            PushBlock       = 12, _, index,  u16,  "pushBlock";
            DoPrimitive     = 13, _, count,  u8,   "doPrimitive";
            SelfReturn      = 15, 1, none,   none, "selfReturn";
            StackReturn     = 15, 2, none,   none, "stackReturn";
            BlockReturn     = 15, 3, none,   none, "blockReturn";
            Duplicate       = 15, 4, none,   none, "duplicate";
            PopTop          = 15, 5, none,   none, "popTop";
            Branch          = 15, 6, none,   u16,  "branch";
            BranchIfTrue    = 15, 7, none,   u16,  "branchIfTrue";
            BranchIfFalse   = 15, 8, none,   u16,  "branchIfFalse";
            SendToSuper     = 15, 11, none,  u8,   "sendToSuper";
        }
    };
}

/// How an instruction's argument is interpreted (for printing and checking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// No argument (doSpecial forms).
    None,
    /// An index (instance variable, argument, temporary, literal, argument location).
    Index,
    /// A count (arguments of markArguments / doPrimitive).
    Count,
    /// pushConstant's argument: 0–9 small integers, 10 nil, 11 true, 12 false.
    Constant,
    /// sendUnary's argument: 0 isNil, 1 notNil.
    Unary,
    /// sendBinary's argument: an index into [`BINARY_SPECIALS`].
    Binary,
}

/// The bytes that follow an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Nothing follows.
    None,
    /// One byte (primitive number, selector literal index).
    U8,
    /// Two bytes, little-endian (a bytecode offset).
    U16,
}

macro_rules! special_of {
    (_) => {
        None
    };
    ($s:literal) => {
        Some($s)
    };
}
macro_rules! operand_of {
    (none) => {
        Operand::None
    };
    (index) => {
        Operand::Index
    };
    (count) => {
        Operand::Count
    };
    (constant) => {
        Operand::Constant
    };
    (unary) => {
        Operand::Unary
    };
    (binary) => {
        Operand::Binary
    };
}
macro_rules! extra_of {
    (none) => {
        Extra::None
    };
    (u8) => {
        Extra::U8
    };
    (u16) => {
        Extra::U16
    };
}

/// The static description of one instruction kind.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub op: Op,
    pub opcode: u8,
    pub special: Option<u8>,
    pub operand: Operand,
    pub extra: Extra,
    pub mnemonic: &'static str,
}

macro_rules! define_ops {
    ($($name:ident = $opc:literal, $sp:tt, $operand:ident, $extra:ident, $mn:literal;)*) => {
        /// One instruction kind of the LST bytecode set.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Op { $($name,)* }

        /// Every instruction kind, indexed by `Op as usize`.
        pub const SPECS: &[Spec] = &[
            $(Spec {
                op: Op::$name,
                opcode: $opc,
                special: special_of!($sp),
                operand: operand_of!($operand),
                extra: extra_of!($extra),
                mnemonic: $mn,
            },)*
        ];
    };
}
for_each_insn!(define_ops);

impl Op {
    /// This instruction kind's table entry.
    pub fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }
    /// The mnemonic used by the disassembler.
    pub fn mnemonic(self) -> &'static str {
        self.spec().mnemonic
    }
}

/// Opcode and special numbers used outside the table (by the interpreter's
/// send fusion and LLST's return peephole).
pub mod opcode {
    pub const EXTENDED: u8 = 0;
    pub const SEND_MESSAGE: u8 = 9;
    pub const DO_SPECIAL: u8 = 15;
}

const fn build_opcode_index() -> [u8; 16] {
    // Maps opcode 1..=13 to its Op; 0xFF for none / doSpecial.
    let mut t = [0xFFu8; 16];
    let mut i = 0;
    while i < SPECS.len() {
        if SPECS[i].special.is_none() {
            t[SPECS[i].opcode as usize] = i as u8;
        }
        i += 1;
    }
    t
}
const fn build_special_index() -> [u8; 16] {
    let mut t = [0xFFu8; 16];
    let mut i = 0;
    while i < SPECS.len() {
        if let Some(s) = SPECS[i].special {
            t[s as usize] = i as u8;
        }
        i += 1;
    }
    t
}
static OPCODE_INDEX: [u8; 16] = build_opcode_index();
static SPECIAL_INDEX: [u8; 16] = build_special_index();

/// What a first byte says on its own, for the decoder's fast path.
#[derive(Clone, Copy)]
enum Form {
    /// A compact instruction (opcode and argument in the byte) followed by
    /// the extra bytes its spec names.
    Compact(Op, u8, Extra),
    /// The extended form of an opcode other than doSpecial: the argument
    /// is the next byte, then the extra bytes.
    Extended(Op, Extra),
    /// Extended doSpecial or invalid: the general decoder handles it.
    Other,
}

/// The [`Form`] of every possible first byte, derived from [`SPECS`].
const fn build_forms() -> [Form; 256] {
    let mut t = [Form::Other; 256];
    let mut b = 0;
    while b < 256 {
        let (opcode, arg) = (b >> 4, b & 15);
        let index = if opcode == opcode::EXTENDED as usize {
            if arg != opcode::DO_SPECIAL as usize && OPCODE_INDEX[arg] != 0xFF {
                let spec = &SPECS[OPCODE_INDEX[arg] as usize];
                t[b] = Form::Extended(spec.op, spec.extra);
            }
            0xFF
        } else if opcode == opcode::DO_SPECIAL as usize {
            SPECIAL_INDEX[arg]
        } else {
            OPCODE_INDEX[opcode]
        };
        if index != 0xFF {
            let spec = &SPECS[index as usize];
            t[b] = Form::Compact(spec.op, arg as u8, spec.extra);
        }
        b += 1;
    }
    t
}
static FORMS: [Form; 256] = build_forms();

impl Op {
    /// How many operand-stack values the instruction pops and pushes, given
    /// its argument. `markArguments n` pops n values and pushes the argument
    /// Array; `doPrimitive n` pops its n arguments and, when it fails,
    /// pushes nil; `pushBlock` pushes the Block.
    pub fn stack_effect(self, arg: u8) -> (usize, usize) {
        let n = arg as usize;
        match self {
            Op::PushInstance
            | Op::PushArgument
            | Op::PushTemporary
            | Op::PushLiteral
            | Op::PushConstant
            | Op::PushBlock
            | Op::Duplicate => (0, 1),
            Op::AssignInstance | Op::AssignTemporary => (1, 1),
            Op::MarkArguments | Op::DoPrimitive => (n, 1),
            Op::SendMessage | Op::SendToSuper | Op::SendUnary => (1, 1),
            Op::SendBinary => (2, 1),
            Op::SelfReturn | Op::Branch => (0, 0),
            Op::StackReturn
            | Op::BlockReturn
            | Op::PopTop
            | Op::BranchIfTrue
            | Op::BranchIfFalse => (1, 0),
        }
    }
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub op: Op,
    /// The 4- or 8-bit argument (the special selector for doSpecial forms).
    pub arg: u8,
    /// The extra operand (offset, primitive number or literal index), or 0.
    pub extra: u16,
    /// Encoded length in bytes.
    pub len: u8,
}

/// Why bytes do not decode to an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The instruction runs past the end of the method's bytecodes.
    Truncated { at: usize },
    /// Opcode 14 (or an extended prefix naming opcode 0 or 14).
    InvalidOpcode { at: usize, opcode: u8 },
    /// A doSpecial selector LLST does not define (0, 9, 10, 12–15).
    UnknownSpecial { at: usize, special: u8 },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { at } => write!(f, "instruction at {at} runs past the end"),
            DecodeError::InvalidOpcode { at, opcode } => {
                write!(f, "invalid opcode {opcode} at {at}")
            }
            DecodeError::UnknownSpecial { at, special } => {
                write!(f, "unknown doSpecial {special} at {at}")
            }
        }
    }
}
impl std::error::Error for DecodeError {}

/// Decodes the instruction starting at `pc`.
#[inline(always)]
pub fn decode_at(code: &[u8], pc: usize) -> Result<Insn, DecodeError> {
    let Some(&b) = code.get(pc) else {
        return Err(DecodeError::Truncated { at: pc });
    };
    match FORMS[b as usize] {
        Form::Compact(op, arg, Extra::None) => Ok(Insn {
            op,
            arg,
            extra: 0,
            len: 1,
        }),
        Form::Compact(op, arg, Extra::U8) => match code.get(pc + 1) {
            Some(&e) => Ok(Insn {
                op,
                arg,
                extra: e as u16,
                len: 2,
            }),
            None => Err(DecodeError::Truncated { at: pc }),
        },
        Form::Compact(op, arg, Extra::U16) => match code.get(pc + 1..pc + 3) {
            Some(&[lo, hi]) => Ok(Insn {
                op,
                arg,
                extra: u16::from_le_bytes([lo, hi]),
                len: 3,
            }),
            _ => Err(DecodeError::Truncated { at: pc }),
        },
        Form::Extended(op, extra) => {
            let n = match extra {
                Extra::None => 0,
                Extra::U8 => 1,
                Extra::U16 => 2,
            };
            match code.get(pc + 1..pc + 2 + n) {
                Some(bytes) => Ok(Insn {
                    op,
                    arg: bytes[0],
                    extra: match n {
                        0 => 0,
                        1 => bytes[1] as u16,
                        _ => u16::from_le_bytes([bytes[1], bytes[2]]),
                    },
                    len: 2 + n as u8,
                }),
                None => Err(DecodeError::Truncated { at: pc }),
            }
        }
        Form::Other => decode_general(code, pc, b),
    }
}

#[inline(never)]
fn decode_general(code: &[u8], pc: usize, b: u8) -> Result<Insn, DecodeError> {
    let (mut opcode, mut arg, mut len) = (b >> 4, b & 0x0F, 1usize);
    if opcode == opcode::EXTENDED {
        opcode = arg;
        arg = *code.get(pc + 1).ok_or(DecodeError::Truncated { at: pc })?;
        len = 2;
    }
    let index = if opcode == opcode::DO_SPECIAL {
        SPECIAL_INDEX[arg as usize & 15]
    } else {
        OPCODE_INDEX[opcode as usize]
    };
    if index == 0xFF {
        return Err(if opcode == opcode::DO_SPECIAL {
            DecodeError::UnknownSpecial {
                at: pc,
                special: arg,
            }
        } else {
            DecodeError::InvalidOpcode { at: pc, opcode }
        });
    }
    let spec = &SPECS[index as usize];
    if opcode == opcode::DO_SPECIAL && arg > 15 {
        return Err(DecodeError::UnknownSpecial {
            at: pc,
            special: arg,
        });
    }
    let extra = match spec.extra {
        Extra::None => 0,
        Extra::U8 => {
            let e = *code
                .get(pc + len)
                .ok_or(DecodeError::Truncated { at: pc })?;
            len += 1;
            e as u16
        }
        Extra::U16 => {
            let lo = *code
                .get(pc + len)
                .ok_or(DecodeError::Truncated { at: pc })?;
            let hi = *code
                .get(pc + len + 1)
                .ok_or(DecodeError::Truncated { at: pc })?;
            len += 2;
            u16::from_le_bytes([lo, hi])
        }
    };
    Ok(Insn {
        op: spec.op,
        arg,
        extra,
        len: len as u8,
    })
}

/// Iterates over a method's instructions with their offsets.
pub fn decode_all(code: &[u8]) -> impl Iterator<Item = Result<(usize, Insn), DecodeError>> + '_ {
    let mut pc = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pc >= code.len() {
            return None;
        }
        match decode_at(code, pc) {
            Ok(insn) => {
                let at = pc;
                pc += insn.len as usize;
                Some(Ok((at, insn)))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// Appends the encoding of `op` with argument `arg` and extra operand `extra`.
///
/// Arguments below 16 use the compact one-byte form, larger ones the
/// extended form; doSpecial forms always use the compact form. The `arg` of a
/// doSpecial form is ignored (the table gives it).
pub fn encode(out: &mut Vec<u8>, op: Op, arg: u8, extra: u16) {
    let spec = op.spec();
    let arg = spec.special.unwrap_or(arg);
    if arg < 16 {
        out.push(spec.opcode << 4 | arg);
    } else {
        out.push(spec.opcode);
        out.push(arg);
    }
    match spec.extra {
        Extra::None => {}
        Extra::U8 => out.push(extra as u8),
        Extra::U16 => out.extend_from_slice(&extra.to_le_bytes()),
    }
}

/// Encodes one decoded instruction, keeping its original form (compact or extended).
pub fn encode_insn(out: &mut Vec<u8>, insn: &Insn) {
    let spec = insn.op.spec();
    let has_extra = match spec.extra {
        Extra::None => 0,
        Extra::U8 => 1,
        Extra::U16 => 2,
    };
    if insn.len as usize == 2 + has_extra {
        out.push(spec.opcode);
        out.push(insn.arg);
        match spec.extra {
            Extra::None => {}
            Extra::U8 => out.push(insn.extra as u8),
            Extra::U16 => out.extend_from_slice(&insn.extra.to_le_bytes()),
        }
    } else {
        encode(out, insn.op, insn.arg, insn.extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_op() {
        for (i, s) in SPECS.iter().enumerate() {
            assert_eq!(s.op as usize, i, "{}", s.mnemonic);
        }
    }

    #[test]
    fn boot_method_decodes() {
        // LLST's initial method: push nil, markArguments 1, sendMessage 0, popTop, selfReturn.
        let code = [0x5A, 0x81, 0x90, 0xF5, 0xF1];
        let ops: Vec<Op> = decode_all(&code).map(|r| r.unwrap().1.op).collect();
        assert_eq!(
            ops,
            [
                Op::PushConstant,
                Op::MarkArguments,
                Op::SendMessage,
                Op::PopTop,
                Op::SelfReturn
            ]
        );
    }

    #[test]
    fn round_trip_every_form() {
        for spec in SPECS {
            for arg in [0u8, 3, 15, 16, 200] {
                if spec.special.is_some() && arg != 0 {
                    continue;
                }
                let mut out = Vec::new();
                encode(&mut out, spec.op, arg, 0x1234);
                let insn = decode_at(&out, 0).unwrap();
                assert_eq!(insn.op, spec.op);
                assert_eq!(insn.len as usize, out.len());
                let mut again = Vec::new();
                encode_insn(&mut again, &insn);
                assert_eq!(again, out);
            }
        }
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert_eq!(
            decode_at(&[0xE0], 0),
            Err(DecodeError::InvalidOpcode { at: 0, opcode: 14 })
        );
        assert_eq!(
            decode_at(&[0xF0], 0),
            Err(DecodeError::UnknownSpecial { at: 0, special: 0 })
        );
        assert_eq!(
            decode_at(&[0xC1, 0x05], 0),
            Err(DecodeError::Truncated { at: 0 })
        );
        assert_eq!(decode_at(&[0x09], 0), Err(DecodeError::Truncated { at: 0 }));
        assert_eq!(decode_at(&[], 0), Err(DecodeError::Truncated { at: 0 }));
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// The table-driven fast path decodes every first byte, with a range
    /// of following bytes and every truncation, exactly as the general
    /// decoder does.
    #[test]
    fn fast_path_agrees_with_the_general_decoder() {
        for b0 in 0..=255u8 {
            for b1 in [0u8, 1, 0x0A, 0x7F, 0xFF] {
                for b2 in [0u8, 3, 0xFF] {
                    let code = [b0, b1, b2, 0x42];
                    for len in 1..=4 {
                        assert_eq!(
                            decode_at(&code[..len], 0),
                            decode_general(&code[..len], 0, b0),
                            "bytes {:02X?}",
                            &code[..len]
                        );
                    }
                }
            }
        }
    }
}
