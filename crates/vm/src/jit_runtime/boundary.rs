//! What compiled code and the VM agree on: the shapes and numbers both
//! sides are built against.
//!
//! This module owns the resume points ([`Record`], [`Entry`], [`Resume`],
//! [`NATIVE_PC_BASE`]), the registers compiled code reads and writes in
//! the Vm ([`NativeRegs`]) and why it left ([`NativeExit`]), the answers
//! and argument codes of the runtime helpers (`GO_*`, [`TRY_STUB`],
//! [`AT_START`], `TRAP_*`, the send-site selector codes), the offsets
//! code is compiled against ([`Layout`], derived from the Rust
//! definitions) and the interface of a compiler ([`Compiler`],
//! [`Compiled`], [`Prepared`]).
//!
//! It must not decide anything (when to compile: `tiering`; what a helper
//! does: `helpers`) and must not generate code.

use super::block_cache::BlockLayout;
use super::inline_cache::{SendSite, SiteLayout};
use super::tiering::Level;
use crate::interp::frame::{
    H_CALLER, H_CODE, H_CONTEXT, H_FP, H_LITERALS, H_METHOD, H_RETPC, H_SERIAL, H_TB, H_TEMPS,
    HEADER,
};
use crate::interp::{ExitStatus, Trap};
use crate::value::Value;
use crate::vm::Vm;

/// Program counters at or above this are native continuations.
pub const NATIVE_PC_BASE: usize = 1 << 40;

/// Helper answer: leave native code (see [`NativeExit`]).
pub const GO_INTERPRET: u64 = 0;
/// Helper answer: go on after the call.
pub const GO_ON: u64 = 1;
/// What [`lst_send_direct`](super::helpers::lst_send_direct) answers
/// when the receiver's class is in one of the site's method ways: the
/// send stub does the send.
pub const TRY_STUB: u64 = 2;

/// [`lst_tier_up`](super::helpers::lst_tier_up)'s `pc` when baseline code
/// calls it at its start.
pub const AT_START: u64 = u64::MAX;

/// What [`lst_trap`](super::helpers::lst_trap) reports.
pub const TRAP_IVAR: u64 = 0;
pub const TRAP_TEMP: u64 = 1;

/// Selector codes of send sites: a literal index, or a special selector.
pub const SPECIAL_SELECTOR: u64 = 1 << 16;
/// Flag of a send site's selector code: a send to super.
pub const TO_SUPER: u64 = 1 << 17;

/// A place where compiled code can be entered. Compiled code reads
/// records (`repr(C)`) through [`NativeRegs::records_by_word`] to return
/// into a compiled caller without the runtime.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Record {
    /// The compiled function's address.
    pub code: usize,
    /// Which entry of the function (see [`Entry`]).
    pub k: u32,
    /// The bytecode offset this entry corresponds to.
    pub pc: u32,
    /// What the entry expects (a [`Resume`] as a number).
    pub resume: u32,
    /// The operand-stack depth the frame has there ([`Resume::LoopHead`]).
    pub depth: u32,
}

/// How an entry of compiled code is entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Resume {
    /// The method's start, on a frame just pushed (the value is nil).
    Start = 0,
    /// After a send: the value is the send's answer (the interpreter pops
    /// it from the operand stack to enter).
    AfterSend = 1,
    /// A loop head, from the interpreter's backward branch to `pc` (on-stack
    /// replacement): the code reads the operand stack from the frame.
    LoopHead = 2,
}

/// One entry of a compiled function: entry k of [`Compiled::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub pc: u32,
    pub resume: Resume,
    /// The operand-stack depth at `pc` (for [`Resume::LoopHead`]).
    pub depth: u32,
}

/// What a compiler produced for one method.
pub struct Compiled {
    pub code: usize,
    /// The entries by k (entry 0 is the start). The code uses record
    /// numbers `first_record + k` for them.
    pub entries: Vec<Entry>,
    /// The inline caches of its sends; the code embeds their addresses.
    pub sites: Box<[SendSite]>,
    /// The tiering counter baseline code decrements at its start and at
    /// each loop iteration (it embeds the address), at
    /// [`COUNTER_OFF`](super::tiering::COUNTER_OFF) until the runtime arms
    /// it; `None` for optimized code.
    pub counter: Option<Box<std::cell::Cell<i64>>>,
    /// How many unboxed Float regions the code has (for `--jit-stats`).
    pub unboxed_regions: u32,
    /// What inlining made of the unit: its constants and counts (`None`
    /// when it did not run).
    pub inlining: Option<super::unit_constants::Inlining>,
}

/// An optimized compile whose code generation runs on the compile worker
/// (see [`Compiler::prepare`]): everything of [`Compiled`] but the code,
/// and the job that makes the code.
pub struct Prepared {
    /// The entries by k, numbered from the `first_record` of `prepare`.
    pub entries: Vec<Entry>,
    /// The inline caches of its sends; the code embeds their addresses.
    pub sites: Box<[SendSite]>,
    pub unboxed_regions: u32,
    /// What inlining made of the unit: the code embeds the addresses of
    /// its constants and validity word.
    pub inlining: Option<super::unit_constants::Inlining>,
    /// The code generation, for the worker: touches nothing of the VM.
    pub codegen: super::background::Codegen,
}

/// A JIT compiler (implemented by `lst-backends`).
pub trait Compiler {
    /// Compiles `method` (`start` 0), or the block body at bytecode offset
    /// `start` in it, at `level`; its entries are numbered from
    /// `first_record`. `Err` says why it stays as it is.
    fn compile(
        &mut self,
        vm: &Vm,
        method: Value,
        start: u16,
        first_record: u32,
        level: Level,
    ) -> Result<Compiled, String>;
    /// Does on the main thread the part of an optimized compile of
    /// `(method, start)` that reads the heap or the VM, like
    /// [`Self::compile`]; the code generation is left to the worker.
    /// `None`: this compiler compiles only in one piece.
    fn prepare(
        &mut self,
        _vm: &Vm,
        _method: Value,
        _start: u16,
        _first_record: u32,
    ) -> Option<Result<Prepared, String>> {
        None
    }
    /// Puts the machine code a prepared job generated into code memory;
    /// its address.
    fn install(&mut self, _code: super::background::Generated) -> Result<usize, String> {
        Err("this compiler does not install generated code".into())
    }
    /// The trampoline: `fn(vm, code, hp, value, k) -> u64`, entering
    /// compiled code from Rust.
    fn trampoline(&self) -> unsafe extern "C" fn(*mut Vm, usize, u64, u64, u64) -> u64;
}

/// Registers compiled code reads and writes at fixed offsets of the Vm.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeRegs {
    /// The frame to tail-call with, after a helper answered an address.
    pub hp: u64,
    /// The value a helper answered (a call's result, a new block).
    pub value: Value,
    /// The entry to tail-call.
    pub k: u64,
    /// nil, true, false and the class SmallInt (refreshed when objects move).
    pub nil: Value,
    pub true_: Value,
    pub false_: Value,
    pub smallint_class: Value,
    /// The class Context: a frame whose CONTEXT slot holds one must tell
    /// it when the frame dies (any other CONTEXT, nil or a block, need not).
    pub context_class: Value,
    /// The class Block, and the address of the tier's block table
    /// (`block_cache`).
    pub block_class: Value,
    pub blocks: u64,
    /// Which inline operations are valid (see `inline_ops`): 1 or 0 per
    /// operation of `lst_bytecode::inline_ops::INLINE_OPS`, a word each,
    /// so that compiled code tests one with the operands' tags in a
    /// single `and`.
    pub inline_ops: [u64; super::inline_ops::WORDS],
    /// The class Float (nil if none).
    pub float_class: Value,
    /// The address of `Tier::records[0]`, biased so that the record a
    /// tagged native continuation word `w` (a frame's RETPC) names is at
    /// `records_by_word + w × size_of::<Record>() / 2`: compiled code
    /// needs no untagging (refreshed after each compile).
    pub records_by_word: u64,
    /// The answer of a shared function compiled code calls without
    /// clobbering registers (the JIT's Float functions), which cannot
    /// return a value. Read at once after the call; never a root.
    pub answer: u64,
}

/// Why compiled code returned to the interpreter.
#[derive(Debug, Default)]
pub enum NativeExit {
    /// Go on interpreting the current frame at `Vm::pc`.
    #[default]
    Interpret,
    Trap(Trap),
    Exit(ExitStatus),
}

/// Offsets and constants compiled code is built against.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub stack_base: i32,
    pub stack_len: i32,
    pub countdown: i32,
    pub regs_hp: i32,
    pub regs_value: i32,
    pub regs_k: i32,
    pub regs_records_by_word: i32,
    pub nil: i32,
    pub true_: i32,
    pub false_: i32,
    pub smallint_class: i32,
    pub context_class: i32,
    pub block_class: i32,
    pub blocks: i32,
    pub inline_ops: i32,
    pub float_class: i32,
    pub regs_answer: i32,
    pub stack_limit: i32,
    /// The heap's allocation state (see [`crate::heap::AllocLayout`]),
    /// as offsets from the Vm, and the GC stress flag (a `bool`).
    pub alloc: crate::heap::AllocLayout,
    pub gc_stress: i32,
    /// A Record's size and the offsets of its fields.
    pub record_size: i64,
    pub record_code: i32,
    pub record_k: i32,
    /// Frame header slots.
    pub h_method: usize,
    pub h_serial: usize,
    pub h_code: usize,
    pub h_fp: usize,
    pub h_caller: usize,
    pub h_retpc: usize,
    pub h_context: usize,
    pub h_tb: usize,
    pub h_temps: usize,
    pub h_literals: usize,
    pub header: usize,
    /// Bytes from an object's address to its first slot, to its header
    /// word and to its class (`crate::heap`'s object layout).
    pub first_slot: i32,
    pub header_word: i32,
    pub class_word: i32,
    /// The SmallInt tag (`crate::value`): how many low bits of a word it
    /// takes (a SmallInt's value is the word shifted right arithmetically
    /// by as many), their mask, and a SmallInt's tag bits (a reference's
    /// are 0).
    pub tag_bits: i64,
    pub tag_mask: i64,
    pub smallint_tag: i64,
    /// The offsets of send-site fields.
    pub site: SiteLayout,
    /// The offsets of block-table fields and Block slots.
    pub block: BlockLayout,
    /// Mask of an object header's size field, and its bytes flag.
    pub size_mask: u64,
    pub bytes_flag: u64,
    /// A boxed Float's header without its hash: a byte object the size
    /// of a double.
    pub float_header: u64,
    /// The fewest pointer slots an object must have to serve as a class
    /// (primitive 7 answers instances only of such objects).
    pub class_min_slots: u64,
    pub native_pc_base: u64,
}

impl Vm {
    /// The offsets of the fields compiled code touches.
    pub fn native_layout() -> Layout {
        use std::mem::offset_of;
        let regs = offset_of!(Vm, native_regs);
        let off = |n: usize| i32::try_from(n).expect("Vm field offsets are small");
        Layout {
            stack_base: off(offset_of!(Vm, stack) + crate::interp::stack::Stack::BASE_OFFSET),
            stack_len: off(offset_of!(Vm, stack) + crate::interp::stack::Stack::LEN_OFFSET),
            countdown: off(offset_of!(Vm, countdown)),
            regs_hp: off(regs + offset_of!(NativeRegs, hp)),
            regs_value: off(regs + offset_of!(NativeRegs, value)),
            regs_k: off(regs + offset_of!(NativeRegs, k)),
            regs_records_by_word: off(regs + offset_of!(NativeRegs, records_by_word)),
            nil: off(regs + offset_of!(NativeRegs, nil)),
            true_: off(regs + offset_of!(NativeRegs, true_)),
            false_: off(regs + offset_of!(NativeRegs, false_)),
            smallint_class: off(regs + offset_of!(NativeRegs, smallint_class)),
            context_class: off(regs + offset_of!(NativeRegs, context_class)),
            block_class: off(regs + offset_of!(NativeRegs, block_class)),
            blocks: off(regs + offset_of!(NativeRegs, blocks)),
            inline_ops: off(regs + offset_of!(NativeRegs, inline_ops)),
            float_class: off(regs + offset_of!(NativeRegs, float_class)),
            regs_answer: off(regs + offset_of!(NativeRegs, answer)),
            stack_limit: off(offset_of!(Vm, stack_limit)),
            alloc: {
                let heap = offset_of!(Vm, heap);
                let a = crate::heap::Heap::alloc_layout();
                crate::heap::AllocLayout {
                    base: heap + a.base,
                    top: heap + a.top,
                    words: heap + a.words,
                    next_hash: heap + a.next_hash,
                    allocated_words: heap + a.allocated_words,
                    ..a
                }
            },
            gc_stress: off(offset_of!(Vm, options) + offset_of!(crate::vm::Options, gc_stress)),
            record_size: std::mem::size_of::<Record>() as i64,
            record_code: off(offset_of!(Record, code)),
            record_k: off(offset_of!(Record, k)),
            h_method: H_METHOD,
            h_serial: H_SERIAL,
            h_code: H_CODE,
            h_fp: H_FP,
            h_caller: H_CALLER,
            h_retpc: H_RETPC,
            h_context: H_CONTEXT,
            h_tb: H_TB,
            h_temps: H_TEMPS,
            h_literals: H_LITERALS,
            header: HEADER,
            first_slot: off(crate::heap::HEADER_WORDS * crate::heap::WORD_BYTES),
            header_word: off(crate::heap::HEADER_WORD * crate::heap::WORD_BYTES),
            class_word: off(crate::heap::CLASS_WORD * crate::heap::WORD_BYTES),
            tag_bits: i64::from(crate::value::TAG_BITS),
            tag_mask: crate::value::TAG_MASK as i64,
            smallint_tag: crate::value::SMALLINT_TAG as i64,
            site: SiteLayout::new(),
            block: BlockLayout::new(),
            size_mask: crate::heap::SIZE_MASK,
            bytes_flag: crate::heap::BYTES,
            float_header: crate::heap::BYTES | std::mem::size_of::<f64>() as u64,
            class_min_slots: crate::layout::class::MIN_SLOTS as u64,
            native_pc_base: NATIVE_PC_BASE as u64,
        }
    }
}

/// See [`NativeRegs::records_by_word`]: record `i` is named by the word
/// `w = 2(NATIVE_PC_BASE + i) + 1`, so it lies at `records + (w − 1)/2 ×
/// size − NATIVE_PC_BASE × size`, which is `records − size/2 −
/// NATIVE_PC_BASE × size + w × size/2` (wrapping: only the sum is an
/// address).
pub(super) fn records_by_word(records: &[Record]) -> u64 {
    const SIZE: u64 = std::mem::size_of::<Record>() as u64;
    const _: () = assert!(SIZE.is_multiple_of(2));
    (records.as_ptr() as u64)
        .wrapping_sub(SIZE / 2)
        .wrapping_sub((NATIVE_PC_BASE as u64).wrapping_mul(SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_continuation_word_finds_its_record() {
        let record = Record {
            code: 0,
            k: 0,
            pc: 0,
            resume: 0,
            depth: 0,
        };
        let records = vec![record; 5];
        let half = (std::mem::size_of::<Record>() / 2) as u64;
        for i in 0..records.len() {
            let word = Value::small((NATIVE_PC_BASE + i) as i64).raw();
            let at = records_by_word(&records).wrapping_add(word.wrapping_mul(half));
            assert_eq!(at, &records[i] as *const Record as u64);
        }
    }
}
