//! The VM's side of the boundary with compiled code (the JIT lives in the
//! `lst-jit` crate, which implements [`Compiler`]).
//!
//! # One frame, two executors
//! Compiled methods run on the interpreter's frames (`frame.rs`). A frame's
//! resume point is a bytecode offset or a *native continuation*: an index
//! into [`Tier::records`] offset by [`NATIVE_PC_BASE`], stored wherever a
//! bytecode offset goes (`Vm::pc`, a callee's `RETPC`). Each [`Record`] holds
//! the code to call and the bytecode offset it stands for, so a frame
//! paused at a native continuation can always be read (or resumed) as an
//! interpreted one: by the collector (all slots are `Value`s), by
//! `spill_process`, by backtraces.
//!
//! # Control transfer
//! * The interpreter meets a native continuation as its pc (after a send
//!   pushed a compiled method, or a return into a compiled caller) and calls
//!   [`Vm::run_native`], which enters the code through the JIT's trampoline.
//! * Compiled code leaves through the runtime helpers below, which reuse the
//!   interpreter's own send, return, primitive and block code, so semantics
//!   are the interpreter's by construction. A helper answers
//!   [`GO_INTERPRET`] (leave native code: [`NativeExit`] says why),
//!   [`GO_ON`] (continue after the call, its value in [`NativeRegs::value`])
//!   or a code address to tail-call with ([`NativeRegs::hp`], `value`, `k`).
//!
//! Compiled code never holds a heap reference across a helper call: it
//! writes its operand stack into the frame before any call that may
//! collect and reads it back after.
//!
//! This module must not generate code; it knows records and helpers only.

use super::block_cache::{BlockLayout, BlockTable, new_table};
use super::frame::{H_CODE, H_FP, H_LITERALS, H_METHOD, H_SERIAL, H_TB, H_TEMPS, HEADER};
pub use super::inline_cache::{SendSite, SiteLayout, TRY_STUB, lst_send_direct, lst_send_site};
use super::{ExitStatus, Flow, Primitive, Trap};
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::time::Duration;

/// Program counters at or above this are native continuations.
pub const NATIVE_PC_BASE: usize = 1 << 40;

/// Helper answer: leave native code (see [`NativeExit`]).
pub const GO_INTERPRET: u64 = 0;
/// Helper answer: go on after the call.
pub const GO_ON: u64 = 1;

/// `parts.native` of a method that will not be compiled.
pub const NEVER: u32 = u32::MAX;

/// When methods are compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JitMode {
    /// Never: everything is interpreted.
    #[default]
    Off,
    /// After a method has been called `threshold` times.
    On,
    /// At a method's first call.
    Always,
}

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

/// How much a compiler works on a method: a baseline compile is fast and
/// its code slower; an optimized one the other way round. In tiered
/// compiling, baseline code counts its calls and loop iterations and has
/// the runtime recompile it optimized once that count runs out
/// ([`lst_tier_up`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Baseline,
    Optimized,
}

/// Compiling at which levels (see [`Level`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiering {
    /// The level of a method's first compile.
    pub first: Level,
    /// Calls and loop iterations of a baseline method before it is
    /// recompiled optimized (`None`: never).
    pub optimize_after: Option<u32>,
}

impl Tiering {
    /// What a baseline function's counter starts at (and starts again at
    /// after each recompile it asked for).
    fn counter_start(&self) -> i64 {
        self.optimize_after
            .map_or(COUNTER_OFF, |n| i64::from(n.max(1)))
    }
}

/// A tiering counter's value while it must not run out.
pub const COUNTER_OFF: i64 = i64::MAX;

/// What a compiler produced for one method.
pub struct Compiled {
    pub code: usize,
    /// The entries by k (entry 0 is the start). The code uses record
    /// numbers `first_record + k` for them.
    pub entries: Vec<Entry>,
    /// The inline caches of its sends; the code embeds their addresses.
    pub sites: Box<[SendSite]>,
    /// The tiering counter baseline code decrements at its start and at
    /// each loop iteration (it embeds the address), at [`COUNTER_OFF`]
    /// until the runtime arms it; `None` for optimized code.
    pub counter: Option<Box<std::cell::Cell<i64>>>,
}

/// What the tier compiles: a method (start 0) or the block body at a
/// bytecode offset in it, keyed by the method's address.
type Unit = (u64, u16);

/// Backward branches between two looks at whether the loop's method is hot
/// (on-stack replacement).
const LOOP_STRIDE: u32 = 64;

/// A JIT compiler (implemented by `lst-jit`).
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
    /// The trampoline: `fn(vm, code, hp, value, k) -> u64`, entering
    /// compiled code from Rust.
    fn trampoline(&self) -> unsafe extern "C" fn(*mut Vm, usize, u64, u64, u64) -> u64;
}

/// Counters for `--jit-stats`.
#[derive(Clone, Debug, Default)]
pub struct JitStats {
    pub compiled: u64,
    pub refused: u64,
    /// Each compile's level and time.
    pub compile_times: Vec<(Level, Duration)>,
    /// Baseline methods recompiled optimized.
    pub optimized_later: u64,
    /// Entries into compiled code from the interpreter.
    pub entries_from_interpreter: u64,
    /// Exits from compiled code into the interpreter.
    pub exits_to_interpreter: u64,
    /// Refusal reasons, first words, with counts.
    pub refusals: HashMap<String, u64>,
}

/// The compiled-code tier of a VM.
pub struct Tier {
    pub(crate) compiler: Box<dyn Compiler>,
    pub mode: JitMode,
    /// Calls before a method is compiled (mode `On`).
    pub threshold: u32,
    pub tiering: Tiering,
    pub(crate) records: Vec<Record>,
    /// Every method the tier has seen (compiled or refused): a GC root, so
    /// that [`Tier::index`] can be rebuilt after objects move.
    pub(crate) methods: Vec<Value>,
    /// The unit of each of `methods` that was compiled: 0 for the method,
    /// else the bytecode offset of a block body.
    starts: Vec<u16>,
    /// The entry record (or [`NEVER`]) of each of `methods`.
    method_records: Vec<u32>,
    /// Method address → its entry record, or [`NEVER`].
    index: FxHashMap<Unit, u32>,
    /// Calls of not yet compiled methods (mode `On`), by address; cleared
    /// when objects move. Loops count too ([`Vm::loop_edge`]).
    calls: FxHashMap<Unit, u32>,
    /// The inline caches of all compiled code (boxed: code holds their
    /// addresses).
    pub(crate) sites: Vec<Box<[SendSite]>>,
    /// The tiering counters of all baseline code (boxed: code holds their
    /// addresses).
    #[allow(clippy::vec_box)]
    counters: Vec<Box<std::cell::Cell<i64>>>,
    /// The level of each of `methods`' code.
    levels: Vec<Level>,
    /// Compiled block bodies, for compiled `value…` sends.
    pub(crate) blocks: Box<BlockTable>,
    /// Backward branches the interpreter took (sampled every
    /// [`LOOP_STRIDE`]).
    loop_edges: u32,
    pub stats: JitStats,
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
    /// Which inline SmallInt operations are valid (see `int_ops`): 1 or
    /// 0 per operation, a word each, so that compiled code tests one with
    /// the operands' tags in a single `and`.
    pub int_ops: [u64; super::int_ops::INT_OPS.len()],
    /// The class Float (nil if none) and which inline Float operations
    /// are valid (see `float_ops`).
    pub float_class: Value,
    pub float_ops: [u64; super::float_ops::FLOAT_OPS.len()],
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
    pub int_ops: i32,
    pub float_class: i32,
    pub float_ops: i32,
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
    pub native_pc_base: u64,
}

impl Vm {
    /// The offsets of the fields compiled code touches.
    pub fn native_layout() -> Layout {
        use std::mem::offset_of;
        let regs = offset_of!(Vm, native_regs);
        let off = |n: usize| i32::try_from(n).expect("Vm field offsets are small");
        Layout {
            stack_base: off(offset_of!(Vm, stack) + super::stack::Stack::BASE_OFFSET),
            stack_len: off(offset_of!(Vm, stack) + super::stack::Stack::LEN_OFFSET),
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
            int_ops: off(regs + offset_of!(NativeRegs, int_ops)),
            float_class: off(regs + offset_of!(NativeRegs, float_class)),
            float_ops: off(regs + offset_of!(NativeRegs, float_ops)),
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
            h_caller: super::frame::H_CALLER,
            h_retpc: super::frame::H_RETPC,
            h_context: super::frame::H_CONTEXT,
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
            native_pc_base: NATIVE_PC_BASE as u64,
        }
    }

    /// Installs a JIT that compiles at the levels `tiering` says.
    pub fn set_jit(
        &mut self,
        compiler: Box<dyn Compiler>,
        mode: JitMode,
        threshold: u32,
        tiering: Tiering,
    ) {
        self.jit = Some(Box::new(Tier {
            compiler,
            mode,
            threshold: threshold.max(1),
            tiering,
            // Record 0 is never used: `MethodParts::native == 0` means "not
            // compiled yet".
            records: vec![Record {
                code: 0,
                k: 0,
                pc: 0,
                resume: Resume::Start as u32,
                depth: 0,
            }],
            loop_edges: 0,
            sites: vec![],
            counters: vec![],
            levels: vec![],
            blocks: new_table(),
            methods: vec![],
            starts: vec![],
            method_records: vec![],
            index: FxHashMap::default(),
            calls: FxHashMap::default(),
            stats: JitStats::default(),
        }));
        self.native_regs.blocks = self.jit.as_ref().map_or(0, |t| t.blocks.as_ptr() as u64);
        self.cache.flush();
        self.refresh_inline_ops();
    }

    /// The JIT's counters, if there is a JIT.
    pub fn jit_stats(&self) -> Option<&JitStats> {
        self.jit.as_ref().map(|t| &t.stats)
    }

    /// Compiles `method` now if it is not yet (for tools); its entry record.
    pub fn jit_compile(&mut self, method: Value) -> Result<Record, String> {
        let r = match self
            .jit
            .as_ref()
            .and_then(|t| t.index.get(&(method.raw(), 0)))
        {
            Some(&r) => r,
            None => self.compile_now(method, 0),
        };
        match self.jit.as_ref() {
            None => Err("no JIT installed".into()),
            Some(_) if r == NEVER => Err("the JIT declined this method".into()),
            Some(t) => Ok(t.records[r as usize]),
        }
    }

    /// Refreshes what compiled code reads after objects moved.
    pub(crate) fn native_after_collection(&mut self) {
        self.native_regs.nil = self.nil();
        self.native_regs.true_ = self.root(Root::True);
        self.native_regs.false_ = self.root(Root::False);
        self.native_regs.smallint_class = self.root(Root::SmallIntClass);
        self.native_regs.context_class = self.root(Root::ContextClass);
        self.native_regs.block_class = self.root(Root::BlockClass);
        self.native_regs.float_class = self.root(Root::FloatClass);
        self.flush_send_sites();
        if let Some(t) = self.jit.as_mut() {
            t.calls.clear();
            t.index.clear();
            for ((m, &start), &r) in t.methods.iter().zip(&t.starts).zip(&t.method_records) {
                t.index.insert((m.raw(), start), r);
            }
        }
    }

    /// What `MethodParts::native` is for a method just looked up: its entry
    /// record, 0 (not compiled yet) or [`NEVER`].
    pub(crate) fn native_entry(&mut self, method: Value) -> u32 {
        let Some(tier) = self.jit.as_ref() else {
            return NEVER;
        };
        if let Some(r) = tier.index.get(&(method.raw(), 0)) {
            return *r;
        }
        match tier.mode {
            JitMode::Off => NEVER,
            JitMode::On => 0,
            JitMode::Always => self.compile_now(method, 0),
        }
    }

    /// The unit `(method, start)` ran once more (`weight` counts a loop's
    /// iterations): its entry record, once compiled (at the threshold in
    /// mode `On`, at once in mode `Always`); 0 while it is not yet hot;
    /// [`NEVER`] if it will not be compiled.
    fn count_run(&mut self, method: Value, start: u16, weight: u32) -> u32 {
        let Some(tier) = self.jit.as_mut() else {
            return NEVER;
        };
        let key = (method.raw(), start);
        if let Some(&r) = tier.index.get(&key) {
            return r;
        }
        match tier.mode {
            JitMode::Off => return NEVER,
            JitMode::Always => {}
            JitMode::On => {
                let n = tier.calls.entry(key).or_insert(0);
                *n = n.saturating_add(weight);
                if *n < tier.threshold {
                    return 0;
                }
                tier.calls.remove(&key);
            }
        }
        self.compile_now(method, start)
    }

    /// A block body starting at `body` in `method` was just activated in
    /// the current frame: it goes on in compiled code once that is hot.
    pub(crate) fn enter_block_body(&mut self, method: Value, body: usize) {
        let Ok(start) = u16::try_from(body) else {
            return;
        };
        let r = self.count_run(method, start, 1);
        if r != 0 && r != NEVER {
            self.pc = NATIVE_PC_BASE + r as usize;
        }
    }

    /// A send found `method` (for `selector` in `class`), not compiled yet:
    /// in mode `On`, counts the call and compiles at the threshold, then
    /// refreshes the method-cache entry. Answers the entry record, 0 (not
    /// yet) or [`NEVER`].
    pub(crate) fn count_call(
        &mut self,
        selector: Value,
        class: Value,
        method: Value,
        mut parts: super::frame::MethodParts,
    ) -> u32 {
        let r = self.count_run(method, 0, 1);
        if r == 0 {
            return 0;
        }
        parts.native = r;
        self.cache.insert(selector, class, method, parts);
        r
    }

    /// Compiles the unit `(method, start)` at the tiering's first level;
    /// its entry record or [`NEVER`].
    fn compile_now(&mut self, method: Value, start: u16) -> u32 {
        let Some(level) = self.jit.as_ref().map(|t| t.tiering.first) else {
            return NEVER;
        };
        // A method the baseline declines (a very large one) may still be
        // optimized.
        let mut level = level;
        let mut result = self.compile_unit(method, start, level);
        if result.is_err() && level == Level::Baseline {
            level = Level::Optimized;
            result = self.compile_unit(method, start, level);
        }
        let r = result.unwrap_or_else(|why| {
            self.note_refusal(method, &why);
            NEVER
        });
        if let Some(tier) = self.jit.as_mut() {
            tier.methods.push(method);
            tier.starts.push(start);
            tier.method_records.push(r);
            tier.levels.push(level);
            tier.index.insert((method.raw(), start), r);
        }
        r
    }

    /// Counts a method the compiler declined, and why.
    fn note_refusal(&mut self, method: Value, why: &str) {
        if std::env::var_os("LST_JIT_DEBUG").is_some() {
            eprintln!("jit: declined {}: {why}", self.method_name(method));
        }
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        tier.stats.refused += 1;
        let key: String = why.split(':').next().unwrap_or("").to_string();
        *tier.stats.refusals.entry(key).or_insert(0) += 1;
    }

    /// Compiles the unit `(method, start)` at `level` and keeps its
    /// records, sites and counter; its entry record, or why the compiler
    /// declined.
    fn compile_unit(&mut self, method: Value, start: u16, level: Level) -> Result<u32, String> {
        let mut tier = self.jit.take().ok_or_else(|| "no JIT".to_string())?;
        let started = std::time::Instant::now();
        if level == Level::Optimized {
            self.index_quick_selectors();
        }
        let first = tier.records.len() as u32;
        let result = tier.compiler.compile(self, method, start, first, level);
        let r = match result {
            Ok(c) => {
                tier.stats.compile_times.push((level, started.elapsed()));
                tier.stats.compiled += 1;
                for (k, e) in c.entries.iter().enumerate() {
                    tier.records.push(Record {
                        code: c.code,
                        k: k as u32,
                        pc: e.pc,
                        resume: e.resume as u32,
                        depth: e.depth,
                    });
                }
                tier.sites.push(c.sites);
                if let Some(counter) = c.counter {
                    counter.set(tier.tiering.counter_start());
                    tier.counters.push(counter);
                }
                Ok(first)
            }
            Err(why) => Err(why),
        };
        self.native_regs.records_by_word = records_by_word(&tier.records);
        self.jit = Some(tier);
        r
    }

    /// Recompiles the unit that frame `hp` runs optimized, once, and
    /// makes later calls find the new code (see [`lst_tier_up`]). Answers
    /// the unit's entry record if it is optimized now.
    fn optimize_frame_unit(&mut self, hp: usize) -> Option<u32> {
        let method = self.header(hp, super::frame::H_METHOD);
        let start = self.frame_unit_start(hp)?;
        let tier = self.jit.as_ref()?;
        let i = tier
            .methods
            .iter()
            .zip(&tier.starts)
            .position(|(m, &s)| m.raw() == method.raw() && s == start)?;
        if tier.levels[i] == Level::Optimized {
            return Some(tier.method_records[i]).filter(|&r| r != NEVER);
        }
        let r = match self.compile_unit(method, start, Level::Optimized) {
            Ok(r) => r,
            Err(why) => {
                self.note_refusal(method, &why);
                return None;
            }
        };
        let tier = self.jit.as_mut()?;
        tier.levels[i] = Level::Optimized;
        tier.method_records[i] = r;
        tier.index.insert((method.raw(), start), r);
        tier.stats.optimized_later += 1;
        // Caches and inline caches may hold the baseline entry.
        self.cache.flush();
        self.flush_send_sites();
        Some(r)
    }

    /// The bytecode offset a resume point stands for.
    pub(crate) fn bytecode_pc(&self, pc: usize) -> usize {
        if pc < NATIVE_PC_BASE {
            return pc;
        }
        self.native_record(pc).map_or(0, |r| r.pc as usize)
    }

    /// The record a native continuation `pc` names (`None` for a bytecode
    /// offset or an unknown record).
    pub(crate) fn native_record(&self, pc: usize) -> Option<Record> {
        let index = pc.checked_sub(NATIVE_PC_BASE)?;
        self.jit.as_ref()?.records.get(index).copied()
    }

    /// Runs compiled code at the native continuation `pc` of the current
    /// frame, until it leaves native code.
    #[cold]
    pub(crate) fn run_native(&mut self, pc: usize) -> Result<Flow, Trap> {
        let (Some(record), Some(t)) = (self.native_record(pc), self.jit.as_mut()) else {
            return Err(Trap::Fatal(format!("bad native resume point {pc}")));
        };
        t.stats.entries_from_interpreter += 1;
        let trampoline = t.compiler.trampoline();
        let value = self.resume_value(&record);
        let vm: *mut Vm = self;
        // SAFETY: the trampoline and `record.code` were made by the installed
        // compiler with this signature; compiled code touches the Vm only
        // through `vm` and the helpers, while no Rust borrow of it is live.
        unsafe {
            trampoline(
                vm,
                record.code,
                self.hp as u64,
                value.raw(),
                record.k as u64,
            )
        };
        if let Some(t) = self.jit.as_mut() {
            t.stats.exits_to_interpreter += 1;
        }
        match std::mem::take(&mut self.native_exit) {
            NativeExit::Interpret => Ok(Flow::Continue),
            NativeExit::Trap(t) => Err(t),
            NativeExit::Exit(s) => Ok(Flow::Exit(s)),
        }
    }

    /// The value compiled code is entered with at `record`: a send's
    /// answer is popped from the operand stack.
    fn resume_value(&mut self, record: &Record) -> Value {
        if record.resume == Resume::AfterSend as u32 {
            self.stack.pop().unwrap_or_default()
        } else {
            self.nil()
        }
    }

    /// The interpreter took a backward branch to `target` in the current
    /// frame. Every [`LOOP_STRIDE`] of them, the frame's method counts as
    /// called that often more (mode `On`); once it is compiled, the frame
    /// goes on in compiled code at that loop head if it has an entry there
    /// (on-stack replacement: `Vm::pc` becomes the entry's record).
    #[inline(never)]
    pub(crate) fn loop_edge(&mut self, target: usize) {
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        tier.loop_edges = tier.loop_edges.wrapping_add(1);
        if tier.loop_edges % LOOP_STRIDE != 0 {
            return;
        }
        let method = self.stack[self.hp + super::frame::H_METHOD];
        let Some(start) = self.frame_unit_start(self.hp) else {
            return;
        };
        let first = self.count_run(method, start, LOOP_STRIDE);
        let depth = self.stack.len() - self.hp - super::frame::HEADER;
        if let Some(r) = self.loop_head(first, target, depth) {
            self.pc = NATIVE_PC_BASE + r as usize;
        }
    }

    /// Which unit frame `hp` runs: 0 for a method, the body's offset for
    /// a block (`None` if the block is malformed).
    fn frame_unit_start(&self, hp: usize) -> Option<u16> {
        let context = self.header(hp, super::frame::H_CONTEXT);
        if !self.is_block_object(context) {
            return Some(0);
        }
        let body = self.heap.get(context, crate::layout::block::BODY_POINTER)?;
        u16::try_from(body.as_usize()?).ok()
    }

    /// The record of the loop-head entry at bytecode offset `pc` with
    /// operand-stack depth `depth` among the entries of the function whose
    /// entry 0 is record `first`.
    fn loop_head(&self, first: u32, pc: usize, depth: usize) -> Option<u32> {
        if first == NEVER || first == 0 {
            return None;
        }
        let tier = self.jit.as_ref()?;
        let start = tier.records.get(first as usize)?;
        (first as usize..tier.records.len())
            .take_while(|&i| tier.records[i].code == start.code)
            .find(|&i| {
                let r = &tier.records[i];
                r.resume == Resume::LoopHead as u32
                    && r.pc as usize == pc
                    && r.depth as usize == depth
            })
            .map(|i| i as u32)
    }

    /// After the interpreter's code moved control to another frame: where
    /// compiled code goes next (see the module doc).
    pub(super) fn transfer(&mut self) -> u64 {
        if self.pc < NATIVE_PC_BASE {
            self.native_exit = NativeExit::Interpret;
            return GO_INTERPRET;
        }
        let Some(record) = self.native_record(self.pc) else {
            self.native_exit = NativeExit::Trap(Trap::Fatal("bad native resume point".into()));
            return GO_INTERPRET;
        };
        let value = self.resume_value(&record);
        self.native_regs.hp = self.hp as u64;
        self.native_regs.value = value;
        self.native_regs.k = record.k as u64;
        record.code as u64
    }

    /// Leaves native code with `trap` (the frame state is written).
    pub(super) fn exit_with(&mut self, trap: Trap) -> u64 {
        self.native_exit = NativeExit::Trap(trap);
        GO_INTERPRET
    }

    /// The result of interpreter code that may have moved control.
    fn after_flow(&mut self, flow: Result<Flow, Trap>) -> u64 {
        match flow {
            Ok(Flow::Continue) => self.transfer(),
            Ok(Flow::Exit(s)) => {
                self.native_exit = NativeExit::Exit(s);
                GO_INTERPRET
            }
            Err(t) => self.exit_with(t),
        }
    }
}

/// See [`NativeRegs::records_by_word`]: record `i` is named by the word
/// `w = 2(NATIVE_PC_BASE + i) + 1`, so it lies at `records + (w − 1)/2 ×
/// size − NATIVE_PC_BASE × size`, which is `records − size/2 −
/// NATIVE_PC_BASE × size + w × size/2` (wrapping: only the sum is an
/// address).
fn records_by_word(records: &[Record]) -> u64 {
    const SIZE: u64 = std::mem::size_of::<Record>() as u64;
    const _: () = assert!(SIZE.is_multiple_of(2));
    (records.as_ptr() as u64)
        .wrapping_sub(SIZE / 2)
        .wrapping_sub((NATIVE_PC_BASE as u64).wrapping_mul(SIZE))
}

/// Selector codes of send sites: a literal index, or a special selector.
pub const SPECIAL_SELECTOR: u64 = 1 << 16;
/// Flag of a send site's selector code: a send to super.
pub const TO_SUPER: u64 = 1 << 17;

/// Turns the `vm` argument of a helper into the Vm.
///
/// # Safety
/// `vm` must be the pointer the trampoline was called with, and no other
/// reference to the Vm may be live (compiled code holds none).
pub(super) unsafe fn vm_of<'a>(vm: *mut Vm) -> &'a mut Vm {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { &mut *vm }
}

/// Returns `value` from frame `hp` to its caller.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_return(vm: *mut Vm, hp: u64, value: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let flow = vm
        .enter_frame(hp as usize, 0)
        .and_then(|()| vm.return_value(Value::from_raw(value)));
    vm.after_flow(flow)
}

/// `blockReturn` of `value` in frame `hp`, whose bytecode goes on at `pc`.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_block_return(vm: *mut Vm, hp: u64, value: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let flow = vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.non_local_return(Value::from_raw(value)));
    vm.after_flow(flow)
}

/// `doPrimitive argc number` in frame `hp`, whose operand stack is written
/// (ending with the arguments); `pc` is the offset after the instruction.
/// [`GO_ON`] when it failed (nil is pushed).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_primitive(
    vm: *mut Vm,
    hp: u64,
    number: u64,
    argc: u64,
    pc: u64,
) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let r = vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.run_primitive(argc as usize, number as u8));
    match r {
        Ok(Primitive::Failed) => GO_ON,
        Ok(Primitive::Ran(flow)) => vm.after_flow(Ok(flow)),
        Err(t) => vm.exit_with(t),
    }
}

/// `pushBlock` in frame `hp`: the block's body starts at `body` and the
/// method goes on at `end`. The new Block is in [`NativeRegs::value`].
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_make_block(
    vm: *mut Vm,
    hp: u64,
    arg_location: u64,
    body: u64,
    end: u64,
) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let r = vm
        .enter_frame(hp as usize, body as usize)
        .and_then(|()| vm.push_block(arg_location as u8, end as u16));
    match r {
        Ok(()) => {
            vm.native_regs.value = vm.stack.pop().unwrap_or_default();
            GO_ON
        }
        Err(t) => vm.exit_with(t),
    }
}

/// The slow path of a safepoint whose countdown ran out, in frame `hp` at
/// bytecode offset `pc` (the operand stack is written).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_safepoint(vm: *mut Vm, hp: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    match vm
        .enter_frame(hp as usize, pc as usize)
        .and_then(|()| vm.safepoint())
    {
        Ok(()) => GO_ON,
        Err(t) => vm.exit_with(t),
    }
}

/// [`lst_tier_up`]'s `pc` when baseline code calls it at its start.
pub const AT_START: u64 = u64::MAX;

/// Baseline code's tiering `counter` ran out, in frame `hp` at its start
/// (`pc` is [`AT_START`]) or at the loop back-edge at bytecode `pc` (the
/// operand stack is written). The frame's unit is recompiled optimized
/// (once); then the frame goes on in the optimized code: from its start,
/// or (at a loop) in the interpreter, which enters the optimized code at
/// the loop head (on-stack replacement). If the unit stays baseline, the
/// counter is turned off and the code goes on.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]); `counter` is the address
/// of a counter the tier keeps.
pub unsafe extern "C" fn lst_tier_up(vm: *mut Vm, hp: u64, pc: u64, counter: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    // SAFETY: the tier keeps the counter baseline code names (boxed) as
    // long as the code; compiled code touches it only while it runs.
    let counter = unsafe { &*(counter as *const std::cell::Cell<i64>) };
    let Some(r) = vm.optimize_frame_unit(hp as usize) else {
        counter.set(COUNTER_OFF);
        return GO_ON;
    };
    counter.set(
        vm.jit
            .as_ref()
            .map_or(COUNTER_OFF, |t| t.tiering.counter_start()),
    );
    if pc == AT_START {
        let Some(record) = vm
            .jit
            .as_ref()
            .and_then(|t| t.records.get(r as usize))
            .copied()
        else {
            return GO_ON;
        };
        vm.native_regs.hp = hp;
        vm.native_regs.value = vm.nil();
        vm.native_regs.k = u64::from(record.k);
        return record.code as u64;
    }
    match vm.enter_frame(hp as usize, pc as usize) {
        Ok(()) => {
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
}

/// What [`lst_trap`] reports.
pub const TRAP_IVAR: u64 = 0;
pub const TRAP_TEMP: u64 = 1;

/// A check in compiled code failed: raises the interpreter's error for it,
/// in frame `hp` at `pc` (the operand stack is written).
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_trap(vm: *mut Vm, hp: u64, pc: u64, what: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    if let Err(t) = vm.enter_frame(hp as usize, pc as usize) {
        return vm.exit_with(t);
    }
    let msg = match what {
        TRAP_IVAR => "instance variable index out of range",
        _ => "temporary index out of range",
    };
    vm.exit_with(Trap::Error(msg.into()))
}

/// A new object of class `class` with `size` nil slots, as primitive 7
/// makes it, for the inline `new:` (`InlinePrim::New`); or 0 when the
/// primitive would fail or that would take a collection (the heap is
/// full, or GC stress is on): the code then sends instead. It never
/// collects, so compiled code may hold references across it.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_new_slots(vm: *mut Vm, class: u64, size: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    let class = Value::from_raw(class);
    let Some(n) = Value::from_raw(size).as_int() else {
        return 0;
    };
    vm.new_object_without_collecting(class, n)
        .map_or(0, Value::raw)
}

/// Leaves compiled code to interpret frame `hp` from bytecode offset `pc`
/// (the operand stack is written): for cases the code does not handle.
///
/// # Safety
/// Called by compiled code only (see [`vm_of`]).
pub unsafe extern "C" fn lst_deopt(vm: *mut Vm, hp: u64, pc: u64) -> u64 {
    // SAFETY: we are called by compiled code, which passes the Vm it got.
    let vm = unsafe { vm_of(vm) };
    match vm.enter_frame(hp as usize, pc as usize) {
        Ok(()) => {
            vm.native_exit = NativeExit::Interpret;
            GO_INTERPRET
        }
        Err(t) => vm.exit_with(t),
    }
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
