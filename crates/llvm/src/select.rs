//! The instruction selector: the JIT IR of one method or block body → one
//! LLVM function, `tailcc i64 (vm, hp, value, k)`, in continuation-passing
//! style on the VM stack, op by op as the Cranelift lowering does it
//! (`lst_backends::lower`), with no Smalltalk semantics of its own.
//!
//! The function runs on the frame at header index `hp` and is entered at
//! the start (`k` = 0), after its k-th send (`value` is the answer) or at
//! a loop head (on-stack replacement); the entry block switches on `k`.
//! It never returns to compiled code: it ends in a `musttail` call (to the
//! shared send or return stub, an exit, or code a helper named) or in a
//! `ret` to the trampoline, which hands control to the interpreter.
//!
//! Values live in LLVM registers between calls that may collect; before
//! such a call the IR's frame state is written into the frame and after it
//! the values are read back; anything else live across it must be
//! recomputable (the selector declines the method otherwise). So LLVM
//! needs no GC statepoints. Sends always go through the send stub; the
//! SmallInt, Float, object and quick-method fast paths and the unboxed
//! Float regions are the IR's (`lst_jit::semantic` made them) and are
//! selected op by op in `int_ops`, `float_ops`, `object_ops`,
//! `quick_ops` and `unboxed_ops` (and the deopt stress's ticks in
//! `stress_ops`). An op the
//! selector does not handle yet is declined with its name; the method then
//! stays with the interpreter.

mod alloc_ops;
mod float_ops;
mod int_ops;
mod kit;
mod object_ops;
mod quick_ops;
mod stress_ops;
mod unboxed_ops;

use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::types::{FunctionType, IntType, PointerType};
use inkwell::values::{FunctionValue, IntValue, PhiValue};
use kit::bx;
use lst_backends::baseline::Targets;
use lst_backends::entries::{self, state_of};
use lst_backends::helpers::Id;
use lst_jit::ir::{self, Inst, InstData, State, Terminator};
use lst_vm::jit_runtime::boundary::{self as rt, Layout};
use lst_vm::jit_runtime::inline_cache::SendSite;
use std::collections::HashMap;

/// LLVM's number for the `tailcc` calling convention, which matches
/// Cranelift's `tail` for four word arguments (see the crate doc).
pub(crate) const TAILCC: u32 = 18;

/// The selector's results: a refusal says why, as text.
pub(crate) type R<T> = Result<T, String>;

/// What the selector refers to besides the IR.
pub struct Env<'a> {
    pub layout: &'a Layout,
    /// The shared stubs' and the helpers' addresses.
    pub targets: &'a Targets,
    /// The addresses of the unit's inline caches, prepared for its sends
    /// on the main thread (see [`Sites::prepare`]).
    pub sites: &'a Sites,
    pub bytecodes: &'a [u8],
    pub literal_count: usize,
}

/// The addresses of a unit's send sites, as the selector embeds them:
/// one per send in block order, and the site of the send at each pc.
/// Made on the main thread, where the sites are written; code generation
/// reads only these numbers, so it may run on the compile worker while
/// the tier owns the sites.
#[derive(Clone, Debug, Default)]
pub struct Sites {
    by_send: Vec<u64>,
    by_pc: HashMap<u16, u64>,
}

impl Sites {
    /// Prepares `sites` (one per send of `f`, in block order) for the
    /// sends of `f`, whose function's entry 0 is record `first_record`
    /// (the k-th send resumes at record `first_record + k`), and answers
    /// their addresses.
    pub fn prepare(
        f: &ir::Function,
        sites: &[SendSite],
        first_record: u32,
        literal_count: usize,
    ) -> R<Sites> {
        let sends = f
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter_map(|d| match &d.inst {
                Inst::Send {
                    selector,
                    args,
                    to_super,
                    ..
                } => Some((d, *selector, args.len(), *to_super)),
                _ => None,
            });
        let mut by_send = vec![];
        let mut pcs = vec![];
        for (k, (data, selector, nargs, to_super)) in sends.enumerate() {
            let site = sites.get(k).ok_or("more sends than send sites")?;
            let record = u64::from(first_record) + k as u64 + 1;
            entries::prepare_site(site, selector, to_super, nargs, literal_count, record)
                .map_err(|e| e.0)?;
            by_send.push(address(site));
            pcs.extend(data.state.as_ref().map(|s| s.pc));
        }
        let by_pc = pcs
            .into_iter()
            .filter_map(|pc| Some((pc, address(entries::site_at(f, sites, pc).ok()?))))
            .collect();
        Ok(Sites { by_send, by_pc })
    }

    /// The address of the k-th send's site (k from 1).
    fn of_send(&self, k: usize) -> R<u64> {
        let at = k.checked_sub(1).and_then(|i| self.by_send.get(i));
        at.copied()
            .ok_or_else(|| "more sends than send sites".into())
    }

    /// The address of the site of the send whose state's pc is `pc` (as
    /// `lst_backends::entries::site_at` finds it).
    pub(crate) fn at_pc(&self, pc: u16) -> R<u64> {
        self.by_pc
            .get(&pc)
            .copied()
            .ok_or_else(|| format!("no send at pc {pc} for its site"))
    }
}

/// The address of `site`, as code embeds it.
fn address(site: &SendSite) -> u64 {
    site as *const SendSite as u64
}

/// Builds function `name` from `f` into `module`; answers its entries.
pub fn select<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    f: &ir::Function,
    env: &Env,
) -> R<Vec<rt::Entry>> {
    let i64t = cx.i64_type();
    let tail_type = i64t.fn_type(&[i64t.into(); 4], false);
    let function = module.add_function(name, tail_type, None);
    function.set_call_conventions(TAILCC);
    no_jump_tables(cx, function);
    let params: Vec<IntValue> = function
        .get_param_iter()
        .map(|p| p.into_int_value())
        .collect();
    let mut s = Selector {
        cx,
        module,
        b: cx.create_builder(),
        f: function,
        ir: f,
        env,
        i64t,
        ptr: cx.ptr_type(inkwell::AddressSpace::default()),
        tail_type,
        vm: params[0],
        hp: params[1],
        value: params[2],
        hp8: params[1],
        fp8: params[1],
        tb8: params[1],
        fp_word: params[1],
        tb_word: params[1],
        blocks: HashMap::new(),
        remat: HashMap::new(),
        vals: HashMap::new(),
        conts: vec![],
        loop_heads: vec![],
        next_send: 0,
        entries: vec![],
    };
    s.function(params[3])?;
    Ok(s.entries)
}

/// Lowers the entry `switch` to compares instead of a jump table: its
/// indirect jump alternates between the start and the continuations of
/// one call and is mispredicted about once per call, while compares are
/// predicted well (callgrind's branch simulation on fib).
fn no_jump_tables<'ctx>(cx: &'ctx Context, function: FunctionValue<'ctx>) {
    let attribute = cx.create_string_attribute("no-jump-tables", "true");
    function.add_attribute(inkwell::attributes::AttributeLoc::Function, attribute);
}

pub(crate) struct Selector<'ctx, 'a> {
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: Builder<'ctx>,
    f: FunctionValue<'ctx>,
    ir: &'a ir::Function,
    env: &'a Env<'a>,
    i64t: IntType<'ctx>,
    ptr: PointerType<'ctx>,
    /// The type of every compiled function and stub.
    tail_type: FunctionType<'ctx>,
    /// The function's parameters (the entry number is only switched on).
    vm: IntValue<'ctx>,
    hp: IntValue<'ctx>,
    value: IntValue<'ctx>,
    /// Byte offsets of the frame's header, receiver and temporaries in
    /// the stack, and the header's FP and TB words (tagged).
    hp8: IntValue<'ctx>,
    fp8: IntValue<'ctx>,
    tb8: IntValue<'ctx>,
    fp_word: IntValue<'ctx>,
    tb_word: IntValue<'ctx>,
    /// Each IR block's LLVM block and the phis of its parameters.
    blocks: HashMap<ir::BlockId, (BasicBlock<'ctx>, Vec<PhiValue<'ctx>>)>,
    /// Definitions of values that can be recomputed anywhere.
    remat: HashMap<ir::Value, Inst>,
    /// The values of the current straight-line segment.
    vals: HashMap<ir::Value, IntValue<'ctx>>,
    /// The continuation block of each send, by k − 1.
    conts: Vec<BasicBlock<'ctx>>,
    /// The loop heads entered from the interpreter, and their entry blocks.
    loop_heads: Vec<(ir::BlockId, BasicBlock<'ctx>)>,
    next_send: usize,
    entries: Vec<rt::Entry>,
}

impl<'ctx> Selector<'ctx, '_> {
    fn function(&mut self, k: IntValue<'ctx>) -> R<()> {
        let entry = self.new_block("entry");
        self.b.position_at_end(entry);
        let lay = self.env.layout;
        self.hp8 = self.shl_imm(self.hp, 3)?;
        self.fp_word = self.frame_load(self.hp8, lay.h_fp)?;
        self.tb_word = self.frame_load(self.hp8, lay.h_tb)?;
        self.fp8 = self.index8(self.fp_word)?;
        self.tb8 = self.index8(self.tb_word)?;
        self.prepare()?;
        let start = self.new_block("start");
        let bad = self.new_block("bad_entry");
        self.b.position_at_end(entry);
        let mut cases = vec![(self.i64t.const_zero(), start)];
        let resumes = self
            .conts
            .iter()
            .chain(self.loop_heads.iter().map(|h| &h.1));
        for (i, &block) in resumes.enumerate() {
            cases.push((self.int(i as i64 + 1), block));
        }
        self.b.build_switch(k, bad, &cases).map_err(bx)?;
        self.b.position_at_end(bad);
        let trap = Intrinsic::find("llvm.trap").ok_or("no llvm.trap")?;
        let trap = trap
            .get_declaration(self.module, &[])
            .ok_or("no llvm.trap declaration")?;
        self.b.build_call(trap, &[], "").map_err(bx)?;
        self.b.build_unreachable().map_err(bx)?;
        self.method_start(start)?;
        for i in 0..self.loop_heads.len() {
            self.loop_head_entry(i)?;
        }
        for block in &self.ir.blocks {
            self.block(block)?;
        }
        Ok(())
    }

    /// Creates an LLVM block (with a phi per parameter) per IR block and
    /// one per send continuation and loop-head entry, and notes which
    /// values can be recomputed.
    fn prepare(&mut self) -> R<()> {
        let plan = entries::plan(self.ir, self.env.bytecodes).map_err(|e| e.0)?;
        for block in &self.ir.blocks {
            let lb = self.new_block(&format!("{}", block.id));
            self.b.position_at_end(lb);
            let phis = block
                .params
                .iter()
                .map(|_| self.b.build_phi(self.i64t, "").map_err(bx))
                .collect::<R<Vec<_>>>()?;
            self.blocks.insert(block.id, (lb, phis));
            for data in &block.insts {
                if data.inst.is_recomputable() {
                    self.remat.insert(data.results[0], data.inst.clone());
                }
                if matches!(data.inst, Inst::Send { .. }) {
                    let k = self.conts.len() + 1;
                    self.conts.push(self.new_block(&format!("k{k}")));
                }
            }
        }
        for &target in &plan.loop_heads {
            self.loop_heads.push((target, self.new_block("loop_entry")));
        }
        self.entries = plan.entries;
        Ok(())
    }

    /// Goes on in a new current block if the frame holds as many arguments
    /// as the method takes; otherwise (a malformed image) leaves the frame
    /// to the interpreter at bytecode offset `pc`.
    fn arity_guard(&mut self, pc: u32) -> R<()> {
        let span = self
            .b
            .build_int_sub(self.tb_word, self.fp_word, "")
            .map_err(bx)?;
        let want = (i64::from(self.ir.arg_count) + 1) << self.env.layout.tag_bits;
        let ok = self.cmp_imm(IntPredicate::EQ, span, want)?;
        let (go, deopt) = (self.new_block("arity_ok"), self.new_block("deopt"));
        self.b.build_conditional_branch(ok, go, deopt).map_err(bx)?;
        self.b.position_at_end(deopt);
        let pc = self.int(i64::from(pc));
        let zero = self.int(0);
        self.tail_call_shared(self.env.targets.exit_deopt, [self.vm, self.hp, pc, zero])?;
        self.b.position_at_end(go);
        Ok(())
    }

    fn method_start(&mut self, start: BasicBlock<'ctx>) -> R<()> {
        self.b.position_at_end(start);
        self.arity_guard(self.entries[0].pc)?;
        let first = self.blocks[&self.ir.blocks[0].id].0;
        self.b.build_unconditional_branch(first).map_err(bx)?;
        Ok(())
    }

    /// The entry at loop head `i`: the operand stack the interpreter left
    /// in the frame becomes the head's parameters.
    fn loop_head_entry(&mut self, i: usize) -> R<()> {
        let (target, entry) = self.loop_heads[i];
        let e = self.entries[1 + self.conts.len() + i];
        self.b.position_at_end(entry);
        self.arity_guard(e.pc)?;
        let header = self.env.layout.header;
        let args = (0..e.depth as usize)
            .map(|j| self.frame_load(self.hp8, header + j))
            .collect::<R<Vec<_>>>()?;
        self.branch_with(target, &args)
    }

    fn block(&mut self, block: &ir::Block) -> R<()> {
        let (lb, phis) = self.blocks[&block.id].clone();
        self.b.position_at_end(lb);
        self.vals.clear();
        for (v, p) in block.params.iter().zip(phis) {
            self.vals.insert(*v, p.as_basic_value().into_int_value());
        }
        for (i, data) in block.insts.iter().enumerate() {
            let at_entry = block.id == self.ir.blocks[0].id && i == 0;
            self.inst(data, at_entry)?;
        }
        self.terminator(&block.terminator)
    }

    // -- Values ----------------------------------------------------------------

    fn get(&mut self, v: ir::Value) -> R<IntValue<'ctx>> {
        if let Some(&x) = self.vals.get(&v) {
            return Ok(x);
        }
        let Some(inst) = self.remat.get(&v).cloned() else {
            return Err(format!("{v} is live across a call"));
        };
        let x = self.pure(&inst)?;
        self.vals.insert(v, x);
        Ok(x)
    }

    fn set(&mut self, v: ir::Value, x: IntValue<'ctx>) {
        self.vals.insert(v, x);
    }

    // -- Instructions ----------------------------------------------------------

    /// Instructions that only read immutable state.
    fn pure(&mut self, inst: &Inst) -> R<IntValue<'ctx>> {
        let tagged = entries::check_pure(inst, self.ir.arg_count, self.env.literal_count)
            .map_err(|e| e.0)?;
        let lay = self.env.layout;
        match *inst {
            Inst::SelfRef => self.frame_load(self.fp8, 0),
            Inst::Arg(n) => self.frame_load(self.fp8, n as usize),
            Inst::Literal(n) => {
                let lits = self.frame_load(self.hp8, lay.h_literals)?;
                self.load(lits, self.object_slot(n as usize))
            }
            Inst::Nil => self.load_vm(lay.nil),
            Inst::True => self.load_vm(lay.true_),
            Inst::False => self.load_vm(lay.false_),
            _ => Ok(self.int(tagged.unwrap_or(0))),
        }
    }

    fn inst(&mut self, data: &InstData, at_entry: bool) -> R<()> {
        let r = |i: usize| data.results[i];
        match &data.inst {
            i if i.is_recomputable() => {
                let x = self.pure(i)?;
                self.set(r(0), x);
            }
            Inst::Same(a, b) => {
                let (a, b) = (self.get(*a)?, self.get(*b)?);
                let c = self.cmp(IntPredicate::EQ, a, b)?;
                self.set(r(0), c);
            }
            _ if self.int_inst(data)? || self.float_inst(data)? => {}
            _ if self.object_inst(data)? || self.quick_inst(data)? => {}
            _ if self.unboxed_inst(data)? => {}
            _ if self.stress_inst(data)? => {}
            Inst::Not(c) => {
                let c = self.get(*c)?;
                let n = self.b.build_not(c, "").map_err(bx)?;
                self.set(r(0), n);
            }
            Inst::BoolObj(c) => {
                let c = self.get(*c)?;
                let v = self.bool_obj(c)?;
                self.set(r(0), v);
            }
            Inst::Temp(n) => {
                let v = self.temp(*n, None, state_of(data).map_err(|e| e.0)?)?;
                self.set(r(0), v.ok_or("a temp load answers a value")?);
            }
            Inst::SetTemp(n, v) => {
                let x = self.get(*v)?;
                self.temp(*n, Some(x), state_of(data).map_err(|e| e.0)?)?;
            }
            Inst::Ivar(n) => {
                let v = self.ivar(*n, None, state_of(data).map_err(|e| e.0)?)?;
                self.set(r(0), v.ok_or("an ivar load answers a value")?);
            }
            Inst::SetIvar(n, v) => {
                let x = self.get(*v)?;
                self.ivar(*n, Some(x), state_of(data).map_err(|e| e.0)?)?;
            }
            Inst::Send { receiver, args, .. } => {
                let state = state_of(data).map_err(|e| e.0)?;
                self.send(*receiver, args, state, r(0))?
            }
            Inst::MakeBlock { arg_location, body } => {
                let state = state_of(data).map_err(|e| e.0)?;
                self.make_block(*arg_location, *body, state, r(0))?
            }
            // The send that entered the method has ticked already.
            Inst::Safepoint if at_entry => {}
            Inst::Safepoint => self.safepoint(state_of(data).map_err(|e| e.0)?)?,
            #[allow(unreachable_patterns)]
            other => return Err(format!("llvm: cannot select {}", op_name(other))),
        }
        Ok(())
    }

    /// true or false, as `i1` `c` says.
    fn bool_obj(&mut self, c: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let t = self.load_vm(self.env.layout.true_)?;
        let f = self.load_vm(self.env.layout.false_)?;
        let v = self.b.build_select(c, t, f, "").map_err(bx)?;
        Ok(v.into_int_value())
    }

    /// Reads (`store` None) or writes temporary `n`: in the frame, or in
    /// the heap Array that `TEMPS` points to once blocks share them.
    fn temp(
        &mut self,
        n: u8,
        store: Option<IntValue<'ctx>>,
        state: &State,
    ) -> R<Option<IntValue<'ctx>>> {
        if n >= self.ir.temp_count {
            return Err(format!(
                "temporary {n} of a method with {}",
                self.ir.temp_count
            ));
        }
        let lay = self.env.layout;
        let temps = self.frame_load(self.hp8, lay.h_temps)?;
        let nil = self.load_vm(lay.nil)?;
        let inline = self.cmp(IntPredicate::EQ, temps, nil)?;
        let (frame, heap, join) = (
            self.new_block("temp_frame"),
            self.new_block("temp_heap"),
            self.new_block("temp_join"),
        );
        self.b
            .build_conditional_branch(inline, frame, heap)
            .map_err(bx)?;
        // Inline in the frame.
        self.b.position_at_end(frame);
        let from_frame = match store {
            Some(x) => {
                self.frame_store(self.tb8, n as usize, x)?;
                None
            }
            None => Some(self.frame_load(self.tb8, n as usize)?),
        };
        let frame_end = self.here()?;
        self.b.build_unconditional_branch(join).map_err(bx)?;
        // In the heap Array.
        self.b.position_at_end(heap);
        let header = self.load(temps, i64::from(lay.header_word))?;
        let size = self.and_imm(header, lay.size_mask as i64)?;
        let fits = self.cmp_imm(IntPredicate::UGT, size, i64::from(n))?;
        self.check(fits, state, rt::TRAP_TEMP)?;
        let off = self.object_slot(n as usize);
        let from_heap = match store {
            Some(x) => {
                self.store_ref(temps, off, x)?;
                None
            }
            None => Some(self.load(temps, off)?),
        };
        let heap_end = self.here()?;
        self.b.build_unconditional_branch(join).map_err(bx)?;
        self.b.position_at_end(join);
        match (from_frame, from_heap) {
            (Some(a), Some(b)) => {
                let phi = self.b.build_phi(self.i64t, "").map_err(bx)?;
                phi.add_incoming(&[(&a, frame_end), (&b, heap_end)]);
                Ok(Some(phi.as_basic_value().into_int_value()))
            }
            _ => Ok(None),
        }
    }

    /// Reads or writes instance variable `n` of the receiver, after checking
    /// that the receiver is a pointer object with that slot.
    fn ivar(
        &mut self,
        n: u8,
        store: Option<IntValue<'ctx>>,
        state: &State,
    ) -> R<Option<IntValue<'ctx>>> {
        let lay = self.env.layout;
        let receiver = self.frame_load(self.fp8, 0)?;
        let tag = self.and_imm(receiver, lay.tag_mask)?;
        let object = self.cmp_imm(IntPredicate::EQ, tag, 0)?;
        self.check(object, state, rt::TRAP_IVAR)?;
        let header = self.load(receiver, i64::from(lay.header_word))?;
        let bytes = self.and_imm(header, lay.bytes_flag as i64)?;
        let pointers = self.cmp_imm(IntPredicate::EQ, bytes, 0)?;
        let size = self.and_imm(header, lay.size_mask as i64)?;
        let has = self.cmp_imm(IntPredicate::UGT, size, i64::from(n))?;
        let ok = self.b.build_and(has, pointers, "").map_err(bx)?;
        self.check(ok, state, rt::TRAP_IVAR)?;
        let off = self.object_slot(n as usize);
        match store {
            Some(x) => {
                self.store_ref(receiver, off, x)?;
                Ok(None)
            }
            None => Ok(Some(self.load(receiver, off)?)),
        }
    }

    /// A send through the send stub: the frame state, receiver and
    /// arguments go into the frame, the stub is tail-called with the send
    /// site, and the code goes on in the send's continuation block, which
    /// the stub's callee returns to with the answer.
    fn send(
        &mut self,
        receiver: ir::Value,
        args: &[ir::Value],
        state: &State,
        result: ir::Value,
    ) -> R<()> {
        let k = self.next_send + 1;
        let site = self.env.sites.of_send(k)?;
        let mut all = state.stack.clone();
        all.push(receiver);
        all.extend_from_slice(args);
        self.spill(&all)?;
        let receiver = self.get(receiver)?;
        self.next_send = k;
        let site = self.int(site as i64);
        self.tail_call_shared(
            self.env.targets.send_stub,
            [self.vm, self.hp, site, receiver],
        )?;
        self.b.position_at_end(self.conts[k - 1]);
        self.reload(&state.stack)?;
        self.set(result, self.value);
        Ok(())
    }

    fn make_block(
        &mut self,
        arg_location: u8,
        body: u16,
        state: &State,
        result: ir::Value,
    ) -> R<()> {
        self.spill(&state.stack)?;
        let args = [
            self.vm,
            self.hp,
            self.int(i64::from(arg_location)),
            self.int(i64::from(body)),
            self.int(i64::from(state.pc)),
        ];
        let r = self.helper(Id::lst_make_block, &args)?;
        self.go_on_unless_zero(r)?;
        self.reload(&state.stack)?;
        let block = self.load_vm(self.env.layout.regs_value)?;
        self.set(result, block);
        Ok(())
    }

    /// `countdown -= 1`; when it runs out, the runtime's safepoint (which
    /// may stop the process here, at the state's bytecode offset).
    fn safepoint(&mut self, state: &State) -> R<()> {
        let at = self.env.layout.countdown;
        let n = self.load_vm(at)?;
        let n = self.add_imm(n, -1)?;
        self.store(self.vm, i64::from(at), n)?;
        let due = self.cmp_imm(IntPredicate::SLE, n, 0)?;
        let (slow, resume) = (self.new_block("safepoint"), self.new_block("resume"));
        self.b
            .build_conditional_branch(due, slow, resume)
            .map_err(bx)?;
        self.b.position_at_end(slow);
        self.spill_off_path(&state.stack)?;
        let pc = self.int(i64::from(state.pc));
        let r = self.helper(Id::lst_safepoint, &[self.vm, self.hp, pc])?;
        self.go_on_unless_zero(r)?;
        // The safepoint does not collect: the segment's values stay valid.
        self.b.build_unconditional_branch(resume).map_err(bx)?;
        self.b.position_at_end(resume);
        Ok(())
    }

    // -- Terminators -----------------------------------------------------------

    /// Branches from the current block to IR block `target` with `args`
    /// for its parameters.
    fn branch_with(&mut self, target: ir::BlockId, args: &[IntValue<'ctx>]) -> R<()> {
        let (lb, phis) = self
            .blocks
            .get(&target)
            .cloned()
            .ok_or_else(|| format!("no block {target}"))?;
        if phis.len() != args.len() {
            return Err(format!("{target} takes {} arguments", phis.len()));
        }
        let here = self.here()?;
        for (phi, arg) in phis.iter().zip(args) {
            phi.add_incoming(&[(arg, here)]);
        }
        self.b.build_unconditional_branch(lb).map_err(bx)?;
        Ok(())
    }

    fn jump_to(&mut self, call: &ir::BlockCall) -> R<()> {
        let args = call
            .args
            .iter()
            .map(|&v| self.get(v))
            .collect::<R<Vec<_>>>()?;
        self.branch_with(call.block, &args)
    }

    fn terminator(&mut self, t: &Terminator) -> R<()> {
        match t {
            Terminator::Jump(call) => self.jump_to(call),
            Terminator::Branch {
                cond,
                then,
                otherwise,
            } => {
                // Each edge gets a block of its own, so that both may go
                // to the same IR block with different arguments.
                let c = self.get(*cond)?;
                let (t, e) = (self.new_block("then"), self.new_block("else"));
                self.b.build_conditional_branch(c, t, e).map_err(bx)?;
                let kept = self.vals.clone();
                self.b.position_at_end(t);
                self.jump_to(then)?;
                self.vals = kept;
                self.b.position_at_end(e);
                self.jump_to(otherwise)
            }
            Terminator::Return(v) => {
                let v = self.get(*v)?;
                let unused = self.int(0);
                self.tail_call_shared(self.env.targets.return_stub, [self.vm, self.hp, v, unused])
            }
            Terminator::BlockReturn(v) => {
                let v = self.get(*v)?;
                let pc = self.int(0);
                let r = self.helper(Id::lst_block_return, &[self.vm, self.hp, v, pc])?;
                self.leave_or_call_named(r)
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
    /// `fail`.
    fn primitive(
        &mut self,
        number: u8,
        args: &[ir::Value],
        fail: &ir::BlockCall,
        state: &State,
    ) -> R<()> {
        let (all, after) =
            entries::primitive_call(self.env.bytecodes, state, args).map_err(|e| e.0)?;
        self.spill(&all)?;
        let call_args = [
            self.vm,
            self.hp,
            self.int(i64::from(number)),
            self.int(args.len() as i64),
            self.int(after as i64),
        ];
        let r = self.helper(Id::lst_primitive, &call_args)?;
        self.go_on_or_leave(r)?;
        self.reload(&state.stack)?;
        self.jump_to(fail)
    }
}

/// An instruction's name without its operands, for refusals (which the
/// JIT's statistics count by text).
fn op_name(inst: &Inst) -> String {
    let text = format!("{inst:?}");
    let end = text.find(['(', ' ', '{']).unwrap_or(text.len());
    text[..end].to_string()
}
