//! The JIT IR of one method → a Cranelift function, in continuation-passing
//! style on the VM stack (`docs/jit-plan.md` §2–3).
//!
//! The function is `tail fn(vm, hp, value, k) -> u64`. It runs on the frame
//! at header index `hp` and is entered at the method's start (`k = 0`) or
//! at the continuation after its k-th send (`value` is the answer there):
//! the entry block dispatches on `k`. It never returns to compiled code:
//! it ends in a tail call (to the next frame's code) or in a `return` to
//! the trampoline, which hands control to the interpreter.
//!
//! Values live in SSA registers between calls into the runtime. Before a
//! call that may collect or leave native code, the IR's frame state (the
//! interpreter's operand stack) is written into the frame; after it, the
//! values are read back. Anything else live across such a call must be
//! recomputable (the receiver, an argument, a literal, a constant): the
//! lowering refuses the method otherwise.
//!
//! This module builds CLIF only; code memory and helpers' addresses live in
//! [`crate::jit`] and [`crate::helpers`]. It holds the per-instruction
//! logic; the small CLIF pieces it builds from (tag, headers, frame
//! slots, helper calls) are the kit's, [`crate::clif_kit`] and [`kit`].

use crate::clif_kit::{FLAGS, WORD_SHIFT, header, is_ref, pointer_header, size_of};
use crate::entries::{self, state_of};
use crate::exit_stub::Exit;
use crate::helpers::Id;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self as cl, BlockArg, FuncRef, InstBuilder, JumpTableData, SigRef, TrapCode, types::I64,
};
use cranelift_frontend::FunctionBuilder;
use lst_jit::ir::{self, Inst, InstData, State, Terminator};
use lst_vm::jit_runtime::boundary::{self as rt, Layout};
use lst_vm::jit_runtime::inline_cache::SendSite;
use std::collections::HashMap;

mod float_op;
mod inline_ops;
mod int_ops;
mod kit;
mod object_ops;
mod quick_ops;
mod stress_ops;
mod unboxed_ops;

pub use crate::clif_kit::HelperImport;
pub use inline_ops::{InlinedMethod, send_start};

/// Why a method is not compiled.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LowerError(pub String);

/// Up to this many continuations and loop heads, a function's entry
/// compares the entry number with each instead of using a jump table;
/// beyond, it compares with this many continuations of plain sends (the
/// ones entered often) before the table.
const MAX_COMPARED_ENTRIES: usize = 3;

fn refuse<T>(why: impl Into<String>) -> Result<T, LowerError> {
    Err(LowerError(why.into()))
}

/// What the lowering needs to know about the method besides its IR.
pub struct MethodFacts<'a> {
    pub bytecodes: &'a [u8],
    pub literal_count: usize,
    /// The methods inlined into the unit, by constant handle (`None`:
    /// the handle names no method).
    pub inlined: &'a [Option<InlinedMethod>],
}

/// What the runtime must know about the lowered function.
pub struct Lowered {
    /// The entries by k (entry 0 is the start).
    pub entries: Vec<rt::Entry>,
    /// The exits of sends inside inlined code, by the index the code
    /// passes to `lst_inlined_exit`.
    pub inlined_exits: Vec<lst_vm::jit_runtime::unit_constants::InlinedExit>,
}

/// Everything the lowering refers to in the function being built.
pub struct Env<'a> {
    pub layout: &'a Layout,
    /// The helpers, by [`Id`]; each is imported into the function when
    /// first called (an import costs compile time even when unused).
    pub helpers: &'a [HelperImport],
    /// The signature of compiled functions, for tail calls.
    pub tail_sig: SigRef,
    /// The record number of this function's entry 0.
    pub first_record: u32,
    /// The send stub (see [`crate::send_stub`]).
    pub send_stub: FuncRef,
    /// The return stub (see [`crate::return_stub`]).
    pub return_stub: FuncRef,
    /// The Float functions (see [`crate::float_stub`]), by operation.
    pub float_ops: &'a [HelperImport],
    /// The shared exits (see [`crate::exit_stub`]), by [`Exit`].
    pub exits: &'a [HelperImport],
    /// One inline cache per send, in block order.
    pub sites: &'a [SendSite],
    /// The unit's constants, validity word and exits (`None`: the IR
    /// uses none).
    pub unit: Option<&'a lst_vm::jit_runtime::unit_constants::UnitConstants>,
}

/// Lowers `f` into the function `b` is building.
pub fn lower(
    f: &ir::Function,
    facts: &MethodFacts,
    env: &Env,
    b: &mut FunctionBuilder,
) -> Result<Lowered, LowerError> {
    let mut l = Lowering::new(f, facts, env, b);
    l.function()?;
    Ok(Lowered {
        entries: l.entries,
        inlined_exits: l.inlined_exits,
    })
}

struct Lowering<'a, 'b, 'c> {
    f: &'a ir::Function,
    facts: &'a MethodFacts<'a>,
    env: &'a Env<'a>,
    b: &'c mut FunctionBuilder<'b>,
    vm: cl::Value,
    hp: cl::Value,
    /// Byte offsets of the frame's header, receiver and temporaries in the stack.
    hp8: cl::Value,
    fp8: cl::Value,
    tb8: cl::Value,
    /// The header's FP and TB words as they are (tagged SmallInts).
    fp_word: cl::Value,
    tb_word: cl::Value,
    blocks: HashMap<ir::BlockId, cl::Block>,
    /// Definitions of values that can be recomputed anywhere.
    remat: HashMap<ir::Value, Inst>,
    /// The values of the current straight-line segment.
    vals: HashMap<ir::Value, cl::Value>,
    /// The continuation block of each send site, by k − 1.
    conts: Vec<cl::Block>,
    /// The indices in `conts` of sends without an inline arithmetic path:
    /// their continuations are the ones entered often.
    plain_conts: Vec<usize>,
    /// The loop heads entered from the interpreter: IR block and its entry
    /// (k = sends + 1 + index).
    loop_heads: Vec<(ir::BlockId, cl::Block)>,
    next_send: usize,
    entries: Vec<rt::Entry>,
    /// The function's one block that acts on a helper's answer other than
    /// "go on" (see [`Self::dispatch`]), made when first needed.
    leave: Option<cl::Block>,
    /// The helpers, Float functions and exits imported so far, by [`Id`],
    /// by operation and by [`Exit`].
    imported: Vec<Option<FuncRef>>,
    imported_float: Vec<Option<FuncRef>>,
    imported_exit: Vec<Option<FuncRef>>,
    /// The block where the stack's address was last loaded, and the load
    /// (see [`Self::stack_base`]).
    base: Option<(cl::Block, cl::Value)>,
    /// In the IR block being lowered: the failure flags that may branch
    /// straight to its branch's `otherwise` target, and that target (see
    /// [`unboxed_ops::guard_exits`]).
    guard_exit: Option<(std::collections::HashSet<ir::Value>, ir::BlockCall)>,
    /// The exits of sends inside inlined code (see [`inline_ops`]).
    inlined_exits: Vec<lst_vm::jit_runtime::unit_constants::InlinedExit>,
    /// The code being lowered follows an exit: nothing reaches it, and a
    /// value it does not have stands for anything (see
    /// [`Self::inlined_send`]).
    unreachable: bool,
}

impl<'a, 'b, 'c> Lowering<'a, 'b, 'c> {
    fn new(
        f: &'a ir::Function,
        facts: &'a MethodFacts<'a>,
        env: &'a Env<'a>,
        b: &'c mut FunctionBuilder<'b>,
    ) -> Self {
        let zero = cl::Value::from_u32(0);
        Lowering {
            f,
            facts,
            env,
            b,
            vm: zero,
            hp: zero,
            hp8: zero,
            fp8: zero,
            tb8: zero,
            fp_word: zero,
            tb_word: zero,
            blocks: HashMap::new(),
            remat: HashMap::new(),
            vals: HashMap::new(),
            conts: vec![],
            plain_conts: vec![],
            loop_heads: vec![],
            next_send: 0,
            entries: vec![],
            leave: None,
            imported: vec![None; env.helpers.len()],
            imported_float: vec![None; env.float_ops.len()],
            imported_exit: vec![None; env.exits.len()],
            base: None,
            guard_exit: None,
            inlined_exits: vec![],
            unreachable: false,
        }
    }

    fn function(&mut self) -> Result<(), LowerError> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (vm, hp, value, k) = (params[0], params[1], params[2], params[3]);
        self.vm = vm;
        self.hp = hp;
        self.hp8 = self.b.ins().ishl_imm_u(hp, WORD_SHIFT);
        self.fp_word = self.frame_load(self.hp8, self.env.layout.h_fp);
        self.tb_word = self.frame_load(self.hp8, self.env.layout.h_tb);
        self.fp8 = self.index8(self.fp_word);
        self.tb8 = self.index8(self.tb_word);
        self.prepare()?;
        // Dispatch on the entry number.
        let start = self.b.create_block();
        let bad = self.b.create_block();
        let arg = [BlockArg::Value(value)];
        let mut targets = vec![(start, &[][..])];
        targets.extend(self.conts.iter().map(|&c| (c, &arg[..])));
        targets.extend(self.loop_heads.iter().map(|h| (h.1, &[][..])));
        // Calls enter at the start, returns at a continuation: a direct
        // branch for the first; for the rest, a compare per entry when
        // there are few (cheaper to run and to compile than a table), else
        // a jump table. A function with no continuation has neither.
        let resume = if targets.len() > 1 {
            self.b.create_block()
        } else {
            bad
        };
        self.b.ins().brif(k, resume, &[], start, &[]);
        if targets.len() > 1 {
            self.b.switch_to_block(resume);
            if targets.len() <= 1 + MAX_COMPARED_ENTRIES {
                let all: Vec<usize> = (1..targets.len()).collect();
                self.compare_entries(k, &targets, &all);
                self.b.ins().jump(bad, &[]);
            } else {
                // The continuations of plain sends first, then the table.
                let plain: Vec<usize> = self
                    .plain_conts
                    .iter()
                    .take(MAX_COMPARED_ENTRIES)
                    .map(|&i| i + 1)
                    .collect();
                self.compare_entries(k, &targets, &plain);
                let table: Vec<cl::BlockCall> = targets
                    .into_iter()
                    .map(|(block, args)| self.call_of(block, args))
                    .collect();
                let default = self.call_of(bad, &[]);
                let jt = self
                    .b
                    .create_jump_table(JumpTableData::new(default, &table));
                let k = self.b.ins().ireduce(cl::types::I32, k);
                self.b.ins().br_table(k, jt);
            }
        }
        self.b.switch_to_block(bad);
        self.b.ins().trap(TrapCode::unwrap_user(1));
        self.method_start(start)?;
        for i in 0..self.loop_heads.len() {
            self.loop_head_entry(i);
        }
        for block in &self.f.blocks {
            self.block(block)?;
        }
        self.finish_leave_block();
        self.b.seal_all_blocks();
        Ok(())
    }

    /// Branches to `entries[k]` when `k` is one of `which`; goes on in a
    /// new current block otherwise.
    fn compare_entries(
        &mut self,
        k: cl::Value,
        entries: &[(cl::Block, &[BlockArg])],
        which: &[usize],
    ) {
        for &i in which {
            let (block, args) = entries[i];
            let is = self.b.ins().icmp_imm_s(IntCC::Equal, k, i as i64);
            let next = self.b.create_block();
            self.b.ins().brif(is, block, args, next, &[]);
            self.b.switch_to_block(next);
        }
    }

    fn call_of(&mut self, block: cl::Block, args: &[BlockArg]) -> cl::BlockCall {
        self.b.func.dfg.block_call(block, args)
    }

    /// Creates a Cranelift block per IR block, per send continuation and
    /// per loop-head entry, and notes which values can be recomputed.
    fn prepare(&mut self) -> Result<(), LowerError> {
        let plan = entries::plan(self.f, self.facts.bytecodes)?;
        let fallbacks = entries::fallback_blocks(self.f);
        for block in &self.f.blocks {
            let cb = self.b.create_block();
            for (_, t) in block.typed_params() {
                self.b.append_block_param(cb, unboxed_ops::clif_type(t));
            }
            self.blocks.insert(block.id, cb);
            for data in &block.insts {
                if data.inst.is_recomputable() {
                    self.remat.insert(data.results[0], data.inst.clone());
                }
                if let Inst::Send { .. } = data.inst {
                    let c = self.b.create_block();
                    self.b.append_block_param(c, I64);
                    if !fallbacks.contains(&block.id) {
                        self.plain_conts.push(self.conts.len());
                    }
                    self.conts.push(c);
                }
            }
        }
        for &target in &plan.loop_heads {
            let entry = self.b.create_block();
            self.loop_heads.push((target, entry));
        }
        self.entries = plan.entries;
        Ok(())
    }

    /// The entry at loop head `i`: the operand stack the interpreter left
    /// in the frame becomes the head's parameters. A frame whose argument
    /// count is not the method's goes back to the interpreter.
    fn loop_head_entry(&mut self, i: usize) {
        let (target, entry) = self.loop_heads[i];
        let e = self.entries[1 + self.conts.len() + i];
        self.b.switch_to_block(entry);
        self.arity_guard(e.pc);
        let header = self.env.layout.header;
        let args: Vec<BlockArg> = (0..e.depth as usize)
            .map(|j| BlockArg::Value(self.frame_load(self.hp8, header + j)))
            .collect();
        let head = self.blocks[&target];
        self.b.ins().jump(head, &args);
    }

    /// Goes on in a new current block if the frame holds as many
    /// arguments as the method takes; otherwise (a malformed image) leaves
    /// the frame to the interpreter at bytecode offset `pc`.
    fn arity_guard(&mut self, pc: u32) {
        // Tagged words: the difference of the tagged TB and FP is the
        // tagged argument count without its tag.
        let span = self.b.ins().isub(self.tb_word, self.fp_word);
        let want = (i64::from(self.f.arg_count) + 1) << self.env.layout.tag_bits;
        let ok = self.b.ins().icmp_imm_s(IntCC::Equal, span, want);
        let (go, deopt) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(deopt);
        self.b.ins().brif(ok, go, &[], deopt, &[]);
        self.b.switch_to_block(deopt);
        let pc = self.int(i64::from(pc));
        let zero = self.int(0);
        self.exit(Exit::Deopt, [self.vm, self.hp, pc, zero]);
        self.b.switch_to_block(go);
    }

    /// The start of the method or block body: a frame whose argument
    /// count is not the method's (a malformed image) is left to the
    /// interpreter at the unit's first bytecode.
    fn method_start(&mut self, start: cl::Block) -> Result<(), LowerError> {
        self.b.switch_to_block(start);
        self.arity_guard(self.entries[0].pc);
        let go = self.blocks[&self.f.blocks[0].id];
        self.b.ins().jump(go, &[]);
        Ok(())
    }

    fn block(&mut self, block: &ir::Block) -> Result<(), LowerError> {
        let cb = self.blocks[&block.id];
        self.b.switch_to_block(cb);
        self.vals.clear();
        self.unreachable = false;
        self.guard_exit = unboxed_ops::guard_exits(block);
        let params = self.b.block_params(cb).to_vec();
        for (v, p) in block.params.iter().zip(params) {
            self.vals.insert(*v, p);
        }
        for (i, data) in block.insts.iter().enumerate() {
            let at_entry = block.id == self.f.blocks[0].id && i == 0;
            self.inst(data, at_entry)?;
        }
        self.terminator(&block.terminator)
    }

    // -- Values ------------------------------------------------------------------

    fn get(&mut self, v: ir::Value) -> Result<cl::Value, LowerError> {
        if let Some(&x) = self.vals.get(&v) {
            return Ok(x);
        }
        let Some(inst) = self.remat.get(&v).cloned() else {
            if self.unreachable {
                return Ok(self.int(0));
            }
            return refuse(format!("{v} is live across a call"));
        };
        let x = self.pure(&inst)?;
        self.vals.insert(v, x);
        Ok(x)
    }

    fn gets(&mut self, vs: &[ir::Value]) -> Result<Vec<cl::Value>, LowerError> {
        vs.iter().map(|&v| self.get(v)).collect()
    }

    fn block_args(&mut self, vs: &[ir::Value]) -> Result<Vec<BlockArg>, LowerError> {
        Ok(self.gets(vs)?.into_iter().map(BlockArg::Value).collect())
    }

    fn set(&mut self, v: ir::Value, x: cl::Value) {
        self.vals.insert(v, x);
    }

    // -- Instructions ------------------------------------------------------------

    /// Instructions that only read immutable state.
    fn pure(&mut self, inst: &Inst) -> Result<cl::Value, LowerError> {
        if let Inst::Const(k) = *inst {
            return self.const_load(k);
        }
        let tagged = entries::check_pure(inst, self.f.arg_count, self.facts.literal_count)?;
        let lay = self.env.layout;
        Ok(match *inst {
            Inst::SelfRef => self.frame_load(self.fp8, 0),
            Inst::Arg(n) => self.frame_load(self.fp8, n as usize),
            Inst::Literal(n) => {
                let lits = self.frame_load(self.hp8, lay.h_literals);
                let off = self.object_slot(n as usize);
                self.b.ins().load(I64, FLAGS, lits, off)
            }
            Inst::Nil => self.load_vm(lay.nil),
            Inst::True => self.load_vm(lay.true_),
            Inst::False => self.load_vm(lay.false_),
            _ => self.int(tagged.unwrap_or(0)),
        })
    }

    fn inst(&mut self, data: &InstData, at_entry: bool) -> Result<(), LowerError> {
        if self.inline_inst(data)?
            || self.int_inst(data)?
            || self.float_inst(data)?
            || self.unboxed_inst(data)?
            || self.object_inst(data)?
            || self.quick_inst(data)?
            || self.stress_inst(data)?
        {
            return Ok(());
        }
        let r = |i: usize| data.results[i];
        match &data.inst {
            i if i.is_recomputable() => {
                let x = self.pure(i)?;
                self.set(r(0), x);
            }
            Inst::Same(a, b) => {
                let (a, b) = (self.get(*a)?, self.get(*b)?);
                let c = self.b.ins().icmp(IntCC::Equal, a, b);
                self.set(r(0), c);
            }
            Inst::Not(c) => {
                let c = self.get(*c)?;
                let n = self.b.ins().icmp_imm_s(IntCC::Equal, c, 0);
                self.set(r(0), n);
            }
            Inst::BoolObj(c) => {
                let c = self.get(*c)?;
                let v = self.bool_obj(c);
                self.set(r(0), v);
            }
            Inst::Temp(n) => {
                let v = self.temp(*n, None, state_of(data)?)?;
                self.set(r(0), v.expect("a temp load answers a value"));
            }
            Inst::SetTemp(n, v) => {
                let x = self.get(*v)?;
                self.temp(*n, Some(x), state_of(data)?)?;
            }
            Inst::Ivar(n) => {
                let v = self.ivar(*n, None, state_of(data)?)?;
                self.set(r(0), v.expect("an ivar load answers a value"));
            }
            Inst::SetIvar(n, v) => {
                let x = self.get(*v)?;
                self.ivar(*n, Some(x), state_of(data)?)?;
            }
            Inst::Send {
                selector,
                receiver,
                args,
                to_super,
            } => self.send(selector, *receiver, args, *to_super, state_of(data)?, r(0))?,
            Inst::MakeBlock { arg_location, body } => {
                self.make_block(*arg_location, *body, state_of(data)?, r(0))?
            }
            Inst::Safepoint if at_entry => {
                // The send that entered the method has ticked already.
            }
            Inst::Safepoint => self.safepoint(state_of(data)?)?,
            other => return refuse(format!("cannot lower {other:?}")),
        }
        Ok(())
    }

    /// Reads (`store` None) or writes temporary `n`: in the frame, or in
    /// the heap Array that `TEMPS` points to once blocks share them.
    fn temp(
        &mut self,
        n: u8,
        store: Option<cl::Value>,
        state: &State,
    ) -> Result<Option<cl::Value>, LowerError> {
        if n >= self.f.temp_count {
            return refuse(format!(
                "temporary {n} of a method with {}",
                self.f.temp_count
            ));
        }
        let lay = *self.env.layout;
        let temps = self.frame_load(self.hp8, lay.h_temps);
        let nil = self.load_vm(lay.nil);
        let inline = self.b.ins().icmp(IntCC::Equal, temps, nil);
        let (frame, heap, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        if store.is_none() {
            self.b.append_block_param(join, I64);
        }
        self.b.ins().brif(inline, frame, &[], heap, &[]);
        // Inline in the frame.
        self.b.switch_to_block(frame);
        let args: Vec<BlockArg> = match store {
            Some(x) => {
                self.frame_store(self.tb8, n as usize, x);
                vec![]
            }
            None => vec![BlockArg::Value(self.frame_load(self.tb8, n as usize))],
        };
        self.b.ins().jump(join, &args);
        // In the heap Array.
        self.b.switch_to_block(heap);
        let header = header(self.b, &lay, temps);
        let size = size_of(self.b, &lay, header);
        let fits = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThan, size, i64::from(n));
        self.check(fits, state, rt::TRAP_TEMP)?;
        let off = self.object_slot(n as usize);
        let args: Vec<BlockArg> = match store {
            Some(x) => {
                self.store_ref(temps, off, x);
                vec![]
            }
            None => vec![BlockArg::Value(self.b.ins().load(I64, FLAGS, temps, off))],
        };
        self.b.ins().jump(join, &args);
        self.b.switch_to_block(join);
        Ok(self.b.block_params(join).first().copied())
    }

    /// Reads or writes instance variable `n` of the receiver, after checking
    /// that the receiver is a pointer object with that slot.
    fn ivar(
        &mut self,
        n: u8,
        store: Option<cl::Value>,
        state: &State,
    ) -> Result<Option<cl::Value>, LowerError> {
        let lay = *self.env.layout;
        let receiver = self.frame_load(self.fp8, 0);
        let object = is_ref(self.b, &lay, receiver);
        self.check(object, state, rt::TRAP_IVAR)?;
        let header = header(self.b, &lay, receiver);
        let (pointers, size) = pointer_header(self.b, &lay, header);
        let has = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThan, size, i64::from(n));
        let ok = self.b.ins().band(has, pointers);
        self.check(ok, state, rt::TRAP_IVAR)?;
        let off = self.object_slot(n as usize);
        Ok(match store {
            Some(x) => {
                self.store_ref(receiver, off, x);
                None
            }
            None => Some(self.b.ins().load(I64, FLAGS, receiver, off)),
        })
    }

    fn send(
        &mut self,
        selector: &ir::Selector,
        receiver: ir::Value,
        args: &[ir::Value],
        to_super: bool,
        state: &State,
        result: ir::Value,
    ) -> Result<(), LowerError> {
        let k = self.next_send + 1;
        let Some(site) = self.env.sites.get(k - 1) else {
            return refuse("more sends than send sites");
        };
        if state.is_chained() {
            self.next_send = k;
            let cont = self.conts[k - 1];
            return self.inlined_send(state, receiver, args, cont, result);
        }
        let mut all = state.stack.clone();
        all.push(receiver);
        all.extend_from_slice(args);
        self.spill(&all)?;
        let receiver = self.get(receiver)?;
        self.next_send = k;
        let record = u64::from(self.env.first_record) + k as u64;
        entries::prepare_site(
            site,
            *selector,
            to_super,
            args.len(),
            self.facts.literal_count,
            record,
        )?;
        let site = self.int(site as *const SendSite as i64);
        let cont = self.conts[k - 1];
        let args = [self.vm, self.hp, site, receiver];
        self.b.ins().return_call(self.env.send_stub, &args);
        self.b.switch_to_block(cont);
        self.reload(&state.stack);
        let value = self.b.block_params(cont)[0];
        self.set(result, value);
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
        let args = [
            self.vm,
            self.hp,
            self.int(i64::from(arg_location)),
            self.int(i64::from(body)),
            self.int(i64::from(state.pc)),
        ];
        let r = self.helper(Id::lst_make_block, &args);
        let (exit, after) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(r, after, &[], exit, &[]);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[r]);
        self.b.switch_to_block(after);
        self.reload(&state.stack);
        let block = self.load_vm(self.env.layout.regs_value);
        self.set(result, block);
        Ok(())
    }

    /// `countdown -= 1`, going on in a new cold block when it ran out and
    /// at `resume` otherwise; answers (`exit`, a second cold block for
    /// the way out of native code, and `resume`), the builder in the
    /// first cold block. Both safepoints, the unit's and inlined code's,
    /// start so.
    pub(super) fn countdown_runs_out(&mut self) -> (cl::Block, cl::Block) {
        let at = self.env.layout.countdown;
        let n = self.load_vm(at);
        let n = self.b.ins().iadd_imm_s(n, -1);
        let vm = self.vm;
        self.b.ins().store(FLAGS, n, vm, at);
        let due = self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, n, 0);
        let (slow, exit, resume) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.set_cold_block(slow);
        self.b.set_cold_block(exit);
        self.b.ins().brif(due, slow, &[], resume, &[]);
        self.b.switch_to_block(slow);
        (exit, resume)
    }

    /// `countdown -= 1`; when it runs out, the runtime's safepoint (which
    /// may stop the process here, at the state's bytecode offset).
    fn safepoint(&mut self, state: &State) -> Result<(), LowerError> {
        let (exit, resume) = self.countdown_runs_out();
        self.spill_off_path(&state.stack)?;
        let pc = self.int(i64::from(state.pc));
        let r = self.helper(Id::lst_safepoint, &[self.vm, self.hp, pc]);
        self.b.ins().brif(r, resume, &[], exit, &[]);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[r]);
        // The safepoint does not collect: the segment's values stay valid.
        self.b.switch_to_block(resume);
        Ok(())
    }

    // -- Terminators -------------------------------------------------------------

    fn jump_to(&mut self, call: &ir::BlockCall) -> Result<(), LowerError> {
        let args = self.block_args(&call.args)?;
        let target = self.blocks[&call.block];
        self.b.ins().jump(target, &args);
        Ok(())
    }

    fn terminator(&mut self, t: &Terminator) -> Result<(), LowerError> {
        match t {
            Terminator::Jump(call) => self.jump_to(call),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => {
                let c = self.get(*cond)?;
                let targs = self.block_args(&then.args)?;
                let eargs = self.block_args(&otherwise.args)?;
                let (tb, eb) = (self.blocks[&then.block], self.blocks[&otherwise.block]);
                self.b.ins().brif(c, tb, &targs, eb, &eargs);
                Ok(())
            }
            Terminator::Return(v) => {
                let v = self.get(*v)?;
                let unused = self.int(0);
                let args = [self.vm, self.hp, v, unused];
                self.b.ins().return_call(self.env.return_stub, &args);
                Ok(())
            }
            Terminator::BlockReturn(v) => {
                let v = self.get(*v)?;
                let pc = self.int(0);
                let r = self.helper(Id::lst_block_return, &[self.vm, self.hp, v, pc]);
                self.dispatch(r, None);
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

    /// `doPrimitive`: the runtime runs it as the interpreter does; on
    /// success the method has returned, on failure the code goes on at
    /// `fail` with nil pushed.
    fn primitive(
        &mut self,
        number: u8,
        args: &[ir::Value],
        fail: &ir::BlockCall,
        state: &State,
    ) -> Result<(), LowerError> {
        let (all, after) = entries::primitive_call(self.facts.bytecodes, state, args)?;
        self.spill(&all)?;
        let call_args = [
            self.vm,
            self.hp,
            self.int(i64::from(number)),
            self.int(args.len() as i64),
            self.int(after as i64),
        ];
        let r = self.helper(Id::lst_primitive, &call_args);
        let failed = self.b.create_block();
        self.b.append_block_param(failed, I64);
        self.dispatch(r, Some(failed));
        self.b.switch_to_block(failed);
        self.reload(&state.stack);
        self.jump_to(fail)
    }
}
