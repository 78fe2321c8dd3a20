//! Frames as objects, and back: materializing a frame's Context when
//! Smalltalk code needs one (a block's home, a suspended process), rebuilding
//! a frame from a Context when a process resumes, blocks (`pushBlock`,
//! primitive 8) and non-local return.
//!
//! Little Smalltalk blocks are not closures over their own variables: a
//! block's parameters and temporaries are slots of its *home method's*
//! temporaries array, and `^` in a block returns to the sender of the home
//! context, even when the home has already returned (as LLST does). When the
//! sender is gone too, that is a Smalltalk error.

use super::frame::*;
use super::{Flow, Trap};
use crate::layout::{block, context};
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;

/// Where a block's frame goes and whom it returns to.
struct BlockTarget {
    /// Stack index of the frame's first slot.
    fp: usize,
    /// The caller's header index (a SmallInt, -1 at a process bottom).
    caller: Value,
    retpc: Value,
    /// The frame of `Block>>value…` that ran primitive 8 is replaced.
    replaces_frame: bool,
}

/// A hidden slot in the Contexts the VM makes: how a dead context finds its
/// sender frame (`serial << 32 | header index`), for non-local return.
pub const SENDER_LINK: usize = context::SLOTS;
/// Slots of a Context the VM makes.
pub const VM_CONTEXT_SLOTS: usize = context::SLOTS + 1;

impl Vm {
    pub(crate) fn is_block_object(&self, v: Value) -> bool {
        v.is_ref()
            && self.heap.class_of_object(v) == self.root(Root::BlockClass)
            && self.heap.size(v) >= block::SLOTS
    }

    /// True for the Contexts the VM makes, which carry [`SENDER_LINK`].
    #[inline(always)]
    pub(crate) fn has_sender_link(&self, ctx: Value) -> bool {
        ctx != self.nil()
            && ctx.is_ref()
            && self.heap.class_of_object(ctx) == self.root(Root::ContextClass)
            && self.heap.size(ctx) == VM_CONTEXT_SLOTS
    }

    /// The Context married to frame `hp`, made now if it has none. Moves the
    /// frame's temporaries into a heap Array (shared with its blocks).
    pub(crate) fn materialize(&mut self, hp: usize) -> Result<Value, Trap> {
        let existing = self.header(hp, H_CONTEXT);
        if existing != self.nil() {
            return Ok(existing);
        }
        let fp = self.header_index(hp, H_FP);
        let tb = self.header_index(hp, H_TB);
        if self.header(hp, H_TEMPS) == self.nil() {
            let temps = self.array_from_stack(tb, hp)?;
            self.stack[hp + H_TEMPS] = temps;
        }
        let args = self.array_from_stack(fp, tb)?;
        let h = self.heap.push_handle(args);
        let ctx = self.alloc_slots(self.root(Root::ContextClass), VM_CONTEXT_SLOTS);
        let args = self.heap.handle(h);
        self.heap.release_handles(h);
        let ctx = ctx?;
        let fields = [
            (context::METHOD, self.header(hp, H_METHOD)),
            (context::ARGUMENTS, args),
            (context::TEMPORARIES, self.header(hp, H_TEMPS)),
            (context::BYTE_POINTER, Value::small(0)),
            (context::STACK_TOP, Value::small(0)),
        ];
        for (i, v) in fields {
            self.heap.set(ctx, i, v);
        }
        self.stack[hp + H_CONTEXT] = ctx;
        Ok(ctx)
    }

    /// The frames of the running process, top first.
    pub(crate) fn process_frames(&self) -> Vec<usize> {
        let mut frames = vec![self.hp];
        let mut f = self.hp;
        while let Some(c) = self.caller_of(f) {
            frames.push(c);
            f = c;
        }
        frames
    }

    /// Writes the running process's frames into Context objects (the top
    /// `limit` frames, or all) and links them; answers the top one. The
    /// frames stay on the stack: the caller discards them.
    pub(crate) fn spill_process(&mut self, limit: Option<usize>) -> Result<Value, Trap> {
        let frames = self.process_frames();
        let count = limit.map_or(frames.len(), |l| l.min(frames.len()));
        for i in 0..count {
            let hp = frames[i];
            let (pc, end) = if i == 0 {
                (self.bytecode_pc(self.pc), self.stack.len())
            } else {
                let above = frames[i - 1];
                (
                    self.bytecode_pc(self.header_index(above, H_RETPC)),
                    self.header_index(above, H_FP),
                )
            };
            self.materialize(hp)?;
            let operands = self.array_from_stack(hp + HEADER, end)?;
            let ctx = self.header(hp, H_CONTEXT);
            self.heap.set(ctx, context::STACK, operands);
            self.heap.set(
                ctx,
                context::STACK_TOP,
                Value::small((end - hp - HEADER) as i64),
            );
            self.heap
                .set(ctx, context::BYTE_POINTER, Value::small(pc as i64));
        }
        for i in 0..count {
            let ctx = self.header(frames[i], H_CONTEXT);
            let previous = if i + 1 < count {
                self.header(frames[i + 1], H_CONTEXT)
            } else if count == frames.len() {
                self.current_run_heap_caller()
            } else {
                self.nil()
            };
            self.heap.set(ctx, context::PREVIOUS, previous);
        }
        Ok(self.header(frames[0], H_CONTEXT))
    }

    /// True if `ctx` looks like something [`Vm::rebuild_frame`] can run.
    pub(crate) fn is_runnable_context(&self, ctx: Value) -> bool {
        let h = &self.heap;
        if ctx.is_int() || h.is_bytes(ctx) || h.size(ctx) < context::SLOTS {
            return false;
        }
        let slot = |i| h.get(ctx, i).unwrap_or(ctx);
        let is_array = |v: Value| v.is_ref() && !h.is_bytes(v);
        let stack = slot(context::STACK);
        let top = slot(context::STACK_TOP).as_usize();
        let stack_ok = match top {
            Some(0) => true,
            Some(n) => is_array(stack) && n <= h.size(stack),
            None => false,
        };
        is_array(slot(context::ARGUMENTS))
            && slot(context::BYTE_POINTER).as_usize().is_some()
            && stack_ok
            && self.method_parts(slot(context::METHOD)).is_ok()
    }

    /// Pushes a frame that continues the heap context `ctx` (checked with
    /// [`Vm::is_runnable_context`]) as the bottom frame of the running
    /// process; with `result`, the value in that handle (the answer of the
    /// send the context waits on) is pushed on its operand stack.
    pub(crate) fn rebuild_frame(&mut self, ctx: Value, result: Option<usize>) -> Result<(), Trap> {
        if !self.is_runnable_context(ctx) {
            return Err(Trap::Error("cannot resume a malformed context".into()));
        }
        let slot = |vm: &Vm, i| vm.heap.get(ctx, i).unwrap_or(ctx);
        let method = slot(self, context::METHOD);
        let args = slot(self, context::ARGUMENTS);
        let temps = slot(self, context::TEMPORARIES);
        let temps = if temps.is_ref() && !self.heap.is_bytes(temps) {
            temps
        } else {
            self.nil()
        };
        let stack = slot(self, context::STACK);
        let top = slot(self, context::STACK_TOP).as_usize().unwrap_or(0);
        let pc = slot(self, context::BYTE_POINTER).as_usize().unwrap_or(0);
        let nargs = self.heap.size(args);
        let parts = self.method_parts(method)?;
        if self.stack.len() + nargs + HEADER + top + 1 > self.stack_limit {
            return Err(Trap::StackOverflow);
        }
        let fp = self.stack.len();
        self.stack.extend_from_slice(self.heap.slots(args));
        if nargs == 0 {
            self.stack.push(self.nil());
        }
        let tb = self.stack.len();
        let nil = self.nil();
        self.stack.extend_from_slice(&[
            method,
            Value::small(fp as i64),
            Value::small(tb as i64),
            Value::small(-1),
            Value::small(0),
            ctx,
            temps,
            nil,
            parts.code,
            parts.literals,
        ]);
        if top > 0 {
            self.stack.extend_from_slice(&self.heap.slots(stack)[..top]);
        }
        if let Some(h) = result {
            self.stack.push(self.heap.handle(h));
        }
        self.resume_frame(tb, pc)
    }

    /// `pushBlock`: a Block sharing the current activation's arguments and
    /// temporaries, whose home is the current method context.
    pub(crate) fn push_block(&mut self, argument_location: u8, end: u16) -> Result<(), Trap> {
        let hp = self.hp;
        let current = self.header(hp, H_CONTEXT);
        let in_block = self.is_block_object(current);
        if !in_block {
            self.materialize(hp)?;
        }
        let b = self.alloc_slots(self.root(Root::BlockClass), block::SLOTS)?;
        let current = self.header(hp, H_CONTEXT);
        let home = if in_block {
            self.heap
                .get(current, block::CREATING_CONTEXT)
                .unwrap_or(current)
        } else {
            current
        };
        let fields = [
            (context::METHOD, self.header(hp, H_METHOD)),
            (
                context::ARGUMENTS,
                self.heap
                    .get(current, context::ARGUMENTS)
                    .unwrap_or(current),
            ),
            (context::TEMPORARIES, self.header(hp, H_TEMPS)),
            (context::BYTE_POINTER, Value::small(0)),
            (context::STACK_TOP, Value::small(0)),
            (
                block::ARGUMENT_LOCATION,
                Value::small(argument_location as i64),
            ),
            (block::CREATING_CONTEXT, home),
            (block::BODY_POINTER, Value::small(self.pc as i64)),
        ];
        for (i, v) in fields {
            self.heap.set(b, i, v);
        }
        self.stack.push(b);
        self.pc = end as usize;
        Ok(())
    }

    /// Primitive 8 in `Block>>value…`: the top `argc` slots are the block's
    /// arguments and the block. Replaces the `value` frame by the block's
    /// frame. `Ok(false)` is primitive failure.
    pub(crate) fn invoke_block(&mut self, argc: usize) -> Result<bool, Trap> {
        let len = self.stack.len();
        if argc == 0 {
            return Ok(false);
        }
        let d = self.hp;
        let target = BlockTarget {
            fp: self.header_index(d, H_FP),
            caller: self.header(d, H_CALLER),
            retpc: self.header(d, H_RETPC),
            replaces_frame: true,
        };
        self.activate_block(self.stack[len - 1], len - argc, argc - 1, target)
    }

    /// A send of `value…` whose method is `Block>>value…` (primitive 8),
    /// without a frame for that method: the receiver (the block) and `k`
    /// arguments are the top `k + 1` slots of the current frame.
    pub(crate) fn send_to_block(&mut self, k: usize) -> Result<bool, Trap> {
        let base = self.stack.len() - k - 1;
        let target = BlockTarget {
            fp: base,
            caller: Value::small(self.hp as i64),
            retpc: Value::small(self.pc as i64),
            replaces_frame: false,
        };
        self.activate_block(self.stack[base], base + 1, k, target)
    }

    /// Pushes the frame of block `blk` at `target.fp`, its `k` arguments
    /// (stack slots from `args_at`) stored into the home's temporaries.
    fn activate_block(
        &mut self,
        blk: Value,
        args_at: usize,
        k: usize,
        target: BlockTarget,
    ) -> Result<bool, Trap> {
        if !self.is_block_object(blk) {
            return Ok(false);
        }
        // One check of the object for all its fields.
        let fields: [Value; block::SLOTS] = match self.heap.slots(blk).get(..block::SLOTS) {
            Some(f) => f.try_into().unwrap_or([blk; block::SLOTS]),
            None => return Ok(false),
        };
        let temps = fields[context::TEMPORARIES];
        let args = fields[context::ARGUMENTS];
        let method = fields[context::METHOD];
        let (Some(location), Some(body)) = (
            fields[block::ARGUMENT_LOCATION].as_usize(),
            fields[block::BODY_POINTER].as_usize(),
        ) else {
            return Ok(false);
        };
        let Ok((arity, parts)) = self.block_parts(blk, method, body) else {
            return Ok(false);
        };
        if arity.is_some_and(|n| n != k) {
            return Ok(false);
        }
        let temps_ok = temps.is_ref() && !self.heap.is_bytes(temps);
        if k > 0 && (!temps_ok || location + k > self.heap.size(temps)) {
            return Ok(false);
        }
        if !args.is_ref() || self.heap.is_bytes(args) {
            return Ok(false);
        }
        for i in 0..k {
            let v = self.stack[args_at + i];
            self.heap.set(temps, location + i, v);
        }
        if target.replaces_frame {
            let d = self.hp;
            if self.has_sender_link(self.header(d, H_CONTEXT)) {
                self.widow_frames_above(d);
            }
        }
        let fp = target.fp;
        let nargs = self.heap.size(args);
        if fp + nargs + HEADER + 1 > self.stack_limit {
            return Err(Trap::StackOverflow);
        }
        self.stack.truncate(fp);
        self.stack.extend_from_slice(self.heap.slots(args));
        if nargs == 0 {
            self.stack.push(self.nil());
        }
        let tb = self.stack.len();
        let temps = if temps_ok { temps } else { self.nil() };
        let nil = self.nil();
        self.stack.push_all([
            method,
            Value::small(fp as i64),
            Value::small(tb as i64),
            target.caller,
            target.retpc,
            blk,
            temps,
            nil,
            parts.code,
            parts.literals,
        ]);
        (self.hp, self.fp, self.tb, self.pc) = (tb, fp, tb, body);
        self.regs = [parts.code, parts.literals];
        self.load_steps()?;
        self.check_entry(body)?;
        self.tick()?;
        if self.jit.is_some() {
            self.enter_block_body(self.header(tb, H_METHOD), body);
        }
        Ok(true)
    }

    /// The parameter count recorded for block `blk` (whose method is
    /// `method`, body at `body`) and its method's parts, through the
    /// block cache.
    #[inline]
    fn block_parts(
        &mut self,
        blk: Value,
        method: Value,
        body: usize,
    ) -> Result<(Option<usize>, MethodParts), Trap> {
        if let Some(hit) = self.cache.probe_block(method, body) {
            return Ok(hit);
        }
        let arity = self.block_arity(blk);
        let parts = self.method_parts(method)?;
        self.cache.insert_block(method, body, arity, parts);
        Ok((arity, parts))
    }

    /// `blockReturn`: returns `value` to the sender of the block's home.
    pub(crate) fn non_local_return(&mut self, value: Value) -> Result<Flow, Trap> {
        let blk = self.header(self.hp, H_CONTEXT);
        if !self.is_block_object(blk) {
            // LLST compilers emit blockReturn only inside blocks; elsewhere
            // it means "return from this method".
            return self.return_value(value);
        }
        let home = self.heap.get(blk, block::CREATING_CONTEXT).unwrap_or(blk);
        let frames = self.process_frames();
        // The home is still running: return from it.
        if let Some(&f) = frames.iter().find(|&&f| self.header(f, H_CONTEXT) == home) {
            return self.return_from(f, value);
        }
        // The home has returned; its sender may still be running.
        let link = if self.has_sender_link(home) {
            self.heap.get(home, SENDER_LINK)
        } else {
            None
        };
        if let Some(link) = link.and_then(|l| l.as_int()) {
            let (serial, sender) = (link >> 32, (link & 0xFFFF_FFFF) as usize);
            if let Some(pos) = frames.iter().position(|&f| f == sender)
                && pos > 0
                && self.header(sender, H_SERIAL).as_int() == Some(serial)
            {
                return self.return_from(frames[pos - 1], value);
            }
        } else if home.is_ref() && !self.heap.is_bytes(home) {
            let sender = self.heap.get(home, context::PREVIOUS).unwrap_or(home);
            if let Some(pos) = frames
                .iter()
                .position(|&f| self.header(f, H_CONTEXT) == sender)
                && pos > 0
            {
                return self.return_from(frames[pos - 1], value);
            }
            if sender != self.nil() && self.heap_chain_contains(sender) {
                self.set_current_run_heap_caller(sender);
                let bottom = *frames.last().expect("a running process has a frame");
                return self.return_from(bottom, value);
            }
        }
        Err(Trap::Error(format!(
            "non-local return from a block in {}: the sender of its home context has already returned",
            self.method_name(self.header(self.hp, H_METHOD))
        )))
    }

    /// How many parameters a block takes, if its method records it (lst's
    /// own images; LLST's do not, and there LLST's looser rules apply).
    pub fn block_arity(&self, blk: Value) -> Option<usize> {
        let method = self.heap.get(blk, context::METHOD)?;
        let body = self.heap.get(blk, block::BODY_POINTER)?.as_usize()?;
        let arities = self
            .heap
            .get(method, crate::layout::method::BLOCK_ARITIES)?;
        if !arities.is_ref() || self.heap.is_bytes(arities) {
            return None;
        }
        self.heap
            .slots(arities)
            .chunks_exact(2)
            .find(|pair| pair[0].as_usize() == Some(body))
            .and_then(|pair| pair[1].as_usize())
    }

    /// The running process's frames, innermost first: `Class>>selector`,
    /// one per line (the first 100 and the last 10 of a deep stack).
    pub fn backtrace_text(&self) -> String {
        if self.runs.is_empty() {
            return String::new();
        }
        let frames = self.process_frames();
        let mut out = String::new();
        for (i, &hp) in frames.iter().enumerate() {
            if i == 100 && frames.len() > 110 {
                out.push_str(&format!("  ... {} more frames ...\n", frames.len() - 110));
            }
            if i >= 100 && i < frames.len() - 10 && frames.len() > 110 {
                continue;
            }
            out.push_str(&self.method_name(self.header(hp, H_METHOD)));
            out.push('\n');
        }
        out
    }

    /// The name of a method, as `Class>>selector` when it knows its class.
    pub fn method_name(&self, method: Value) -> String {
        let get = |i| self.heap.get(method, i).unwrap_or(method);
        let class = get(crate::layout::method::CLASS);
        format!(
            "{}>>{}",
            self.class_name(class),
            self.text_of(get(crate::layout::method::NAME))
        )
    }
}
