//! The bytecode interpreter: one loop over LST bytecodes, with frames on
//! the VM stack ([`frame`]) and no Rust recursion per send.
//!
//! Sends ([`send`]), blocks and contexts ([`context`]) and processes
//! ([`process`]) are split out; this file is the dispatch loop. Anything
//! that goes wrong mid-instruction is a [`Trap`], which the outer loop turns
//! into a Smalltalk error (or stops the process): bad input never panics.

pub mod cache;
pub mod context;
pub mod decoded;
pub mod frame;
pub mod process;
pub mod profile;
pub mod send;
pub mod stack;
pub mod verify;

use crate::heap::OutOfMemory;
use crate::jit_runtime::boundary::NATIVE_PC_BASE;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use frame::{H_TEMPS, HEADER};
use verify::{FIRST_IS_TEMPORARY, Kind, SECOND_IS_TEMPORARY};

/// Something the current instruction cannot complete.
#[derive(Debug)]
pub enum Trap {
    /// Raised as a Smalltalk error (`error:` to the current receiver).
    Error(String),
    /// The VM stack limit was reached.
    StackOverflow,
    OutOfMemory(OutOfMemory),
    /// Ctrl-C.
    Interrupt,
    /// The running process's time slice is over.
    Preempt,
    /// Cannot be raised in Smalltalk: the process stops.
    Fatal(String),
}

impl From<OutOfMemory> for Trap {
    fn from(e: OutOfMemory) -> Trap {
        Trap::OutOfMemory(e)
    }
}

/// How a process run ended (LLST's status codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The process's bottom context returned (4).
    Returned,
    /// The process stopped on an error (2).
    Error,
    /// The time slice expired (5).
    TimeExpired,
}

impl ExitStatus {
    pub fn code(self) -> i64 {
        match self {
            ExitStatus::Returned => 4,
            ExitStatus::Error => 2,
            ExitStatus::TimeExpired => 5,
        }
    }
}

/// What `doPrimitive` did.
pub(crate) enum Primitive {
    /// It failed: nil is pushed and the method goes on.
    Failed,
    /// It answered (the method has returned) or passed control on.
    Ran(Flow),
}

/// Whether execution goes on after an instruction.
pub enum Flow {
    Continue,
    /// The boot process ended.
    Exit(ExitStatus),
}

fn bad(msg: &str) -> Trap {
    Trap::Error(msg.to_string())
}

impl Vm {
    /// Runs until the boot process ends.
    pub(crate) fn run(&mut self) -> Result<ExitStatus, String> {
        loop {
            let flow = match self.interpret() {
                Ok(status) => return Ok(status),
                Err(trap) => self.handle_trap(trap),
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Exit(status)) => return Ok(status),
                Err(trap) => match self.handle_trap(trap) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Exit(status)) => return Ok(status),
                    Err(t) => return Err(format!("unrecoverable VM error: {t:?}")),
                },
            }
        }
    }

    /// Pops an operand that verification proved is there.
    #[inline(always)]
    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or_default()
    }

    /// The top operand, which verification proved is there.
    #[inline(always)]
    fn top(&self) -> Value {
        self.stack[self.stack.len() - 1]
    }

    #[inline(always)]
    pub(crate) fn literal(&self, i: usize) -> Result<Value, Trap> {
        self.heap
            .get(self.regs[1], i)
            .ok_or_else(|| bad("literal index out of range"))
    }

    /// The value `pushConstant n` pushes: 0–9, nil, true, false.
    #[inline(always)]
    pub(crate) fn constant(&self, n: usize) -> Option<Value> {
        Some(match n {
            0..=9 => Value::small(n as i64),
            10 => self.nil(),
            11 => self.root(Root::True),
            12 => self.root(Root::False),
            _ => return None,
        })
    }

    /// Operand values for an instruction taking `n` of them: checks they are there.
    #[inline(always)]
    fn operands(&self, n: usize) -> Result<usize, Trap> {
        let base = self
            .stack
            .len()
            .checked_sub(n)
            .filter(|&b| b >= self.hp + HEADER);
        base.ok_or_else(|| bad("operand stack underflow"))
    }

    /// Branch to `target`; backward branches are safepoints, taken after
    /// the jump so that a process stopped there resumes at the target.
    #[inline(always)]
    fn jump(&mut self, target: u16, at: usize) -> Result<(), Trap> {
        self.pc = target as usize;
        if (target as usize) <= at {
            if self.stack.len() > self.stack_limit {
                return Err(Trap::StackOverflow);
            }
            self.tick()?;
            if self.jit.is_some() {
                self.loop_edge(target as usize);
            }
        }
        Ok(())
    }

    /// Pops an argument Array and spreads it on the stack (a send whose
    /// arguments were not built by the markArguments just before it).
    fn spread_arguments(&mut self) -> Result<usize, Trap> {
        let args = self.pop();
        if args.is_int() || self.heap.is_bytes(args) || self.heap.size(args) == 0 {
            return Err(bad(
                "a send's argument array is not an Array with a receiver",
            ));
        }
        self.stack.extend_from_slice(self.heap.slots(args));
        Ok(self.heap.size(args))
    }

    /// The dispatch loop over the current method's verified steps (see
    /// [`verify`]). Returns when the boot process ends; anything else that
    /// stops an instruction is a trap.
    fn interpret(&mut self) -> Result<ExitStatus, Trap> {
        loop {
            let at = self.pc;
            let Some(&step) = self.steps.get(at) else {
                if at >= NATIVE_PC_BASE {
                    match self.run_native(at)? {
                        Flow::Continue => continue,
                        Flow::Exit(s) => return Ok(s),
                    }
                }
                return Err(self.no_instruction_at(at));
            };
            self.pc = step.next as usize;
            // Runs `step`; a profiling step comes back as the step it
            // stands for.
            let mut step = step;
            'dispatch: loop {
                let arg = step.arg as usize;
                match step.kind {
                    Kind::Invalid => return Err(self.no_instruction_at(at)),
                    Kind::ProfileSendBinary
                    | Kind::ProfileArgumentConstantBinary
                    | Kind::ProfileTemporaryConstantBinary
                    | Kind::ProfilePushPushBinary => {
                        step = self.profile_step(step);
                        continue 'dispatch;
                    }
                    Kind::MarkArguments
                    | Kind::SendSuper
                    | Kind::SendArray
                    | Kind::SendSuperArray
                    | Kind::PushBlock
                    | Kind::DoPrimitive
                    | Kind::BlockReturn => {
                        if let Flow::Exit(s) = self.rare_step(step)? {
                            return Ok(s);
                        }
                    }
                    Kind::PushInstance => {
                        let v = self.heap.get(self.stack[self.fp], arg);
                        self.stack
                            .push(v.ok_or_else(|| bad("instance variable index out of range"))?);
                    }
                    Kind::PushArgument => {
                        let i = self.fp + arg;
                        if i >= self.tb {
                            return Err(bad("argument index out of range"));
                        }
                        self.stack.push(self.stack[i]);
                    }
                    Kind::PushTemporary => {
                        let v = self.temporary(arg)?;
                        self.stack.push(v);
                    }
                    Kind::PushLiteral => {
                        let v = self.literal(arg)?;
                        self.stack.push(v);
                    }
                    Kind::PushSmall => self.stack.push(Value::small(arg as i64)),
                    Kind::PushNil => self.stack.push(self.nil()),
                    Kind::PushTrue => self.stack.push(self.root(Root::True)),
                    Kind::PushFalse => self.stack.push(self.root(Root::False)),
                    Kind::AssignInstance => {
                        let v = self.top();
                        if !self.heap.set(self.stack[self.fp], arg, v) {
                            return Err(bad("instance variable index out of range"));
                        }
                    }
                    Kind::AssignTemporary => {
                        let v = self.top();
                        self.set_temporary(arg, v)?;
                    }
                    Kind::Send => self.send_step(step.extra as usize, arg, at)?,
                    Kind::IsNil | Kind::NotNil => {
                        let v = self.pop();
                        let is_nil = v == self.nil();
                        self.stack
                            .push(self.boolean(is_nil == (step.kind == Kind::IsNil)));
                    }
                    Kind::SendBinary => self.send_binary(arg)?,
                    Kind::ArgumentConstantBinary => {
                        let i = self.fp + arg;
                        if i >= self.tb {
                            let trap = bad("argument index out of range");
                            return Err(self.unfused_fault(at, 1, &[], trap));
                        }
                        self.binary_with_constant(self.stack[i], step.extra)?;
                    }
                    Kind::PushPushBinary => {
                        let extra = step.extra;
                        let l = self
                            .argument_or_temporary(extra & FIRST_IS_TEMPORARY != 0, arg)
                            .map_err(|t| self.unfused_fault(at, 1, &[], t))?;
                        let second = (extra & 0xFF) as usize;
                        let r = self
                            .argument_or_temporary(extra & SECOND_IS_TEMPORARY != 0, second)
                            .map_err(|t| self.unfused_fault(at, 2, &[l], t))?;
                        self.binary_on(l, r, (extra >> 8 & 0xF) as usize)?;
                    }
                    Kind::PopIntoTemporary => {
                        let v = self.pop();
                        if let Err(t) = self.set_temporary(arg, v) {
                            return Err(self.unfused_fault(at, 1, &[v], t));
                        }
                    }
                    Kind::TemporaryConstantBinary => {
                        let v = self
                            .temporary(arg)
                            .map_err(|t| self.unfused_fault(at, 1, &[], t))?;
                        self.binary_with_constant(v, step.extra)?;
                    }
                    Kind::SelfReturn => {
                        let v = self.stack[self.fp];
                        if let Flow::Exit(s) = self.return_step(v)? {
                            return Ok(s);
                        }
                    }
                    Kind::StackReturn => {
                        let v = self.pop();
                        if let Flow::Exit(s) = self.return_step(v)? {
                            return Ok(s);
                        }
                    }
                    Kind::Duplicate => {
                        let v = self.top();
                        self.stack.push(v);
                    }
                    Kind::PopTop => {
                        self.pop();
                    }
                    Kind::Branch => self.jump(step.extra, at)?,
                    Kind::BranchIfTrue => {
                        if self.pop() == self.root(Root::True) {
                            self.jump(step.extra, at)?;
                        }
                    }
                    Kind::BranchIfFalse => {
                        if self.pop() == self.root(Root::False) {
                            self.jump(step.extra, at)?;
                        }
                    }
                }
                break;
            }
        }
    }

    /// The steps the dispatch loop sees less often, out of its line so that
    /// the frequent ones compile tighter.
    #[inline(never)]
    fn rare_step(&mut self, step: verify::Step) -> Result<Flow, Trap> {
        let arg = step.arg as usize;
        match step.kind {
            Kind::MarkArguments => {
                let base = self.stack.len() - arg;
                let array = self.array_from_stack(base, base + arg)?;
                self.stack.truncate(base);
                self.stack.push(array);
            }
            Kind::SendSuper => {
                let selector = self.literal(step.extra as usize)?;
                let class = self.super_class()?;
                self.send(selector, arg, Some(class))?;
            }
            Kind::SendArray => {
                let n = self.spread_arguments()?;
                let selector = self.literal(arg)?;
                self.send(selector, n, None)?;
            }
            Kind::SendSuperArray => {
                let n = self.spread_arguments()?;
                let selector = self.literal(step.extra as usize)?;
                let class = self.super_class()?;
                self.send(selector, n, Some(class))?;
            }
            Kind::PushBlock => self.push_block(step.arg, step.extra)?,
            Kind::DoPrimitive => return self.do_primitive(arg, step.extra as u8),
            Kind::BlockReturn => {
                let v = self.pop();
                return self.non_local_return(v);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// A fused step (see `verify::fuse`) at `at` failed in its
    /// `instructions`-th instruction: leaves the state the unfused
    /// instructions would have left at that failure (`pushed` on the
    /// stack, `pc` after the failing instruction), so that an `error:`
    /// that returns goes on as it would have.
    #[cold]
    #[inline(never)]
    fn unfused_fault(
        &mut self,
        at: usize,
        instructions: usize,
        pushed: &[Value],
        trap: Trap,
    ) -> Trap {
        let code = self.heap.bytes(self.regs[0]);
        let mut pc = at;
        for _ in 0..instructions {
            pc += lst_bytecode::decode_at(code, pc).map_or(1, |insn| insn.len as usize);
        }
        self.pc = pc;
        for &v in pushed {
            self.stack.push(v);
        }
        trap
    }

    /// The error for running at `pc`, where no verified instruction starts
    /// (a context or block resumed at a bad offset).
    #[cold]
    fn no_instruction_at(&self, pc: usize) -> Trap {
        Trap::Error(format!(
            "no instruction starts at offset {pc} of {}",
            self.method_name(self.header(self.hp, frame::H_METHOD))
        ))
    }

    #[inline(always)]
    fn temporary(&self, i: usize) -> Result<Value, Trap> {
        let temps = self.stack[self.hp + H_TEMPS];
        if temps == self.nil() {
            let at = self.tb + i;
            if at >= self.hp {
                return Err(bad("temporary index out of range"));
            }
            Ok(self.stack[at])
        } else {
            self.heap
                .get(temps, i)
                .ok_or_else(|| bad("temporary index out of range"))
        }
    }

    #[inline(always)]
    fn set_temporary(&mut self, i: usize, v: Value) -> Result<(), Trap> {
        let temps = self.stack[self.hp + H_TEMPS];
        if temps == self.nil() {
            let at = self.tb + i;
            if at >= self.hp {
                return Err(bad("temporary index out of range"));
            }
            self.stack[at] = v;
            Ok(())
        } else if self.heap.set(temps, i, v) {
            Ok(())
        } else {
            Err(bad("temporary index out of range"))
        }
    }

    /// `sendBinary k`: the selector `lst_bytecode::BINARY_SPECIALS[k]` on
    /// two SmallInts without a send, as SmallInt's methods answer; a real
    /// send otherwise, and where the method would not answer a SmallInt
    /// or a Boolean (an overflow, a division by zero).
    #[inline(always)]
    fn send_binary(&mut self, k: usize) -> Result<(), Trap> {
        let base = self.stack.len() - 2;
        let (l, r) = (self.stack[base], self.stack[base + 1]);
        if l.is_int() && r.is_int() {
            let (a, b) = (l.int_unchecked(), r.int_unchecked());
            if let Some(v) = self.small_int_special(k, a, b) {
                self.stack.truncate(base);
                self.stack.push(v);
                return Ok(());
            }
        }
        self.send_special(k)
    }

    /// The value `pushTemporary i` (`temporary`) or `pushArgument i` pushes.
    #[inline(always)]
    fn argument_or_temporary(&self, temporary: bool, i: usize) -> Result<Value, Trap> {
        if temporary {
            return self.temporary(i);
        }
        let at = self.fp + i;
        if at >= self.tb {
            return Err(bad("argument index out of range"));
        }
        Ok(self.stack[at])
    }

    /// `push l; pushConstant c; sendBinary k` with `extra` = `k | c << 8`.
    #[inline(always)]
    fn binary_with_constant(&mut self, l: Value, extra: u16) -> Result<(), Trap> {
        let (k, c) = ((extra & 0xFF) as usize, (extra >> 8) as i64);
        if l.is_int()
            && let Some(v) = self.small_int_special(k, l.int_unchecked(), c)
        {
            self.stack.push(v);
            return Ok(());
        }
        self.stack.push(l);
        self.stack.push(Value::small(c));
        self.send_special(k)
    }

    /// `push l; push r; sendBinary k`: the SmallInt case without pushing
    /// the operands.
    #[inline(always)]
    fn binary_on(&mut self, l: Value, r: Value, k: usize) -> Result<(), Trap> {
        if l.is_int()
            && r.is_int()
            && let Some(v) = self.small_int_special(k, l.int_unchecked(), r.int_unchecked())
        {
            self.stack.push(v);
            return Ok(());
        }
        self.push_and_send_special(l, r, k)
    }

    #[inline(never)]
    fn push_and_send_special(&mut self, l: Value, r: Value, k: usize) -> Result<(), Trap> {
        self.stack.push(l);
        self.stack.push(r);
        self.send_special(k)
    }

    /// What `a s b` answers for the special selector `s` = `k` on two
    /// SmallInts, or `None` where the send must decide (or `k` is not a
    /// special, which the send reports).
    #[inline(always)]
    fn small_int_special(&self, k: usize, a: i64, b: i64) -> Option<Value> {
        let boolean = |c: bool| Some(self.boolean(c));
        match k {
            0 => boolean(a < b),
            1 => boolean(a <= b),
            // SmallInts have 62 bits: sums and differences fit an i64.
            2 => Value::int(a + b),
            3 => Value::int(a - b),
            4 => a.checked_mul(b).and_then(Value::int),
            5 => boolean(a > b),
            6 => boolean(a >= b),
            7 => boolean(a == b),
            8 => boolean(a != b),
            // Rounding toward negative infinity, as primitives 65 and 66.
            9 if b != 0 => Value::int(num_integer::Integer::div_floor(&a, &b)),
            10 if b != 0 => Value::int(num_integer::Integer::mod_floor(&a, &b)),
            _ => None,
        }
    }
    /// `doPrimitive argc number`: on success the method returns the
    /// primitive's value; on failure nil is pushed and the method goes on.
    fn do_primitive(&mut self, argc: usize, number: u8) -> Result<Flow, Trap> {
        Ok(match self.run_primitive(argc, number)? {
            Primitive::Failed => Flow::Continue,
            Primitive::Ran(flow) => flow,
        })
    }

    /// [`Vm::do_primitive`], saying whether the primitive failed (for
    /// compiled code, which goes on at its own failure path).
    pub(crate) fn run_primitive(&mut self, argc: usize, number: u8) -> Result<Primitive, Trap> {
        let base = self.operands(argc)?;
        let ran = |flow: Flow| Ok(Primitive::Ran(flow));
        match number {
            6 => {
                let (Some(process), Some(ticks)) = (
                    self.stack.get(base).copied().filter(|_| argc == 2),
                    self.stack
                        .get(base + 1)
                        .and_then(|t| t.as_int())
                        .filter(|&t| t >= 0),
                ) else {
                    return self.primitive_failed(base);
                };
                self.stack.truncate(base);
                if !self.start_run(process, ticks)? {
                    self.stack.push(self.nil());
                }
                ran(Flow::Continue)
            }
            8 => {
                if self.invoke_block(argc)? {
                    ran(Flow::Continue)
                } else {
                    self.primitive_failed(base)
                }
            }
            19 => ran(self.stop_process(ExitStatus::Error)?),
            120 => self.perform(base, argc),
            255 => {
                self.flush();
                eprintln!("Debug trap");
                ran(Flow::Continue)
            }
            _ => match crate::prims::call(self, number, base, argc)? {
                Some(v) => {
                    self.stack.truncate(base);
                    ran(self.return_value(v)?)
                }
                None => self.primitive_failed(base),
            },
        }
    }

    /// Primitive 120 (`<120 receiver selector args>`): sends `selector`
    /// with the Array `args` in place of the method that ran the
    /// primitive, so the send's value is what that method answers.
    fn perform(&mut self, base: usize, argc: usize) -> Result<Primitive, Trap> {
        let (selector, args) = (self.stack[base + 1], self.stack[base + 2]);
        let ok = argc == 3
            && selector.is_ref()
            && self.heap.is_bytes(selector)
            && args.is_ref()
            && !self.heap.is_bytes(args)
            && lst_bytecode::selector_arity(self.heap.bytes(selector))
                == Some(self.heap.size(args));
        if !ok {
            return self.primitive_failed(base);
        }
        // Keep the message in handles while the frame returns (which may
        // materialize contexts), then send it from the caller.
        let mark = self.heap.handle_mark();
        self.heap.push_handle(selector);
        self.heap.push_handle(self.stack[base]);
        for i in 0..self.heap.size(args) {
            let v = self.heap.slots(args)[i];
            self.heap.push_handle(v);
        }
        let nil = self.nil();
        let flow = self.return_value(nil);
        let values: Vec<Value> = (mark + 1..self.heap.handle_mark())
            .map(|h| self.heap.handle(h))
            .collect();
        let selector = self.heap.handle(mark);
        self.heap.release_handles(mark);
        if let Flow::Exit(s) = flow? {
            return Ok(Primitive::Ran(Flow::Exit(s)));
        }
        self.stack.pop();
        self.stack.extend_from_slice(&values);
        self.send(selector, values.len(), None)?;
        Ok(Primitive::Ran(Flow::Continue))
    }

    fn primitive_failed(&mut self, base: usize) -> Result<Primitive, Trap> {
        self.stack.truncate(base);
        self.stack.push(self.nil());
        Ok(Primitive::Failed)
    }
}
