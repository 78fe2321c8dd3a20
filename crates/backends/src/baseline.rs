//! The baseline code generator: the JIT IR of one method → x86-64 machine
//! code, emitted straight from a template per IR instruction, with no
//! register allocation and no optimisation. It compiles a method in tens
//! of microseconds (with translating and code memory; Cranelift takes
//! hundreds), so methods are compiled with it first, and the Cranelift
//! lowering ([`crate::lower`]) recompiles those that stay hot (the
//! runtime's tiering decides when: `lst_vm::jit_runtime::tiering::Level`).
//!
//! The code keeps the contract of the Cranelift lowering exactly, so the
//! runtime, the shared stubs and Cranelift code cannot tell the two apart:
//! a function is `tail fn(vm, hp, value, k)` (Cranelift's tail convention
//! on x86-64: rdi, rsi, rdx, rcx), entered at its start or at a
//! continuation (`k`, see [`crate::entries`]); it ends in a tail call (a
//! `jmp` with the machine stack as it was at entry) or a `ret` to the
//! trampoline. Sends, returns and exits go through the same shared stubs.
//!
//! Each activation has a small machine frame: rbp is pushed, the vm and hp
//! are kept at `[rbp−8]` and `[rbp−16]` (rdi and rsi hold them between
//! calls), and every IR value has a slot below them. Values are read from
//! their slots into scratch registers (rax, rcx, rdx, r8, r9; r10 and r11
//! for addresses) and written back. It uses no register the tail or the
//! SystemV convention asks a callee to preserve, besides rbp.
//!
//! As in the Cranelift lowering, slots hold heap references only until the
//! next call that may collect: before it the IR's frame state is written
//! into the VM frame, after it the state is read back, and any other value
//! used afterwards must be recomputable (else the method is refused).
//!
//! This module emits bytes; code memory is [`crate::jit`]'s.

// `dynasm!` turns a dynamic register `Rq(r)` into `r.into()`.
#![allow(clippy::useless_conversion)]

use crate::clif_kit::{WORD_BYTES, word_offset};
use crate::entries::{self, Plan, state_of};
use crate::helpers;
use crate::lower::{LowerError, MethodFacts};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm};
use lst_jit::ir::{self, Inst, InstData, State, Terminator};
use lst_vm::jit_runtime::boundary::{self as rt, Layout};
use lst_vm::jit_runtime::inline_cache::SendSite;
use std::collections::{HashMap, HashSet};

mod float_ops;
mod int_ops;
mod object_ops;
mod quick_ops;

/// The addresses baseline code jumps to or calls.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Shared functions in code memory (tail-called).
    pub send_stub: u64,
    pub return_stub: u64,
    pub exit_deopt: u64,
    pub exit_trap: u64,
    /// The runtime helpers (SystemV calls), the same list Cranelift's
    /// code imports ([`helpers::all`]), by [`helpers::Id`]: each one's
    /// address and how many parameters it takes.
    pub helpers: Vec<(u64, usize)>,
    /// The shared Float functions ([`crate::float_stub`]), by position
    /// among the Float operations (`float_ops::float_position`).
    pub float_ops: Vec<u64>,
    /// The shared `new:` function ([`crate::new_slots_stub`]).
    pub new_slots: u64,
}

/// What the code refers to besides the IR.
pub struct Env<'a> {
    pub layout: &'a Layout,
    pub targets: &'a Targets,
    /// The record number of the function's entry 0.
    pub first_record: u32,
    /// One inline cache per send, in block order.
    pub sites: &'a [SendSite],
    /// The address of the function's tiering counter (see
    /// `lst_vm::jit_runtime::helpers::lst_tier_up`).
    pub counter: u64,
}

/// Methods with more IR values than this are left to Cranelift (a frame
/// of 32 KiB at most).
const MAX_VALUES: u32 = 4000;

/// A frame larger than this is touched a page at a time from the top
/// when it is made, so that it cannot step over the stack's guard page.
const PAGE: i32 = 4096;

/// One slot of the machine frame (a register's width).
const SLOT_BYTES: i32 = 8;
/// Where the vm and hp are kept between calls, below the saved rbp (as
/// 8-bit displacements, the short form).
const VM_AT: i8 = -(SLOT_BYTES as i8);
const HP_AT: i8 = -2 * SLOT_BYTES as i8;
/// Where IR value 0's slot is; value n's is `n` slots further down.
const FIRST_VALUE_AT: i32 = -3 * SLOT_BYTES;
/// The machine stack's alignment at a call.
const STACK_ALIGN: u32 = 16;

// A VM stack slot is a word, addressed with the scale 8 (dynasm takes only
// a literal scale).
const _: () = assert!(WORD_BYTES == 8);

/// Up to this many entries, the resume dispatch compares `k` with each;
/// beyond, it jumps through a table.
const MAX_COMPARED_ENTRIES: usize = 6;

/// Registers by number.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const R8: u8 = 8;
const R9: u8 = 9;
const R10: u8 = 10;

/// An argument of a helper call after the VM and the frame.
#[derive(Clone, Copy)]
enum Arg {
    /// An IR value, loaded from where it lives.
    Value(ir::Value),
    /// A number known when compiling.
    Imm(i64),
}

/// The code of `f` and its entries.
pub fn compile(
    f: &ir::Function,
    facts: &MethodFacts,
    env: &Env,
) -> Result<(Vec<u8>, Vec<rt::Entry>), LowerError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(LowerError("the baseline compiler emits x86-64 only".into()));
    }
    let plan = entries::plan(f, facts.bytecodes)?;
    let mut e = Emitter::new(f, facts, env, &plan)?;
    e.function()?;
    let code = e
        .ops
        .finalize()
        .map_err(|err| LowerError(format!("baseline: {err:?}")))?;
    Ok((code, plan.entries))
}

struct Emitter<'a> {
    f: &'a ir::Function,
    facts: &'a MethodFacts<'a>,
    env: &'a Env<'a>,
    plan: &'a Plan,
    lay: Layout,
    ops: VecAssembler<X64Relocation>,
    blocks: HashMap<ir::BlockId, DynamicLabel>,
    /// The continuation label of each send, by k − 1.
    conts: Vec<DynamicLabel>,
    /// Definitions of values that can be recomputed anywhere.
    remat: HashMap<ir::Value, Inst>,
    /// The values whose slots hold them at this point of the code.
    valid: HashSet<ir::Value>,
    /// Bytes of the machine frame below the saved rbp.
    frame: i32,
    /// The first scratch slot for block arguments (a value number).
    scratch: u32,
    /// The block emitted after the current one: a jump to it is left out.
    next_block: Option<ir::BlockId>,
    /// A bool the last instruction left in rdx (0 or 1) besides its slot:
    /// a branch on it tests the register.
    bool_in_rdx: Option<ir::Value>,
    next_send: usize,
}

impl<'a> Emitter<'a> {
    fn new(
        f: &'a ir::Function,
        facts: &'a MethodFacts<'a>,
        env: &'a Env<'a>,
        plan: &'a Plan,
    ) -> Result<Self, LowerError> {
        let values = value_count(f);
        let widest = f.blocks.iter().map(|b| b.params.len()).max().unwrap_or(0) as u32;
        if values > MAX_VALUES {
            return Err(LowerError(format!(
                "{values} values: too many for the baseline"
            )));
        }
        // The vm, the hp, then the values.
        let slots = 2 + values + widest;
        let frame = (slots * SLOT_BYTES as u32).next_multiple_of(STACK_ALIGN) as i32;
        let mut ops = VecAssembler::new(0);
        let blocks = f
            .blocks
            .iter()
            .map(|b| (b.id, ops.new_dynamic_label()))
            .collect();
        let conts = (0..plan.sends).map(|_| ops.new_dynamic_label()).collect();
        let remat = f
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| d.inst.is_recomputable())
            .map(|d| (d.results[0], d.inst.clone()))
            .collect();
        Ok(Emitter {
            f,
            facts,
            env,
            plan,
            lay: *env.layout,
            ops,
            blocks,
            conts,
            remat,
            valid: HashSet::new(),
            frame,
            scratch: values,
            next_block: None,
            bool_in_rdx: None,
            next_send: 0,
        })
    }

    // -- Frame and slots -----------------------------------------------------

    /// The rbp-relative offset of value slot `n`.
    fn slot_at(n: u32) -> i32 {
        FIRST_VALUE_AT - SLOT_BYTES * n as i32
    }

    fn slot(v: ir::Value) -> i32 {
        Self::slot_at(v.0)
    }

    /// rdi := vm, rsi := hp again (after a call).
    fn restore_vm_hp(&mut self) {
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, QWORD [BYTE rbp + VM_AT]
            ; mov rsi, QWORD [BYTE rbp + HP_AT]
        );
    }

    /// r11 := the VM stack's address.
    fn stack_base(&mut self) {
        let sb = self.lay.stack_base;
        dynasm!(self.ops ; .arch x64 ; mov r11, QWORD [rdi + sb]);
    }

    /// `reg` := header word `slot` of the frame (r11 := the stack base).
    fn header_word(&mut self, reg: u8, slot: usize) {
        self.stack_base();
        let off = word_offset(slot);
        dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [r11 + rsi * 8 + off]);
    }

    /// `reg` := the stack slot `n` words above the index in SmallInt
    /// header word `slot` (the receiver's and arguments' at FP, the
    /// temporaries' at TB).
    fn frame_value(&mut self, reg: u8, slot: usize, n: usize) -> Result<(), LowerError> {
        self.header_word(10, slot);
        self.tagged_slot(false, reg, n)
    }

    // -- The tag and objects -------------------------------------------------

    /// Loads (`store` false) or stores `reg` from or to the stack slot `n`
    /// words above the index in the SmallInt word in r10 (r11 := the stack
    /// base), without untagging: the address is `r11 + r10·scale + disp`
    /// with `scale` = 8 / 2^tag bits and `disp` = 8n − tag·scale.
    fn tagged_slot(&mut self, store: bool, reg: u8, n: usize) -> Result<(), LowerError> {
        let lay = self.lay;
        let scale = WORD_BYTES >> lay.tag_bits;
        let disp = word_offset(n) - lay.smallint_tag as i32 * scale;
        match (scale, store) {
            (8, false) => dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [r11 + r10 * 8 + disp]),
            (8, true) => dynasm!(self.ops ; .arch x64 ; mov QWORD [r11 + r10 * 8 + disp], Rq(reg)),
            (4, false) => dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [r11 + r10 * 4 + disp]),
            (4, true) => dynasm!(self.ops ; .arch x64 ; mov QWORD [r11 + r10 * 4 + disp], Rq(reg)),
            (2, false) => dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [r11 + r10 * 2 + disp]),
            (2, true) => dynasm!(self.ops ; .arch x64 ; mov QWORD [r11 + r10 * 2 + disp], Rq(reg)),
            _ => {
                return Err(LowerError(format!(
                    "baseline: no addressing for a {}-bit tag",
                    lay.tag_bits
                )));
            }
        }
        Ok(())
    }

    /// r10 := the header word of the object in r9 (`dword`: its low 32
    /// bits, zero-extended).
    fn load_header(&mut self, dword: bool) {
        // A displacement of 0 as a register-only address: one byte shorter.
        match (self.lay.header_word, dword) {
            (0, true) => dynasm!(self.ops ; .arch x64 ; mov r10d, DWORD [r9]),
            (0, false) => dynasm!(self.ops ; .arch x64 ; mov r10, QWORD [r9]),
            (hw, true) => dynasm!(self.ops ; .arch x64 ; mov r10d, DWORD [r9 + hw]),
            (hw, false) => dynasm!(self.ops ; .arch x64 ; mov r10, QWORD [r9 + hw]),
        }
    }

    /// r10 := the size field of the header word of the object in r9
    /// (clobbers r8).
    fn load_size(&mut self) {
        if self.lay.size_mask == u64::from(u32::MAX) {
            self.load_header(true);
        } else {
            self.load_header(false);
            self.size_of_header();
        }
    }

    /// r10 := the size field of the header word in r10 (clobbers r8).
    fn size_of_header(&mut self) {
        let mask = self.lay.size_mask as i64;
        if self.lay.size_mask == u64::from(u32::MAX) {
            dynasm!(self.ops ; .arch x64 ; mov r10d, r10d);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov r8, QWORD mask ; and r10, r8);
        }
    }

    /// Writes `vals` as the frame's operand stack and sets the stack length.
    fn spill(&mut self, vals: &[ir::Value]) -> Result<(), LowerError> {
        let header = self.lay.header;
        for (i, &v) in vals.iter().enumerate() {
            self.load(RAX, v)?;
            self.stack_base();
            let off = word_offset(header + i);
            dynasm!(self.ops ; .arch x64 ; mov QWORD [r11 + rsi * 8 + off], rax);
        }
        let len = (header + vals.len()) as i32;
        let sl = self.lay.stack_len;
        dynasm!(self.ops
            ; .arch x64
            ; lea rax, [rsi + len]
            ; mov QWORD [rdi + sl], rax
        );
        Ok(())
    }

    /// After a call that may have collected: the state's values are read
    /// back from the frame, and they are the only values in slots.
    fn reload(&mut self, vals: &[ir::Value]) {
        self.valid.clear();
        self.read_stack(vals);
        self.valid.extend(vals);
    }

    /// The slots of `vals` := the frame's operand stack, bottom first.
    fn read_stack(&mut self, vals: &[ir::Value]) {
        let header = self.lay.header;
        self.stack_base();
        for (i, &v) in vals.iter().enumerate() {
            let off = word_offset(header + i);
            let to = Self::slot(v);
            dynasm!(self.ops
                ; .arch x64
                ; mov rax, QWORD [r11 + rsi * 8 + off]
                ; mov QWORD [rbp + to], rax
            );
        }
    }

    /// `reg` := value `v` (recomputed, or from its slot).
    fn load(&mut self, reg: u8, v: ir::Value) -> Result<(), LowerError> {
        if let Some(inst) = self.remat.get(&v).cloned() {
            return self.pure(reg, &inst);
        }
        if !self.valid.contains(&v) {
            return Err(LowerError(format!("{v} is live across a call")));
        }
        let at = Self::slot(v);
        dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [rbp + at]);
        Ok(())
    }

    /// Value `v`'s slot := `reg`.
    fn store(&mut self, v: ir::Value, reg: u8) {
        let at = Self::slot(v);
        dynasm!(self.ops ; .arch x64 ; mov QWORD [rbp + at], Rq(reg));
        self.valid.insert(v);
    }

    // -- Leaving -------------------------------------------------------------

    /// Tail-calls `target` with rdi, rsi, rdx, rcx as they are.
    fn tail_call(&mut self, target: u64) {
        let target = target as i64;
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, QWORD target
            ; leave
            ; jmp rax
        );
    }

    /// Returns rax to the trampoline.
    fn leave_native(&mut self) {
        dynasm!(self.ops ; .arch x64 ; leave ; ret);
    }

    /// Calls runtime helper `target` (SystemV; rdi and rsi are the vm and
    /// hp, the other arguments already in place); its answer is in rax.
    /// Calls the runtime helper `id` with the VM and the frame (in rdi
    /// and rsi, where they always are) and `args` in the next argument
    /// registers of the SystemV convention, as its signature asks.
    fn call_helper(&mut self, id: helpers::Id, args: &[Arg]) -> Result<(), LowerError> {
        const ARGUMENT_REGISTERS: [u8; 4] = [RDX, RCX, R8, R9];
        let &(address, params) = self
            .env
            .targets
            .helpers
            .get(id as usize)
            .ok_or_else(|| LowerError(format!("no address for the helper {id:?}")))?;
        if params != 2 + args.len() || args.len() > ARGUMENT_REGISTERS.len() {
            return Err(LowerError(format!(
                "the helper {id:?} takes {params} parameters, not 2 + {}",
                args.len()
            )));
        }
        for (&reg, &arg) in ARGUMENT_REGISTERS.iter().zip(args) {
            match arg {
                Arg::Value(v) => self.load(reg, v)?,
                // A 32-bit move zero-extends: the short form.
                Arg::Imm(0) => dynasm!(self.ops ; .arch x64 ; xor Rd(reg), Rd(reg)),
                Arg::Imm(n) => match u32::try_from(n) {
                    Ok(small) => dynasm!(self.ops ; .arch x64 ; mov Rd(reg), DWORD small as i32),
                    Err(_) => dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD n),
                },
            }
        }
        let address = address as i64;
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, QWORD address
            ; call rax
        );
        self.restore_vm_hp();
        Ok(())
    }

    /// Acts on a helper's answer in rax other than "go on": 0 leaves
    /// native code, anything else is a code address to tail-call with the
    /// frame, entry and value the helper left in the VM's registers.
    fn leave_or_call_named(&mut self) {
        let named = self.ops.new_dynamic_label();
        let (hp, value, k) = (self.lay.regs_hp, self.lay.regs_value, self.lay.regs_k);
        dynasm!(self.ops
            ; .arch x64
            ; test rax, rax
            ; jnz =>named
            ; leave
            ; ret
            ; =>named
            ; mov r11, rax
            ; mov rsi, QWORD [rdi + hp]
            ; mov rdx, QWORD [rdi + value]
            ; mov rcx, QWORD [rdi + k]
            ; leave
            ; jmp r11
        );
    }

    /// Acts on a helper's answer in rax: "go on" jumps to `go`, anything
    /// else is [`Self::leave_or_call_named`]'s.
    fn go_on_or_leave(&mut self, go: DynamicLabel) {
        let go_on = rt::GO_ON as i32;
        dynasm!(self.ops ; .arch x64 ; cmp rax, go_on ; je =>go);
        self.leave_or_call_named();
    }

    /// Leaves through the trap exit at the state's pc (a failed check).
    fn trap(&mut self, state: &State, what: u64) -> Result<(), LowerError> {
        let kept = self.valid.clone();
        self.spill(&state.stack)?;
        self.valid = kept;
        let pc = i32::from(state.pc);
        let what = what as i32;
        dynasm!(self.ops
            ; .arch x64
            ; mov edx, pc
            ; mov ecx, what
        );
        self.tail_call(self.env.targets.exit_trap);
        Ok(())
    }

    // -- The function --------------------------------------------------------

    fn function(&mut self) -> Result<(), LowerError> {
        let frame = self.frame;
        let resume = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; push rbp
            ; mov rbp, rsp
            ; sub rsp, frame
        );
        for probe in (1..=frame / PAGE).map(|p| p * PAGE) {
            dynasm!(self.ops ; .arch x64 ; mov BYTE [rbp - probe], 0);
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov QWORD [BYTE rbp + VM_AT], rdi
            ; mov QWORD [BYTE rbp + HP_AT], rsi
            ; test rcx, rcx
            ; jnz =>resume
        );
        self.arity_guard(self.plan.entries[0].pc);
        self.count(None)?;
        let first = self.blocks[&self.f.blocks[0].id];
        dynasm!(self.ops ; .arch x64 ; jmp =>first ; =>resume);
        let heads: Vec<DynamicLabel> = (0..self.plan.loop_heads.len())
            .map(|_| self.ops.new_dynamic_label())
            .collect();
        let mut targets = self.conts.clone();
        targets.extend(&heads);
        self.resume_dispatch(&targets);
        for (i, &label) in heads.iter().enumerate() {
            self.loop_head_entry(i, label)?;
        }
        for (i, block) in self.f.blocks.iter().enumerate() {
            self.next_block = self.f.blocks.get(i + 1).map(|b| b.id);
            self.block(block)?;
        }
        Ok(())
    }

    /// Jumps to `targets[k − 1]` for entry `k` (in rcx, not 0).
    fn resume_dispatch(&mut self, targets: &[DynamicLabel]) {
        let bad = self.ops.new_dynamic_label();
        if targets.len() <= MAX_COMPARED_ENTRIES {
            for (i, &t) in targets.iter().enumerate() {
                let k = i as i32 + 1;
                dynasm!(self.ops ; .arch x64 ; cmp rcx, k ; je =>t);
            }
        } else {
            // A table of 8-byte `jmp`s, entry k at table + 8k.
            let table = self.ops.new_dynamic_label();
            let n = targets.len() as i32 + 1;
            dynasm!(self.ops
                ; .arch x64
                ; cmp rcx, n
                ; jae =>bad
                ; lea rax, [=>table]
                ; lea rax, [rax + rcx * 8]
                ; jmp rax
                ; .align 8
                ; =>table
                ; jmp =>bad
                ; .align 8
            );
            for &t in targets {
                dynasm!(self.ops ; .arch x64 ; jmp =>t ; .align 8);
            }
        }
        dynasm!(self.ops ; .arch x64 ; =>bad ; ud2);
    }

    /// Goes on if the frame holds as many arguments as the method takes;
    /// otherwise (a malformed image) leaves the frame to the interpreter at
    /// bytecode offset `pc`.
    fn arity_guard(&mut self, pc: u32) {
        let pc = pc as i32;
        let ok = self.ops.new_dynamic_label();
        // Tagged words: the difference of the tagged TB and FP is the
        // tagged argument count without its tag.
        let want = (i32::from(self.f.arg_count) + 1) << self.lay.tag_bits;
        let (tb, fp) = (word_offset(self.lay.h_tb), word_offset(self.lay.h_fp));
        self.stack_base();
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, QWORD [r11 + rsi * 8 + tb]
            ; sub rax, QWORD [r11 + rsi * 8 + fp]
            ; cmp rax, want
            ; je =>ok
            ; mov edx, pc
            ; xor ecx, ecx
        );
        self.tail_call(self.env.targets.exit_deopt);
        dynasm!(self.ops ; .arch x64 ; =>ok);
    }

    /// Counts a call (`state` None, at the start) or a loop iteration (at
    /// the back-edge with `state`); when the tiering counter runs out, the
    /// runtime may recompile the method optimized and go on there
    /// (`lst_tier_up`), else the code goes on.
    fn count(&mut self, state: Option<&State>) -> Result<(), LowerError> {
        let go = self.ops.new_dynamic_label();
        let counter = self.env.counter as i64;
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, QWORD counter
            ; sub QWORD [rax], 1
            ; jg =>go
        );
        let pc = match state {
            Some(state) => {
                let kept = self.valid.clone();
                self.spill(&state.stack)?;
                self.valid = kept;
                i64::from(state.pc)
            }
            None => rt::AT_START as i64,
        };
        self.call_helper(helpers::Id::lst_tier_up, &[Arg::Imm(pc), Arg::Imm(counter)])?;
        self.go_on_or_leave(go);
        dynasm!(self.ops ; .arch x64 ; =>go);
        Ok(())
    }

    /// The entry at loop head `i`: the operand stack the interpreter left
    /// in the frame becomes the head's parameters.
    fn loop_head_entry(&mut self, i: usize, label: DynamicLabel) -> Result<(), LowerError> {
        dynasm!(self.ops ; .arch x64 ; =>label);
        let e = self.plan.entries[self.plan.loop_head_k(i)];
        self.arity_guard(e.pc);
        let target = self.plan.loop_heads[i];
        let Some(head) = self.f.block(target) else {
            return Err(LowerError(format!("loop head {target} is missing")));
        };
        self.read_stack(&head.params);
        let go = self.blocks[&target];
        dynasm!(self.ops ; .arch x64 ; jmp =>go);
        Ok(())
    }

    fn block(&mut self, block: &ir::Block) -> Result<(), LowerError> {
        let label = self.blocks[&block.id];
        dynasm!(self.ops ; .arch x64 ; =>label);
        self.valid = block.params.iter().copied().collect();
        for (i, data) in block.insts.iter().enumerate() {
            let at_entry = block.id == self.f.blocks[0].id && i == 0;
            self.bool_in_rdx = None;
            self.inst(data, at_entry)?;
        }
        self.terminator(&block.terminator)
    }

    // -- Instructions --------------------------------------------------------

    /// `reg` := an instruction that only reads immutable state.
    fn pure(&mut self, reg: u8, inst: &Inst) -> Result<(), LowerError> {
        let tagged = entries::check_pure(inst, self.f.arg_count, self.facts.literal_count)?;
        let lay = self.lay;
        match *inst {
            Inst::SelfRef => self.frame_value(reg, lay.h_fp, 0)?,
            Inst::Arg(n) => self.frame_value(reg, lay.h_fp, n as usize)?,
            Inst::Literal(n) => {
                self.header_word(10, lay.h_literals);
                let off = lay.first_slot + word_offset(usize::from(n));
                dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [r10 + off]);
            }
            Inst::Nil | Inst::True | Inst::False => {
                let off = match inst {
                    Inst::Nil => lay.nil,
                    Inst::True => lay.true_,
                    _ => lay.false_,
                };
                dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD [rdi + off]);
            }
            _ => {
                let word = tagged.unwrap_or(0);
                dynasm!(self.ops ; .arch x64 ; mov Rq(reg), QWORD word);
            }
        }
        Ok(())
    }

    /// rax := a, rcx := b.
    fn load2(&mut self, a: ir::Value, b: ir::Value) -> Result<(), LowerError> {
        self.load(RAX, a)?;
        self.load(RCX, b)
    }

    fn inst(&mut self, data: &InstData, at_entry: bool) -> Result<(), LowerError> {
        if self.int_inst(data)?
            || self.float_inst(data)?
            || self.object_inst(data)?
            || self.quick_inst(data)?
        {
            return Ok(());
        }
        let r = |i: usize| data.results[i];
        match &data.inst {
            i if i.is_recomputable() => {}
            Inst::Same(a, b) => {
                self.load2(*a, *b)?;
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; cmp rax, rcx ; sete dl);
                self.store(r(0), RDX);
            }
            Inst::Not(c) => {
                self.load(RAX, *c)?;
                dynasm!(self.ops ; .arch x64 ; xor edx, edx ; test rax, rax ; sete dl);
                self.store(r(0), RDX);
            }
            Inst::BoolObj(c) => {
                self.load(R8, *c)?;
                let (t, f) = (self.lay.true_, self.lay.false_);
                dynasm!(self.ops
                    ; .arch x64
                    ; mov rax, QWORD [rdi + t]
                    ; test r8, r8
                    ; cmovz rax, QWORD [rdi + f]
                );
                self.store(r(0), RAX);
            }
            Inst::Temp(n) => {
                self.temp(*n, None, state_of(data)?)?;
                self.store(r(0), RAX);
            }
            Inst::SetTemp(n, v) => self.temp(*n, Some(*v), state_of(data)?)?,
            Inst::Ivar(n) => {
                self.ivar(*n, None, state_of(data)?)?;
                self.store(r(0), RAX);
            }
            Inst::SetIvar(n, v) => self.ivar(*n, Some(*v), state_of(data)?)?,
            Inst::Send {
                selector,
                receiver,
                args,
                to_super,
            } => self.send(*selector, *receiver, args, *to_super, state_of(data)?, r(0))?,
            Inst::MakeBlock { arg_location, body } => {
                self.make_block(*arg_location, *body, state_of(data)?, r(0))?
            }
            // The send that entered the method has ticked already.
            Inst::Safepoint if at_entry => {}
            Inst::Safepoint => self.safepoint(state_of(data)?)?,
            other => return Err(LowerError(format!("cannot lower {other:?}"))),
        }
        Ok(())
    }

    /// Reads temporary `n` into rax (`store` None) or writes value `store`
    /// to it: in the frame, or in the heap Array that `TEMPS` points to
    /// once blocks share them.
    fn temp(&mut self, n: u8, store: Option<ir::Value>, state: &State) -> Result<(), LowerError> {
        if n >= self.f.temp_count {
            return Err(LowerError(format!(
                "temporary {n} of a method with {}",
                self.f.temp_count
            )));
        }
        if let Some(v) = store {
            self.load(RAX, v)?;
        }
        let (heap, done, trap) = (
            self.ops.new_dynamic_label(),
            self.ops.new_dynamic_label(),
            self.ops.new_dynamic_label(),
        );
        let nil = self.lay.nil;
        self.header_word(9, self.lay.h_temps);
        dynasm!(self.ops ; .arch x64 ; cmp r9, QWORD [rdi + nil] ; jne =>heap);
        let tb = word_offset(self.lay.h_tb);
        dynasm!(self.ops ; .arch x64 ; mov r10, QWORD [r11 + rsi * 8 + tb]);
        self.tagged_slot(store.is_some(), RAX, usize::from(n))?;
        let slot = self.lay.first_slot + word_offset(usize::from(n));
        let n = i32::from(n);
        dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>heap);
        self.load_size();
        dynasm!(self.ops
            ; .arch x64
            ; cmp r10, n
            ; jbe =>trap
        );
        match store {
            Some(_) => self.store_ref(R9, None, slot, RAX),
            None => dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [r9 + slot]),
        }
        dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>trap);
        self.trap(state, rt::TRAP_TEMP)?;
        dynasm!(self.ops ; .arch x64 ; =>done);
        Ok(())
    }

    /// Reads instance variable `n` of the receiver into rax, or writes
    /// value `store` to it, after checking that the receiver is a pointer
    /// object with that slot.
    fn ivar(&mut self, n: u8, store: Option<ir::Value>, state: &State) -> Result<(), LowerError> {
        if let Some(v) = store {
            self.load(RAX, v)?;
        }
        let (ok, trap) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        self.frame_value(9, self.lay.h_fp, 0)?;
        let bytes = self.lay.bytes_flag as i64;
        let tag = self.lay.tag_mask as i8;
        let n_ = i32::from(n);
        dynasm!(self.ops ; .arch x64 ; test r9b, tag ; jnz =>trap);
        self.load_header(false);
        dynasm!(self.ops
            ; .arch x64
            ; mov r8, QWORD bytes
            ; test r10, r8
            ; jnz =>trap
        );
        self.size_of_header();
        dynasm!(self.ops
            ; .arch x64
            ; cmp r10, n_
            ; ja =>ok
            ; =>trap
        );
        self.trap(state, rt::TRAP_IVAR)?;
        let slot = self.lay.first_slot + word_offset(usize::from(n));
        dynasm!(self.ops ; .arch x64 ; =>ok);
        match store {
            Some(_) => self.store_ref(R9, None, slot, RAX),
            None => dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [r9 + slot]),
        }
        Ok(())
    }

    fn send(
        &mut self,
        selector: ir::Selector,
        receiver: ir::Value,
        args: &[ir::Value],
        to_super: bool,
        state: &State,
        result: ir::Value,
    ) -> Result<(), LowerError> {
        let k = self.next_send + 1;
        let Some(site) = self.env.sites.get(k - 1) else {
            return Err(LowerError("more sends than send sites".into()));
        };
        let record = u64::from(self.env.first_record) + k as u64;
        entries::prepare_site(
            site,
            selector,
            to_super,
            args.len(),
            self.facts.literal_count,
            record,
        )?;
        self.next_send = k;
        let mut all = state.stack.clone();
        all.push(receiver);
        all.extend_from_slice(args);
        self.spill(&all)?;
        self.load(RCX, receiver)?;
        let site = site as *const SendSite as i64;
        dynasm!(self.ops ; .arch x64 ; mov rdx, QWORD site);
        self.tail_call(self.env.targets.send_stub);
        // The continuation: the answer comes in rdx.
        let cont = self.conts[k - 1];
        dynasm!(self.ops ; .arch x64 ; =>cont);
        self.store(result, RDX);
        self.reload(&state.stack);
        self.valid.insert(result);
        Ok(())
    }

    fn make_block(
        &mut self,
        arg_location: u8,
        body: u16,
        state: &State,
        result: ir::Value,
    ) -> Result<(), LowerError> {
        self.spill(&state.stack)?;
        let go = self.ops.new_dynamic_label();
        let (arg_location, body, pc) = (
            i64::from(arg_location),
            i64::from(body),
            i64::from(state.pc),
        );
        self.call_helper(
            helpers::Id::lst_make_block,
            &[Arg::Imm(arg_location), Arg::Imm(body), Arg::Imm(pc)],
        )?;
        dynasm!(self.ops ; .arch x64 ; test rax, rax ; jnz =>go);
        self.leave_native();
        dynasm!(self.ops ; .arch x64 ; =>go);
        self.reload(&state.stack);
        let value = self.lay.regs_value;
        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rdi + value]);
        self.store(result, RAX);
        Ok(())
    }

    /// `countdown -= 1`; when it runs out, the runtime's safepoint (which
    /// may stop the process here, at the state's bytecode offset). It does
    /// not collect: the slots stay valid.
    fn safepoint(&mut self, state: &State) -> Result<(), LowerError> {
        self.count(Some(state))?;
        let go = self.ops.new_dynamic_label();
        let countdown = self.lay.countdown;
        dynasm!(self.ops ; .arch x64 ; sub QWORD [rdi + countdown], 1 ; jg =>go);
        let kept = self.valid.clone();
        self.spill(&state.stack)?;
        self.valid = kept;
        self.call_helper(helpers::Id::lst_safepoint, &[Arg::Imm(i64::from(state.pc))])?;
        dynasm!(self.ops ; .arch x64 ; test rax, rax ; jnz =>go);
        self.leave_native();
        dynasm!(self.ops ; .arch x64 ; =>go);
        Ok(())
    }

    // -- Terminators ---------------------------------------------------------

    /// Copies `call`'s arguments into its block's parameter slots (through
    /// scratch slots when an argument is one of those parameters) and jumps.
    /// `last`: nothing of this block follows, so a jump to the block
    /// emitted next is left out.
    fn jump_to(&mut self, call: &ir::BlockCall, last: bool) -> Result<(), LowerError> {
        let Some(target) = self.f.block(call.block) else {
            return Err(LowerError(format!("{} is missing", call.block)));
        };
        let params = target.params.clone();
        let overlap = call.args.iter().any(|a| params.contains(a));
        for (i, &a) in call.args.iter().enumerate() {
            self.load(RAX, a)?;
            let to = if overlap {
                Self::slot_at(self.scratch + i as u32)
            } else {
                Self::slot(params[i])
            };
            dynasm!(self.ops ; .arch x64 ; mov QWORD [rbp + to], rax);
        }
        if overlap {
            for (i, &p) in params.iter().enumerate() {
                let (from, to) = (Self::slot_at(self.scratch + i as u32), Self::slot(p));
                dynasm!(self.ops
                    ; .arch x64
                    ; mov rax, QWORD [rbp + from]
                    ; mov QWORD [rbp + to], rax
                );
            }
        }
        if !last || Some(call.block) != self.next_block {
            let label = self.blocks[&call.block];
            dynasm!(self.ops ; .arch x64 ; jmp =>label);
        }
        Ok(())
    }

    fn terminator(&mut self, t: &Terminator) -> Result<(), LowerError> {
        match t {
            Terminator::Jump(call) => self.jump_to(call, true),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => self.branch(*cond, then, otherwise),
            Terminator::Return(v) => {
                self.load(RDX, *v)?;
                dynasm!(self.ops ; .arch x64 ; xor ecx, ecx);
                self.tail_call(self.env.targets.return_stub);
                Ok(())
            }
            Terminator::BlockReturn(v) => {
                self.call_helper(
                    helpers::Id::lst_block_return,
                    &[Arg::Value(*v), Arg::Imm(0)],
                )?;
                self.leave_or_call_named();
                Ok(())
            }
            Terminator::Primitive {
                number,
                args,
                fail,
                state,
            } => self.primitive(*number, args, fail, state),
        }
    }

    /// Goes to `then` if `cond` holds, else to `otherwise`: straight to
    /// a block that takes no arguments, through the argument copies of
    /// [`Self::jump_to`] otherwise.
    fn branch(
        &mut self,
        cond: ir::Value,
        then: &ir::BlockCall,
        otherwise: &ir::BlockCall,
    ) -> Result<(), LowerError> {
        if self.bool_in_rdx == Some(cond) {
            dynasm!(self.ops ; .arch x64 ; test edx, edx);
        } else {
            self.load(RAX, cond)?;
            dynasm!(self.ops ; .arch x64 ; test rax, rax);
        }
        if then.args.is_empty() {
            let label = self.blocks[&then.block];
            dynasm!(self.ops ; .arch x64 ; jnz =>label);
            return self.jump_to(otherwise, true);
        }
        if otherwise.args.is_empty() {
            let label = self.blocks[&otherwise.block];
            dynasm!(self.ops ; .arch x64 ; jz =>label);
            return self.jump_to(then, true);
        }
        let no = self.ops.new_dynamic_label();
        dynasm!(self.ops ; .arch x64 ; jz =>no);
        self.jump_to(then, false)?;
        dynasm!(self.ops ; .arch x64 ; =>no);
        self.jump_to(otherwise, true)
    }

    /// `doPrimitive`: the runtime runs it as the interpreter does; on
    /// success the method has returned, on failure the code goes on at
    /// `fail`.
    fn primitive(
        &mut self,
        number: u8,
        args: &[ir::Value],
        fail: &ir::BlockCall,
        state: &State,
    ) -> Result<(), LowerError> {
        let (all, after) = entries::primitive_call(self.facts.bytecodes, state, args)?;
        self.spill(&all)?;
        let (number, nargs, after) = (i64::from(number), args.len() as i64, after as i64);
        self.call_helper(
            helpers::Id::lst_primitive,
            &[Arg::Imm(number), Arg::Imm(nargs), Arg::Imm(after)],
        )?;
        let failed = self.ops.new_dynamic_label();
        self.go_on_or_leave(failed);
        dynasm!(self.ops ; .arch x64 ; =>failed);
        self.reload(&state.stack);
        self.jump_to(fail, true)
    }
}

/// One more than the highest value number of `f`.
fn value_count(f: &ir::Function) -> u32 {
    let params = f.blocks.iter().flat_map(|b| &b.params);
    let results = f
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .flat_map(|d| &d.results);
    params.chain(results).map(|v| v.0 + 1).max().unwrap_or(0)
}
