//! Processes: running one (primitive 6), finishing, stopping on error or at
//! the end of its time slice, safepoints, and turning traps into Smalltalk
//! errors.
//!
//! LLST's `Process>>doExecute: ticks` runs a process until it returns (4),
//! fails (2) or uses up its time slice (5), then answers that status to the
//! caller. Running processes nest (the caller waits), so each running
//! process owns a segment of the one VM stack: a *run record* of two slots
//! (the Process object and the heap context to return into when its bottom
//! frame returns) followed by its frames. A process that stops is spilled
//! into Context objects, and its segment is popped.
//!
//! Preemption and Ctrl-C use one countdown checked at method entry and
//! backward branches ([`Vm::tick`]); the slow path polls the interrupt flag.

use super::frame::*;
use super::{ExitStatus, Flow, Trap};
use crate::layout;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use std::sync::atomic::Ordering;

/// Safepoints between polls of the interrupt flag.
pub const POLL_INTERVAL: i64 = 1024;
/// Frames written into Contexts when a process stops on an error (its
/// backtrace); deeper frames are dropped with it.
pub const ERROR_SPILL_LIMIT: usize = 1000;
/// Nested `error:` sends after which a failing process is stopped outright.
const MAX_ERROR_DEPTH: u32 = 8;

const R_PROCESS: usize = 0;
const R_HEAP_CALLER: usize = 1;

/// One running process.
pub(crate) struct Run {
    /// Stack index of the run record.
    base: usize,
    /// The frame that ran primitive 6 (`None` for the boot process).
    parent: Option<usize>,
    /// Safepoints left in the time slice (0: unlimited).
    ticks_left: i64,
}

impl Vm {
    pub(crate) fn current_run_heap_caller(&self) -> Value {
        self.runs
            .last()
            .map_or(self.nil(), |r| self.stack[r.base + R_HEAP_CALLER])
    }

    pub(crate) fn set_current_run_heap_caller(&mut self, v: Value) {
        if let Some(r) = self.runs.last() {
            self.stack[r.base + R_HEAP_CALLER] = v;
        }
    }

    /// True if `ctx` is one of the heap contexts the running process will
    /// return into when its frames are done.
    pub(crate) fn heap_chain_contains(&self, ctx: Value) -> bool {
        let mut c = self.current_run_heap_caller();
        for _ in 0..10_000_000 {
            if c == ctx {
                return true;
            }
            if c.is_int() || self.heap.is_bytes(c) || c == self.nil() {
                return false;
            }
            c = self
                .heap
                .get(c, layout::context::PREVIOUS)
                .unwrap_or(self.nil());
        }
        false
    }

    /// Starts the image: runs its initial method (`nil main` in LLST
    /// images) as the boot process, until that process ends.
    pub fn boot(&mut self) -> Result<ExitStatus, String> {
        let method = self.root(Root::InitialMethod);
        let nil = self.nil();
        let temps = (self.heap.get(method, layout::method::TEMPORARY_SIZE) == Some(nil))
            .then_some(BOOT_TEMPORARIES);
        self.start_top_level(method, &[nil], temps)
            .map_err(|t| format!("cannot start the image: {t:?}"))?;
        let status = self.run();
        self.flush();
        status
    }

    /// Pushes a run record for a top-level process (no Process object, no
    /// parent) and the frame of `method` with `values` (receiver, then
    /// arguments). On failure nothing is left pushed.
    fn start_top_level(
        &mut self,
        method: Value,
        values: &[Value],
        temps: Option<usize>,
    ) -> Result<(), Trap> {
        let nil = self.nil();
        let base = self.stack.len();
        self.stack.extend_from_slice(&[nil, nil]);
        self.runs.push(Run {
            base,
            parent: None,
            ticks_left: 0,
        });
        self.reset_countdown();
        self.stack.extend_from_slice(values);
        self.hp = usize::MAX;
        let r = self.push_frame(method, values.len(), None, 0, temps);
        if r.is_err() {
            self.runs.pop();
            self.stack.truncate(base);
        }
        r
    }

    /// Runs `method` with `values` (receiver, then arguments) as a new
    /// top-level process, until it ends. Answers the method's value, or
    /// `Ok(None)` if the process stopped on an error (Smalltalk's `error:`
    /// has reported it). `Err` is a VM failure.
    pub fn run_method(&mut self, method: Value, values: &[Value]) -> Result<Option<Value>, String> {
        if !self.runs.is_empty() {
            return Err("run_method called while a process is running".into());
        }
        self.start_top_level(method, values, None)
            .map_err(|t| format!("cannot run the method: {t:?}"))?;
        let status = self.run();
        self.flush();
        match status? {
            ExitStatus::Returned => Ok(Some(self.root(Root::LastResult))),
            _ => Ok(None),
        }
    }

    /// Primitive 6 (`<6 process ticks>`): runs `process` on top of the
    /// current one. The arguments have been checked and popped. `Ok(false)`
    /// is primitive failure.
    pub(crate) fn start_run(&mut self, process: Value, ticks: i64) -> Result<bool, Trap> {
        let ctx = self.heap.get(process, layout::process::CONTEXT);
        let Some(ctx) = ctx.filter(|&c| self.is_runnable_context(c)) else {
            return Ok(false);
        };
        let base = self.stack.len();
        let previous = self
            .heap
            .get(ctx, layout::context::PREVIOUS)
            .unwrap_or(self.nil());
        self.stack.extend_from_slice(&[process, previous]);
        self.runs.push(Run {
            base,
            parent: Some(self.hp),
            ticks_left: ticks,
        });
        self.reset_countdown();
        self.rebuild_frame(ctx, None)?;
        Ok(true)
    }

    /// The bottom frame of the running process returned `value`.
    pub(crate) fn process_bottom_return(&mut self, value: Value) -> Result<Flow, Trap> {
        let next = self.current_run_heap_caller();
        if next != self.nil() && self.is_runnable_context(next) {
            let previous = self
                .heap
                .get(next, layout::context::PREVIOUS)
                .unwrap_or(self.nil());
            self.set_current_run_heap_caller(previous);
            let h = self.heap.push_handle(value);
            let r = self.rebuild_frame(next, Some(h));
            self.heap.release_handles(h);
            r?;
            return Ok(Flow::Continue);
        }
        let process = self.stack[self.runs.last().expect("a process is running").base + R_PROCESS];
        self.heap.roots[Root::LastResult as usize] = value;
        if process != self.nil() {
            let nil = self.nil();
            self.heap.set(process, layout::process::CONTEXT, nil);
            self.heap.set(process, layout::process::RESULT, value);
        }
        self.finish_run(ExitStatus::Returned)
    }

    /// Pops the running process's segment and answers `status` to the
    /// frame that started it (or ends the VM run for the boot process).
    fn finish_run(&mut self, status: ExitStatus) -> Result<Flow, Trap> {
        let run = self.runs.pop().expect("a process is running");
        self.stack.truncate(run.base);
        self.error_depth = 0;
        self.end_error_reports();
        self.heap.return_reserve();
        self.stack_limit = self.stack_base_limit;
        self.reset_countdown();
        match run.parent {
            None => Ok(Flow::Exit(status)),
            Some(d) => {
                self.enter_frame(d, 0)?;
                self.return_value(Value::small(status.code()))
            }
        }
    }

    /// Stops the running process: spills its frames into Contexts, stores
    /// the top one in the Process, and answers `status` to its starter.
    pub(crate) fn stop_process(&mut self, status: ExitStatus) -> Result<Flow, Trap> {
        let limit = (status != ExitStatus::TimeExpired).then_some(ERROR_SPILL_LIMIT);
        let top = match self.spill_process(limit) {
            Ok(ctx) => ctx,
            Err(_) => self.nil(),
        };
        let process = self.stack[self.runs.last().expect("a process is running").base + R_PROCESS];
        if process != self.nil() {
            self.heap.set(process, layout::process::CONTEXT, top);
        }
        self.finish_run(status)
    }

    // -- Safepoints ------------------------------------------------------------------

    /// A safepoint: method entry (after the frame is pushed) or backward
    /// branch (after the jump). The state is whole there, so a process
    /// stopped at a safepoint resumes exactly where it was.
    #[inline(always)]
    pub(crate) fn tick(&mut self) -> Result<(), Trap> {
        self.countdown -= 1;
        if self.countdown <= 0 {
            self.safepoint()
        } else {
            Ok(())
        }
    }

    #[cold]
    pub(crate) fn safepoint(&mut self) -> Result<(), Trap> {
        self.install_finished_compiles();
        let used = self.countdown_reset - self.countdown;
        if self.interrupt.swap(false, Ordering::Relaxed) {
            self.reset_countdown();
            return Err(Trap::Interrupt);
        }
        if let Some(run) = self.runs.last_mut()
            && run.ticks_left > 0
        {
            run.ticks_left -= used;
            if run.ticks_left <= 0 {
                run.ticks_left = 0;
                return Err(Trap::Preempt);
            }
        }
        self.reset_countdown();
        Ok(())
    }

    /// Whether [`Self::safepoint`] would stop the process now (an
    /// interrupt, or the time slice used up), without changing anything.
    pub(crate) fn safepoint_would_stop(&self) -> bool {
        let used = self.countdown_reset - self.countdown;
        self.interrupt.load(Ordering::Relaxed)
            || self
                .runs
                .last()
                .is_some_and(|run| run.ticks_left > 0 && run.ticks_left - used <= 0)
    }

    fn reset_countdown(&mut self) {
        let slice = self.runs.last().map_or(0, |r| r.ticks_left);
        self.countdown_reset = if slice > 0 {
            slice.min(POLL_INTERVAL)
        } else {
            POLL_INTERVAL
        };
        self.countdown = self.countdown_reset;
    }

    // -- Traps ---------------------------------------------------------------------

    /// Turns a trap into Smalltalk: an `error:` sent to the current receiver,
    /// or, when that is impossible, stopping the running process.
    pub(crate) fn handle_trap(&mut self, trap: Trap) -> Result<Flow, Trap> {
        match trap {
            Trap::Preempt => self.stop_process(ExitStatus::TimeExpired),
            Trap::Interrupt => self.raise_error("interrupted (Ctrl-C)".into()),
            Trap::StackOverflow => {
                let limit = self.stack_limit;
                if self.stack_limit == self.stack_base_limit {
                    self.stack_limit += RED_ZONE / 2;
                    self.raise_error(format!(
                        "stack overflow: recursion deeper than the VM stack allows ({limit} slots; see --stack-size)"
                    ))
                } else {
                    self.report_fatal("stack overflow while handling a stack overflow");
                    self.stop_process(ExitStatus::Error)
                }
            }
            Trap::OutOfMemory(e) => {
                if self.heap.grant_reserve() {
                    self.raise_error(e.to_string())
                } else {
                    self.report_fatal(&e.to_string());
                    self.stop_process(ExitStatus::Error)
                }
            }
            Trap::Error(msg) => self.raise_error(msg),
            Trap::Fatal(msg) => {
                self.report_fatal(&msg);
                self.stop_process(ExitStatus::Error)
            }
        }
    }

    fn report_fatal(&mut self, msg: &str) {
        self.flush();
        eprintln!("lst: {msg}");
        self.last_fatal = Some(msg.to_string());
    }

    /// Sends `error: msg` to the current receiver.
    fn raise_error(&mut self, msg: String) -> Result<Flow, Trap> {
        self.error_depth += 1;
        if self.error_depth > MAX_ERROR_DEPTH || self.root(Root::SelectorError) == self.nil() {
            self.report_fatal(&format!(
                "{msg} (while handling an error; the process is stopped)"
            ));
            return self.stop_process(ExitStatus::Error);
        }
        let text = self.new_string(msg.as_bytes())?;
        // Read after the allocation, which may have moved them.
        let selector = self.root(Root::SelectorError);
        let receiver = self.stack[self.fp];
        match self.send_values(selector, &[receiver, text]) {
            Ok(()) => Ok(Flow::Continue),
            // The error: frame is pushed; the safepoint on its entry fired.
            Err(t @ (Trap::Preempt | Trap::Interrupt)) => Err(t),
            Err(_) => {
                self.report_fatal(&msg);
                self.stop_process(ExitStatus::Error)
            }
        }
    }
}
