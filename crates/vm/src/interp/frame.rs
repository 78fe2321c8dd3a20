//! Frames on the VM stack: layout, activation and return.
//!
//! ```text
//!   fp  → receiver, arguments            (pushed by the caller)
//!   tb  → temporaries                    (inline; unused once TEMPS is set)
//!   hp  → METHOD FP TB CALLER RETPC CONTEXT TEMPS SERIAL CODE LITERALS  (the header)
//!   sb  → operand stack …                (sb = hp + HEADER)
//! ```
//! * `CALLER` is the caller's header index, or -1 at the bottom of a process.
//! * `RETPC` is the caller's continuation: the bytecode offset at which it
//!   resumes. (The JIT will store native continuations here too.)
//! * `CONTEXT` is nil, or the Context/Block object this frame is *married*
//!   to: the object that stands for it when Smalltalk code needs one (a
//!   block's home, a suspended process). While the frame lives, the frame is
//!   the truth and the object's fields are stale.
//! * `TEMPS` is nil (temporaries inline) or a heap Array shared with blocks.
//! * `SERIAL` is nil, or a number naming this activation, so a dead
//!   context can find its sender again for a non-local return.
//! * `CODE` and `LITERALS` are the method's bytecodes and literals, checked
//!   once when the frame was pushed, so a return need not check again.
//!
//! Every slot holds a valid [`Value`] (header numbers are SmallInts), so the
//! collector scans the stack as a plain array of roots.

use super::Trap;
use crate::layout;
use crate::value::Value;
use crate::vm::Vm;

pub const H_METHOD: usize = 0;
pub const H_FP: usize = 1;
pub const H_TB: usize = 2;
pub const H_CALLER: usize = 3;
pub const H_RETPC: usize = 4;
pub const H_CONTEXT: usize = 5;
pub const H_TEMPS: usize = 6;
pub const H_SERIAL: usize = 7;
pub const H_CODE: usize = 8;
pub const H_LITERALS: usize = 9;
/// Header slots per frame.
pub const HEADER: usize = 10;
/// Stack slots kept free beyond the limit: for the operand stack of the top
/// frame between checks, and for raising the stack-overflow error.
pub const RED_ZONE: usize = 1 << 17;
/// Temporaries of the boot method, whose temporarySize is nil in LLST images.
pub const BOOT_TEMPORARIES: usize = 42;

/// What a method provides to run it: bytecodes, literals, temporary count.
#[derive(Clone, Copy)]
pub(crate) struct MethodParts {
    pub code: Value,
    pub literals: Value,
    pub temps: usize,
    /// Set when the method begins by running a primitive on its own
    /// arguments (see [`PrimitiveMethod`]).
    pub primitive: Option<PrimitiveMethod>,
    /// The primitive's function, for a primitive that is one: what a
    /// send runs without a frame and without the primitive table.
    pub function: Option<crate::prims::PrimFn>,
    /// Compiled code: the entry record (see `jit_runtime::tiering`), 0 if not compiled
    /// yet, `jit_runtime::tiering::NEVER` if it will not be.
    pub native: u32,
}

/// A method whose code begins `pushArgument i₁ … pushArgument iₙ;
/// doPrimitive n p`: a send to it can run primitive `p` on the caller's
/// stack, without a frame, and push the method only if the primitive fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PrimitiveMethod {
    pub number: u8,
    pub argc: u8,
    /// The argument index (0 = receiver) of each primitive argument.
    pub args: [u8; MAX_PRIMITIVE_ARGS],
    /// The bytecode offset just after the `doPrimitive`: where the method
    /// goes on (with nil pushed) when the primitive has failed.
    pub resume_pc: u16,
}

const MAX_PRIMITIVE_ARGS: usize = 5;

impl PrimitiveMethod {
    /// The primitive and its argument map in one word (for an inline
    /// cache): number, argc, then one byte per argument. `resume_pc` is
    /// left out: a failure is handled by a full send.
    pub(crate) fn pack(&self) -> u64 {
        let mut w = u64::from(self.number) | u64::from(self.argc) << 8;
        for (i, &a) in self.args.iter().enumerate() {
            w |= u64::from(a) << (16 + 8 * i);
        }
        w
    }

    /// The inverse of [`Self::pack`] (with `resume_pc` 0).
    pub(crate) fn unpack(w: u64) -> PrimitiveMethod {
        let byte = |i: usize| (w >> (8 * i)) as u8;
        PrimitiveMethod {
            number: byte(0),
            argc: byte(1),
            args: std::array::from_fn(|i| byte(2 + i)),
            resume_pc: 0,
        }
    }

    /// Whether the primitive's arguments are exactly a send's `nvals`
    /// values (receiver and arguments) in order, so it can read them
    /// where the send left them.
    #[inline(always)]
    pub(crate) fn takes_send_values(&self, nvals: usize) -> bool {
        /// The argument map 0, 1, 2, … in [`Self::pack`]'s bytes.
        const IN_ORDER: u64 = 0x04_03_02_01_00;
        let argc = self.argc as usize;
        let mask = (1u64 << (8 * argc)) - 1;
        argc == nvals && (self.pack() >> 16) & mask == IN_ORDER & mask
    }

    /// Whether this is `Block>>value…` taking the receiver and `nvals - 1`
    /// arguments in order (`<8 args… self>`), so that a send can activate
    /// the block directly.
    pub(crate) fn is_block_value(&self, nvals: usize) -> bool {
        let argc = self.argc as usize;
        self.number == 8
            && argc == nvals
            && argc > 0
            && self.args[argc - 1] == 0
            && (0..nvals - 1).all(|i| self.args[i] as usize == i + 1)
    }
}

/// Recognizes a [`PrimitiveMethod`] prologue.
fn primitive_prologue(code: &[u8]) -> Option<PrimitiveMethod> {
    let mut args = [0u8; MAX_PRIMITIVE_ARGS];
    let mut pc = 0;
    let mut n = 0;
    loop {
        let insn = lst_bytecode::decode_at(code, pc).ok()?;
        pc += insn.len as usize;
        match insn.op {
            lst_bytecode::Op::PushArgument if n < MAX_PRIMITIVE_ARGS => {
                args[n] = insn.arg;
                n += 1;
            }
            lst_bytecode::Op::DoPrimitive if insn.arg as usize == n => {
                let number = insn.extra as u8;
                let runs_alone = matches!(
                    crate::prims::lookup(number).map(|p| p.kind),
                    Some(crate::prims::Kind::Function(_))
                );
                return (runs_alone || number == 8).then_some(PrimitiveMethod {
                    number,
                    argc: n as u8,
                    args,
                    resume_pc: pc as u16,
                });
            }
            _ => return None,
        }
    }
}

impl Vm {
    /// Reads and checks the fields of a method the VM is about to run.
    pub(crate) fn method_parts(&self, method: Value) -> Result<MethodParts, Trap> {
        let h = &self.heap;
        let bad = |what: &str| Trap::Error(format!("cannot run a method whose {what}"));
        if method.is_int() || h.is_bytes(method) || h.size(method) <= layout::method::TEMPORARY_SIZE
        {
            return Err(bad("shape is not a Method's"));
        }
        let code = h.get(method, layout::method::BYTECODES).unwrap_or(method);
        if code.is_int() || !h.is_bytes(code) {
            return Err(bad("bytecodes are not a byte object"));
        }
        let literals = h.get(method, layout::method::LITERALS).unwrap_or(method);
        if literals.is_int() || h.is_bytes(literals) {
            return Err(bad("literals are not an Array"));
        }
        let temps = h
            .get(method, layout::method::TEMPORARY_SIZE)
            .unwrap_or(method);
        let temps = if temps == self.nil() {
            0
        } else {
            temps
                .as_usize()
                .filter(|&n| n <= 255)
                .ok_or_else(|| bad("temporarySize is not a small count"))?
        };
        let primitive = primitive_prologue(h.bytes(code));
        let function = primitive.and_then(|p| crate::prims::function(p.number, p.argc as usize));
        Ok(MethodParts {
            code,
            literals,
            temps,
            primitive,
            function,
            native: crate::jit_runtime::tiering::NEVER,
        })
    }

    #[inline(always)]
    pub(crate) fn header(&self, hp: usize, field: usize) -> Value {
        self.stack[hp + field]
    }

    #[inline(always)]
    pub(crate) fn header_index(&self, hp: usize, field: usize) -> usize {
        self.stack[hp + field].int_unchecked() as usize
    }

    /// The caller's header index, or `None` at the bottom of a process.
    #[inline(always)]
    pub(crate) fn caller_of(&self, hp: usize) -> Option<usize> {
        usize::try_from(self.stack[hp + H_CALLER].int_unchecked()).ok()
    }

    /// Makes `hp` the current frame and loads the interpreter registers.
    pub(crate) fn enter_frame(&mut self, hp: usize, pc: usize) -> Result<(), Trap> {
        self.load_frame(hp, pc)
    }

    /// [`Vm::enter_frame`], inlined where a return runs often.
    #[inline(always)]
    fn load_frame(&mut self, hp: usize, pc: usize) -> Result<(), Trap> {
        // One bounds check for the whole header.
        let header = &self.stack[hp..hp + HEADER];
        let index = |field: usize| header[field].int_unchecked() as usize;
        (self.fp, self.tb) = (index(H_FP), index(H_TB));
        self.regs = [header[H_CODE], header[H_LITERALS]];
        self.hp = hp;
        self.pc = pc;
        self.load_steps()
    }

    /// [`Vm::enter_frame`] where the interpreter goes on running the frame
    /// at `pc` with the operands it has now: checks they are as many as
    /// verification proved the code there needs.
    pub(crate) fn resume_frame(&mut self, hp: usize, pc: usize) -> Result<(), Trap> {
        self.enter_frame(hp, pc)?;
        self.check_entry(pc)
    }

    /// Pushes a frame for `method`, whose receiver and arguments are the top
    /// `nvals` stack slots. `caller` is the frame to return to (`None` at the
    /// bottom of a process); `retpc` where it resumes.
    pub(crate) fn push_frame(
        &mut self,
        method: Value,
        nvals: usize,
        caller: Option<usize>,
        retpc: usize,
        temps_override: Option<usize>,
    ) -> Result<(), Trap> {
        let parts = self.method_parts(method)?;
        self.push_checked_frame(method, parts, nvals, caller, retpc, temps_override)
    }

    /// [`Vm::push_frame`] for a method whose parts are already checked.
    #[inline(always)]
    pub(crate) fn push_checked_frame(
        &mut self,
        method: Value,
        parts: MethodParts,
        nvals: usize,
        caller: Option<usize>,
        retpc: usize,
        temps_override: Option<usize>,
    ) -> Result<(), Trap> {
        let temps = temps_override.unwrap_or(parts.temps);
        if self.stack.len() + temps + HEADER > self.stack_limit {
            return Err(Trap::StackOverflow);
        }
        let fp = self.stack.len() - nvals;
        let tb = self.stack.len();
        let nil = self.nil();
        self.stack.extend(std::iter::repeat_n(nil, temps));
        let hp = self.stack.len();
        let caller = caller.map_or(-1, |c| c as i64);
        self.stack.push_all([
            method,
            Value::small(fp as i64),
            Value::small(tb as i64),
            Value::small(caller),
            Value::small(retpc as i64),
            nil,
            nil,
            nil,
            parts.code,
            parts.literals,
        ]);
        self.hp = hp;
        self.fp = fp;
        self.tb = tb;
        self.pc = 0;
        self.regs = [parts.code, parts.literals];
        self.load_steps()
    }

    /// Returns `value` from the current frame to its caller.
    pub(crate) fn return_value(&mut self, value: Value) -> Result<super::Flow, Trap> {
        let hp = self.hp;
        self.return_from(hp, value)
    }

    /// [`Vm::return_value`] for the interpreter's return steps: a frame
    /// with a caller and no married Context that must remember its sender
    /// (none, or a Block's frame) returns here, inlined; everything else
    /// goes through [`Vm::return_from`].
    #[inline(always)]
    pub(crate) fn return_step(&mut self, value: Value) -> Result<super::Flow, Trap> {
        let hp = self.hp;
        let header = &self.stack[hp..hp + HEADER];
        let caller = header[H_CALLER].int_unchecked();
        let context = header[H_CONTEXT];
        if caller < 0 || (context != self.nil() && self.has_sender_link(context)) {
            return self.return_from(hp, value);
        }
        let fp = header[H_FP].int_unchecked() as usize;
        let retpc = header[H_RETPC].int_unchecked() as usize;
        self.stack.truncate(fp);
        self.stack.push(value);
        self.load_frame(caller as usize, retpc)?;
        self.check_entry(retpc)?;
        Ok(super::Flow::Continue)
    }

    /// Returns `value` from frame `hp` (the current frame or one below it,
    /// for non-local return), discarding every frame above it.
    pub(crate) fn return_from(&mut self, hp: usize, value: Value) -> Result<super::Flow, Trap> {
        if hp != self.hp || self.has_sender_link(self.header(hp, H_CONTEXT)) {
            self.widow_frames_above(hp);
        }
        let header = &self.stack[hp..hp + HEADER];
        let fp = header[H_FP].int_unchecked() as usize;
        let retpc = header[H_RETPC].int_unchecked() as usize;
        let caller = usize::try_from(header[H_CALLER].int_unchecked()).ok();
        match caller {
            Some(caller) => {
                self.stack.truncate(fp);
                self.stack.push(value);
                self.resume_frame(caller, retpc)?;
                Ok(super::Flow::Continue)
            }
            None => {
                let h = self.heap.push_handle(value);
                self.stack.truncate(fp);
                let value = self.heap.handle(h);
                self.heap.release_handles(h);
                self.process_bottom_return(value)
            }
        }
    }

    /// Frames from the top of the stack down to and including `hp` are
    /// about to die: let their married contexts remember their senders.
    pub(crate) fn widow_frames_above(&mut self, hp: usize) {
        let mut f = self.hp;
        loop {
            if self.has_sender_link(self.header(f, H_CONTEXT)) {
                self.widow(f);
            }
            if f == hp {
                break;
            }
            match self.caller_of(f) {
                Some(c) if c >= hp => f = c,
                _ => break,
            }
        }
    }

    /// Records, in the context married to frame `hp`, how to find its sender
    /// after the frame is gone (for a later non-local return through it).
    fn widow(&mut self, hp: usize) {
        let ctx = self.header(hp, H_CONTEXT);
        let link = match self.caller_of(hp) {
            Some(caller) => {
                let serial = self.frame_serial(caller);
                Value::small(serial << 32 | caller as i64)
            }
            None => {
                let heap_caller = self.current_run_heap_caller();
                self.heap.set(ctx, layout::context::PREVIOUS, heap_caller);
                self.nil()
            }
        };
        self.heap.set(ctx, super::context::SENDER_LINK, link);
    }

    /// The serial number of frame `hp`, assigning one if it has none.
    pub(crate) fn frame_serial(&mut self, hp: usize) -> i64 {
        if let Some(s) = self.header(hp, H_SERIAL).as_int() {
            return s;
        }
        let s = self.next_serial & 0x3FFF_FFFF;
        self.next_serial += 1;
        self.stack[hp + H_SERIAL] = Value::small(s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primitive(args: &[u8]) -> PrimitiveMethod {
        let mut map = [0; MAX_PRIMITIVE_ARGS];
        map[..args.len()].copy_from_slice(args);
        PrimitiveMethod {
            number: 24,
            argc: args.len() as u8,
            args: map,
            resume_pc: 0,
        }
    }

    #[test]
    fn a_primitive_takes_a_sends_values_only_all_of_them_in_order() {
        assert!(primitive(&[0, 1]).takes_send_values(2));
        assert!(primitive(&[0, 1, 2, 3, 4]).takes_send_values(5));
        // `at:put:` as LLST writes it: the value first.
        assert!(!primitive(&[2, 0, 1]).takes_send_values(3));
        assert!(!primitive(&[0, 1]).takes_send_values(3));
        assert!(!primitive(&[0]).takes_send_values(2));
        assert!(!primitive(&[1, 0]).takes_send_values(2));
    }
}
