//! Message sends: method lookup through the class chain, the method cache,
//! `doesNotUnderstand:`, and super sends.

use super::Trap;
use super::frame::{H_METHOD, MethodParts, PrimitiveMethod};
use crate::jit_runtime::boundary::NATIVE_PC_BASE;
use crate::jit_runtime::tiering::NEVER;
use crate::layout;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;

/// More superclass links than this means a cycle in the class chain.
const MAX_CHAIN: usize = 100_000;

/// Whether a send may run the target's primitive without a frame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Primitive {
    /// Try it on the caller's stack first.
    Try,
    /// It has already run and failed: enter the method after it.
    Failed,
    /// Do not try it: run the method from its start.
    InMethod,
}

/// What running a primitive method's primitive without a frame did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FastPrimitive {
    /// It answered; the value is pushed.
    Done,
    /// It failed: the method goes on after its `doPrimitive`.
    Failed,
    /// It did not run (or trapped): the method runs from its start.
    NotRun,
}

/// Where a cached send's selector comes from.
#[derive(Clone, Copy)]
enum Selector {
    /// The current method's literal at this index (a `Send` step).
    Literal(usize),
    /// The special binary selector `k` (a binary step's slow path).
    Special(usize),
}

/// Send-site keys of binary steps' sends: the offset after the step with
/// this bit, apart from the `Send` steps' keys (their offsets, below it).
const SPECIAL_SITE: usize = 1 << 16;

impl FastPrimitive {
    /// How the method runs after a try that did not answer: after its
    /// `doPrimitive` (failed) or from its start (not run or trapped).
    fn then_in_method(self) -> Primitive {
        match self {
            FastPrimitive::Failed => Primitive::Failed,
            _ => Primitive::InMethod,
        }
    }
}

impl Vm {
    /// Finds the method for `selector` starting at `class`, with its
    /// checked parts.
    #[inline]
    /// The method `class` answers `selector` with (through the method
    /// cache, as a send does), for tools and benchmarks.
    pub fn lookup_method(&mut self, selector: Value, class: Value) -> Option<Value> {
        self.lookup(selector, class).ok().flatten().map(|(m, _)| m)
    }

    /// The method `class` answers `selector` with, found without touching
    /// any cache or counter (for the optimizer); `None` if there is none
    /// or the class chain is malformed.
    pub fn find_method(&self, selector: Value, class: Value) -> Option<Value> {
        if !selector.is_ref() || !self.heap.is_bytes(selector) {
            return None;
        }
        let mut c = class;
        for _ in 0..MAX_CHAIN {
            if !self.is_class_shaped(c) {
                return None;
            }
            let methods = self.heap.get(c, layout::class::METHODS)?;
            if let Some(m) = self.dictionary_find(methods, self.heap.bytes(selector)) {
                return Some(m);
            }
            c = self.heap.get(c, layout::class::PARENT)?;
        }
        None
    }

    pub(crate) fn lookup(
        &mut self,
        selector: Value,
        class: Value,
    ) -> Result<Option<(Value, MethodParts)>, Trap> {
        if let Some(hit) = self.cache.probe(selector, class) {
            self.stats.cache_hits += 1;
            return Ok(Some(hit));
        }
        self.lookup_slow(selector, class)
    }

    #[inline(never)]
    fn lookup_slow(
        &mut self,
        selector: Value,
        class: Value,
    ) -> Result<Option<(Value, MethodParts)>, Trap> {
        self.stats.cache_misses += 1;
        if selector.is_int() || !self.heap.is_bytes(selector) {
            return Err(Trap::Error(format!(
                "cannot send {selector:?}: a selector must be a Symbol"
            )));
        }
        let mut c = class;
        for _ in 0..MAX_CHAIN {
            if !self.is_class_shaped(c) {
                return Ok(None);
            }
            let methods = self.heap.get(c, layout::class::METHODS).unwrap_or(c);
            let found = {
                let key = self.heap.bytes(selector);
                self.dictionary_find(methods, key)
            };
            if let Some(m) = found {
                let mut parts = self.method_parts(m)?;
                parts.native = self.native_entry(m);
                self.cache.insert(selector, class, m, parts);
                return Ok(Some((m, parts)));
            }
            c = self.heap.get(c, layout::class::PARENT).unwrap_or(c);
        }
        Err(Trap::Error(format!(
            "the superclass chain of {} has a cycle",
            self.class_name(class)
        )))
    }

    /// Sends `selector` to the receiver `nvals` slots below the top of the
    /// stack (receiver and arguments are the top `nvals` slots). Lookup
    /// starts at `start` for super sends, else at the receiver's class.
    pub(crate) fn send(
        &mut self,
        selector: Value,
        nvals: usize,
        start: Option<Value>,
    ) -> Result<(), Trap> {
        self.send_with(selector, nvals, start, Primitive::Try)
    }

    /// A send of a verified `Send` step (receiver and arguments are the top
    /// `nvals > 0` slots, the selector is literal `literal`); `at` is the
    /// step's offset. See [`Vm::send_cached`].
    #[inline(always)]
    pub(crate) fn send_step(
        &mut self,
        literal: usize,
        nvals: usize,
        at: usize,
    ) -> Result<(), Trap> {
        self.send_cached(Selector::Literal(literal), nvals, at)
    }

    /// The send of the special binary selector `k` to the top two values
    /// by the binary step just run (whose operands were not two SmallInts
    /// it answers for), through the send-site cache as a `Send` step.
    #[inline(never)]
    pub(crate) fn send_special(&mut self, k: usize) -> Result<(), Trap> {
        self.send_cached(Selector::Special(k), 2, SPECIAL_SITE | self.pc)
    }

    /// A send from the current method at its site `site` (receiver and
    /// arguments are the top `nvals > 0` slots): when the send-site cache
    /// ([`super::cache`]) or the method cache knows the target and it is
    /// not compiled, its primitive runs or its frame is pushed here;
    /// everything else, and a primitive that does not answer, goes through
    /// [`Vm::send`].
    #[inline(always)]
    fn send_cached(&mut self, selector: Selector, nvals: usize, site: usize) -> Result<(), Trap> {
        let receiver = self.stack[self.stack.len() - nvals];
        let class = self.class_of(receiver);
        let (code, literals) = (self.regs[0], self.regs[1]);
        let (method, parts) = match self.cache.probe_site(code, literals, site, class) {
            Some(hit) => hit,
            None => match self.send_site_miss(selector, nvals, site, class)? {
                Some(hit) => hit,
                None => return Ok(()),
            },
        };
        let Some(p) = parts.primitive else {
            self.stats.sends += 1;
            self.stats.cache_hits += 1;
            self.push_checked_frame(method, parts, nvals, Some(self.hp), self.pc, None)?;
            return self.tick();
        };
        let outcome = match parts.function {
            Some(f) => self.run_function(f, p, nvals),
            None => self.primitive_send(p, nvals)?,
        };
        match outcome {
            FastPrimitive::Done => {
                self.stats.sends += 1;
                self.stats.cache_hits += 1;
                Ok(())
            }
            // The primitive may have collected: the selector is read again
            // (from the literals or the roots), and the send looks up again.
            outcome => {
                let selector = self.selector(selector)?;
                self.send_with(selector, nvals, None, outcome.then_in_method())
            }
        }
    }

    /// The selector a cached send sends.
    #[inline(always)]
    fn selector(&self, selector: Selector) -> Result<Value, Trap> {
        match selector {
            Selector::Literal(i) => self.literal(i),
            Selector::Special(k) => crate::roots::BINARY_SPECIAL_ROOTS
                .get(k)
                .map(|&root| self.root(root))
                .ok_or_else(|| Trap::Error("invalid sendBinary".into())),
        }
    }

    /// A send step whose site has not cached its receiver's class (its
    /// receiver, and the block a `value…` send activates, are recorded as
    /// type feedback): the method cache's hit for an interpreted method (remembered for the
    /// site when there is no JIT, whose tiering changes entries in place),
    /// or `None` after a full send.
    #[inline(never)]
    fn send_site_miss(
        &mut self,
        selector_source: Selector,
        nvals: usize,
        at: usize,
        class: Value,
    ) -> Result<Option<(Value, MethodParts)>, Trap> {
        let method = self.header(self.hp, H_METHOD);
        self.record_send(method, self.pc, nvals);
        let selector = self.selector(selector_source)?;
        if class == self.root(Root::BlockClass) && !self.record_block_send(method, selector, nvals)
        {
            // Objects moved: `selector` and `class` are stale.
            let selector = self.selector(selector_source)?;
            return self.send(selector, nvals, None).map(|()| None);
        }
        match self.cache.probe(selector, class) {
            Some(hit) if hit.1.native == NEVER && !self.options.trace_sends => {
                if self.jit.is_none() {
                    let (code, literals) = (self.regs[0], self.regs[1]);
                    self.cache.insert_site(code, literals, at, class, hit);
                }
                Ok(Some(hit))
            }
            _ => self.send(selector, nvals, None).map(|()| None),
        }
    }

    /// Records the block a send of `selector` to the Block on the stack
    /// activates, if the send will activate it (`Block>>value…`), as
    /// type feedback at the current pc of `method`. Looks the method up
    /// (the send then finds it cached); a failed lookup is the send's to
    /// report. False if the lookup collected (nothing is recorded then).
    #[cold]
    fn record_block_send(&mut self, method: Value, selector: Value, nvals: usize) -> bool {
        let block = self.stack[self.stack.len() - nvals];
        let class = self.class_of(block);
        let collections = self.heap.stats.collections;
        let found = self.lookup(selector, class);
        if self.heap.stats.collections != collections {
            return false;
        }
        if let Ok(Some((_, parts))) = found
            && parts.primitive.is_some_and(|p| p.is_block_value(nvals))
        {
            self.record_block(method, self.pc, block);
        }
        true
    }

    /// [`Vm::send`]; `fast` allows running a primitive method's primitive
    /// without a frame.
    fn send_with(
        &mut self,
        selector: Value,
        nvals: usize,
        start: Option<Value>,
        primitive: Primitive,
    ) -> Result<(), Trap> {
        if nvals == 0 || self.stack.len() < self.hp + super::frame::HEADER + nvals {
            return Err(Trap::Error("send without a receiver on the stack".into()));
        }
        self.stats.sends += 1;
        let receiver = self.stack[self.stack.len() - nvals];
        let class = start.unwrap_or_else(|| self.class_of(receiver));
        if self.options.trace_sends {
            self.trace_send(selector, receiver, class);
        }
        match self.lookup(selector, class)? {
            Some((method, parts)) => {
                let mut failed = primitive == Primitive::Failed;
                if let (Some(p), Primitive::Try) = (parts.primitive, primitive) {
                    let collections = self.heap.stats.collections;
                    let h = self.heap.push_handle(selector);
                    let outcome = self.primitive_send(p, nvals);
                    let selector = self.heap.handle(h);
                    self.heap.release_handles(h);
                    let outcome = outcome?;
                    if outcome == FastPrimitive::Done {
                        return Ok(());
                    }
                    let next = outcome.then_in_method();
                    failed = next == Primitive::Failed;
                    if self.heap.stats.collections != collections {
                        // The primitive collected before failing: `method`,
                        // `parts` and `class` are stale. Look up again.
                        self.stats.sends -= 1;
                        let start = match start {
                            Some(_) => Some(self.super_class()?),
                            None => None,
                        };
                        return self.send_with(selector, nvals, start, next);
                    }
                }
                let native = match parts.native {
                    0 => self.count_call(selector, class, method, parts),
                    n => n,
                };
                self.push_checked_frame(method, parts, nvals, Some(self.hp), self.pc, None)?;
                if native != 0 && native != NEVER && !failed {
                    // Compiled: the interpreter's loop enters the code.
                    self.pc = NATIVE_PC_BASE + native as usize;
                }
                if let (true, Some(p)) = (failed, parts.primitive) {
                    // Go on after the failed primitive (not run it twice:
                    // it may have had effects), as the interpreter would.
                    self.pc = p.resume_pc as usize;
                    self.stack.push(self.nil());
                }
                self.tick()
            }
            None => self.does_not_understand(selector, nvals, class),
        }
    }

    /// A send whose target's primitive has already been tried without a
    /// frame, with `outcome` (not `Done`): the method runs after its
    /// `doPrimitive` or from its start, as [`Vm::send`] would have gone on.
    pub(crate) fn send_after_primitive(
        &mut self,
        selector: Value,
        nvals: usize,
        outcome: FastPrimitive,
    ) -> Result<(), Trap> {
        self.send_with(selector, nvals, None, outcome.then_in_method())
    }

    #[cold]
    fn trace_send(&mut self, selector: Value, receiver: Value, class: Value) {
        self.flush();
        eprintln!(
            "{:>6} send #{} to {} ({})",
            self.stack.len(),
            self.text_of(selector),
            self.describe(receiver),
            self.class_name(class)
        );
    }

    /// Runs a primitive method's primitive for a send, without a frame.
    /// `Ok(false)`: it failed (or does not apply), so the method runs.
    #[inline]
    pub(crate) fn primitive_send(
        &mut self,
        p: PrimitiveMethod,
        nvals: usize,
    ) -> Result<FastPrimitive, Trap> {
        let argc = p.argc as usize;
        if p.args[..argc].iter().any(|&i| i as usize >= nvals) {
            return Ok(FastPrimitive::NotRun);
        }
        let base = self.stack.len() - nvals;
        if p.number == 8 {
            // `Block>>value…` is `<8 args… self>`.
            let done = p.is_block_value(nvals) && self.send_to_block(nvals - 1)?;
            return Ok(if done {
                FastPrimitive::Done
            } else {
                FastPrimitive::NotRun
            });
        }
        let top = self.stack.len();
        // The primitive reads its arguments where they are when they are
        // the send's receiver and arguments in order (`<n self a b>`);
        // else a copy in that order is pushed for it.
        let at = if p.takes_send_values(nvals) {
            base
        } else {
            for i in 0..argc {
                let v = self.stack[base + p.args[i] as usize];
                self.stack.push(v);
            }
            top
        };
        match crate::prims::call(self, p.number, at, argc) {
            Ok(Some(v)) => {
                self.stack.truncate(base);
                self.stack.push(v);
                Ok(FastPrimitive::Done)
            }
            // Failed: the method's fallback code runs in its own frame.
            Ok(None) => {
                self.stack.truncate(top);
                Ok(FastPrimitive::Failed)
            }
            // Trapped: run the method from its start, so that the error
            // is raised with the method in the backtrace.
            Err(_) => {
                self.stack.truncate(top);
                Ok(FastPrimitive::NotRun)
            }
        }
    }

    /// [`Vm::primitive_send`] for the primitive method `p` whose primitive
    /// is the function `f`: it runs on the send's `nvals` values where they
    /// are when it reads them in order (`<n self a b>`), else on a copy of
    /// them pushed in its order.
    #[inline(always)]
    fn run_function(
        &mut self,
        f: crate::prims::PrimFn,
        p: PrimitiveMethod,
        nvals: usize,
    ) -> FastPrimitive {
        let argc = p.argc as usize;
        let top = self.stack.len();
        let base = top - nvals;
        let at = if p.takes_send_values(nvals) {
            base
        } else {
            if p.args[..argc].iter().any(|&i| i as usize >= nvals) {
                return FastPrimitive::NotRun;
            }
            for &i in &p.args[..argc] {
                let v = self.stack[base + i as usize];
                self.stack.push(v);
            }
            top
        };
        match f(self, crate::prims::Args::new(at, argc)) {
            Ok(Some(v)) => {
                self.stack.truncate(base);
                self.stack.push(v);
                FastPrimitive::Done
            }
            // As in `primitive_send`: the fallback code runs in a frame
            // (failed), or the method from its start (trapped).
            Ok(None) => {
                self.stack.truncate(top);
                FastPrimitive::Failed
            }
            Err(_) => {
                self.stack.truncate(top);
                FastPrimitive::NotRun
            }
        }
    }

    /// LLST's `doesNotUnderstand:`: the original arguments are dropped and
    /// the handler receives the receiver and the selector.
    fn does_not_understand(
        &mut self,
        selector: Value,
        nvals: usize,
        class: Value,
    ) -> Result<(), Trap> {
        let dnu = self.root(Root::SelectorDoesNotUnderstand);
        let Some((handler, _)) = self.lookup(dnu, class)? else {
            let receiver = self.stack[self.stack.len() - nvals];
            return Err(Trap::Fatal(format!(
                "{} does not understand #{} and has no doesNotUnderstand:",
                self.class_name(self.class_of(receiver)),
                self.text_of(selector)
            )));
        };
        let keep = self.stack.len() - nvals + 1;
        self.stack.truncate(keep);
        self.stack.push(selector);
        self.push_frame(handler, 2, Some(self.hp), self.pc, None)?;
        self.tick()
    }

    /// Where a super send in the current method starts looking: the
    /// superclass of the method's defining class.
    pub(crate) fn super_class(&self) -> Result<Value, Trap> {
        let method = self.header(self.hp, H_METHOD);
        let class = self
            .heap
            .get(method, layout::method::CLASS)
            .unwrap_or(method);
        if !self.is_class_shaped(class) {
            return Err(Trap::Error(
                "super send in a method without a defining class".into(),
            ));
        }
        Ok(self.heap.get(class, layout::class::PARENT).unwrap_or(class))
    }

    /// Sends `selector` with the receiver and arguments given as values
    /// (pushed here): for sends the VM makes itself, such as `error:`.
    pub(crate) fn send_values(&mut self, selector: Value, values: &[Value]) -> Result<(), Trap> {
        self.stack.extend_from_slice(values);
        self.send(selector, values.len(), None)
    }
}
