//! When methods are compiled, and at which level: the tier's state and
//! policy.
//!
//! This module owns [`JitMode`], [`Level`] and [`Tiering`], the compiled
//! code's bookkeeping ([`Tier`]: records, units, send sites, counters,
//! block table), call and loop counting, compiling a unit and keeping
//! what the compiler produced, tier-up of baseline code to optimized code
//! and on-stack replacement at loop heads, sending back optimized units
//! whose inlining is invalid or whose inlined code exits too often (and
//! which sends their next compile must not inline), and [`JitStats`].
//! With background compiles on, a tier-up is queued instead: the compiler
//! prepares it here, the compile worker (`background`) generates its code,
//! and [`Vm::install_finished_compiles`] installs it at a safe point (a
//! tier-up check or the safepoint poll) unless something made it stale
//! meanwhile; until then the unit runs its baseline code.
//!
//! It must not generate code (the compiler behind [`Compiler`] does) and
//! does not move control into or out of compiled code (`transfer` does).

use super::background::{Done, Worker};
use super::block_cache::{BlockTable, new_table};
use super::boundary::{Compiler, Entry, NATIVE_PC_BASE, Prepared, Record, Resume, records_by_word};
use super::inline_cache::SendSite;
use crate::interp::frame::{H_CONTEXT, H_METHOD, HEADER, MethodParts};
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// How much a compiler works on a method: a baseline compile is fast and
/// its code slower; an optimized one the other way round. In tiered
/// compiling, baseline code counts its calls and loop iterations and has
/// the runtime recompile it optimized once that count runs out
/// ([`lst_tier_up`](super::helpers::lst_tier_up)).
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
    pub(super) fn counter_start(&self) -> i64 {
        self.optimize_after
            .map_or(COUNTER_OFF, |n| i64::from(n.max(1)))
    }

    /// What a baseline function's counter starts at again while its
    /// optimized compile is queued: it looks sooner whether the code is
    /// installed, to switch to it.
    pub(super) fn counter_while_queued(&self) -> i64 {
        self.counter_start().min(COUNTER_WHILE_QUEUED)
    }
}

/// See [`Tiering::counter_while_queued`].
const COUNTER_WHILE_QUEUED: i64 = 1000;

/// What a tier-up check found (see [`Vm::optimize_frame_unit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierUp {
    /// The unit is optimized: its entry record.
    Now(u32),
    /// Its optimized compile is queued: it goes on in baseline code.
    Later,
    /// It stays baseline.
    Never,
}

/// A tiering counter's value while it must not run out.
pub const COUNTER_OFF: i64 = i64::MAX;

/// What the tier compiles: a method (start 0) or the block body at a
/// bytecode offset in it, keyed by the method's address.
type Unit = (u64, u16);

/// Backward branches between two looks at whether the loop's method is hot
/// (on-stack replacement).
const LOOP_STRIDE: u32 = 64;

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
    /// Unboxed Float regions in the code compiled, by level (baseline,
    /// optimized).
    pub unboxed_regions: [u64; 2],
    /// Sends inlined in the code compiled.
    pub inlined_sends: u64,
    /// Sends not inlined, by reason.
    pub inline_refusals: HashMap<String, u64>,
    /// Optimized units whose inlining a method installation invalidated.
    pub invalidations: u64,
    /// Exits that turned inlined activations into real frames.
    pub materializations: u64,
    /// Optimized units invalidated because their inlined code exited too
    /// often (see [`Vm::deoptimize_unit`]).
    pub deoptimized_too_often: u64,
    /// Background compiles.
    pub background: BackgroundStats,
}

/// Counters of background compiles, for `--jit-stats`.
#[derive(Clone, Debug, Default)]
pub struct BackgroundStats {
    pub queued: u64,
    pub installed: u64,
    /// Dropped at install: something they assumed changed meanwhile.
    pub stale: u64,
    /// Their code generation or install failed.
    pub failed: u64,
    /// The times of each job installed (those dropped or failed are
    /// not counted).
    pub jobs: Vec<JobTimes>,
}

impl BackgroundStats {
    /// What `--jit-stats` says of background compiles, a line each
    /// (none if there were none).
    pub fn lines(&self) -> Vec<String> {
        if self.queued == 0 {
            return vec![];
        }
        let left = self
            .queued
            .saturating_sub(self.installed + self.stale + self.failed);
        let times = |f: fn(&JobTimes) -> Duration| {
            let mut t: Vec<Duration> = self.jobs.iter().map(f).collect();
            t.sort_unstable();
            let total: Duration = t.iter().sum();
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let median = t.get(t.len() / 2).copied().unwrap_or_default();
            let max = t.last().copied().unwrap_or_default();
            format!(
                "median {:.1} µs, max {:.1} µs, total {:.1} ms",
                us(median),
                us(max),
                us(total) / 1e3
            )
        };
        let counts = format!(
            "background: {} compiles queued, {} installed, {} dropped as stale, {} failed, {left} still queued at the end",
            self.queued, self.installed, self.stale, self.failed
        );
        if self.jobs.is_empty() {
            return vec![counts];
        }
        vec![
            counts,
            format!("background: main thread, prepare: {}", times(|j| j.prepare)),
            format!("background: main thread, install: {}", times(|j| j.install)),
            format!(
                "background: worker, code generation: {}",
                times(|j| j.codegen)
            ),
            format!("background: queued to installed: {}", times(|j| j.wait)),
        ]
    }
}

/// Where the time of one background compile went.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobTimes {
    /// On the main thread, preparing it (IR; CLIF for Cranelift, sites
    /// for LLVM).
    pub prepare: Duration,
    /// On the worker, generating its code.
    pub codegen: Duration,
    /// On the main thread, installing it.
    pub install: Duration,
    /// From queued to installed.
    pub wait: Duration,
}

/// Background compiles: whether they are on, the worker (started at the
/// first job) and the jobs queued on it.
#[derive(Default)]
struct Background {
    on: bool,
    /// How long the worker waits before each job (tests).
    delay: Duration,
    worker: Option<Worker>,
    pending: Vec<Pending>,
    /// Indices in `methods` of units whose background compile failed:
    /// they stay baseline.
    failed: Vec<usize>,
}

/// An optimized compile queued on the worker, until it is installed or
/// dropped.
struct Pending {
    /// Its number on the worker.
    id: u64,
    /// Its unit's index in `methods`.
    slot: usize,
    /// Its first record: its entries' records are reserved (without code)
    /// from there.
    first: u32,
    entries: usize,
    sites: Box<[SendSite]>,
    unboxed_regions: u32,
    /// The index in `units` of its constants (kept there from the start,
    /// so that the collector updates them and an installed method can
    /// invalidate them), with its inlining's counts.
    inlining: Option<(usize, u32, Vec<String>)>,
    /// A method was installed for its selector meanwhile.
    stale: bool,
    queued: Instant,
    prepare: Duration,
}

/// The compiled-code tier of a VM.
pub struct Tier {
    pub(super) compiler: Box<dyn Compiler>,
    pub mode: JitMode,
    /// Calls before a method is compiled (mode `On`).
    pub threshold: u32,
    pub tiering: Tiering,
    pub(super) records: Vec<Record>,
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
    pub(super) sites: Vec<Box<[SendSite]>>,
    /// The tiering counters of all baseline code (boxed: code holds their
    /// addresses).
    #[allow(clippy::vec_box)]
    counters: Vec<Box<std::cell::Cell<i64>>>,
    /// The level of each of `methods`' code.
    levels: Vec<Level>,
    /// Compiled block bodies, for compiled `value…` sends.
    pub(super) blocks: Box<BlockTable>,
    /// The constants of every unit that inlined sends (boxed: code holds
    /// their addresses). Kept as long as the tier: code is never freed.
    #[allow(clippy::vec_box)]
    pub(crate) units: Vec<Box<super::unit_constants::UnitConstants>>,
    /// The indices in `methods` of units whose inlining was invalidated,
    /// waiting to be compiled again (see [`Tier::invalidate_inlined`]).
    sent_back: Vec<usize>,
    /// By index in `methods`: the bytecode offsets after the unit's own
    /// sends whose inlined code exited too often; its next compiles do
    /// not inline them (see [`Vm::sends_not_to_inline`]).
    exited_too_often: FxHashMap<usize, Vec<u16>>,
    /// Backward branches the interpreter took (sampled every
    /// [`LOOP_STRIDE`]).
    loop_edges: u32,
    background: Background,
    pub stats: JitStats,
}

impl Tier {
    /// The index in `methods` of the unit `(method, start)`.
    fn unit_slot(&self, method: Value, start: u16) -> Option<usize> {
        self.methods
            .iter()
            .zip(&self.starts)
            .position(|(m, &s)| m.raw() == method.raw() && s == start)
    }

    /// The index in `methods` of the unit `(method, start)` if it was
    /// sent back to be compiled again; it is not any more.
    fn take_sent_back(&mut self, method: Value, start: u16) -> Option<usize> {
        let at = self
            .sent_back
            .iter()
            .position(|&i| self.methods[i].raw() == method.raw() && self.starts[i] == start)?;
        Some(self.sent_back.swap_remove(at))
    }

    /// Keeps what inlining made of the unit whose entry record is `first`.
    fn keep_inlining(&mut self, inlining: super::unit_constants::Inlining, first: u32) {
        self.count_inlining(inlining.inlined, inlining.refused);
        self.keep_unit(inlining.unit, first);
    }

    /// Keeps the constants of the unit whose entry record is `first`; their
    /// index in `units`.
    fn keep_unit(
        &mut self,
        mut unit: Box<super::unit_constants::UnitConstants>,
        first: u32,
    ) -> usize {
        unit.entry_record = first;
        self.units.push(unit);
        self.units.len() - 1
    }

    /// Counts the sends a compile inlined and why it did not inline others.
    fn count_inlining(&mut self, inlined: u32, refused: Vec<String>) {
        self.stats.inlined_sends += u64::from(inlined);
        for why in refused {
            *self.stats.inline_refusals.entry(why).or_insert(0) += 1;
        }
    }

    /// Clears the validity word of every unit whose inlining assumed the
    /// lookups of `selector` (every unit: `None`), and sends each such
    /// unit back to be compiled again (from its first level, once hot);
    /// whether any was.
    pub(crate) fn invalidate_inlined(&mut self, selector: Option<Value>) -> bool {
        let invalidated: Vec<u32> = self
            .units
            .iter()
            .filter(|u| selector.is_none_or(|s| u.depends_on(s)) && u.invalidate())
            .map(|u| u.entry_record)
            .collect();
        let any = !invalidated.is_empty();
        for entry in invalidated {
            self.stats.invalidations += 1;
            self.send_back(entry);
        }
        any
    }

    /// Sends the unit whose entry record is `entry` back to be compiled
    /// again (from its first level, once hot); its index in `methods`.
    fn send_back(&mut self, entry: u32) -> Option<usize> {
        let i = self.method_records.iter().position(|&r| r == entry)?;
        self.index.remove(&(self.methods[i].raw(), self.starts[i]));
        self.method_records[i] = 0;
        self.levels[i] = Level::Baseline;
        self.sent_back.push(i);
        Some(i)
    }

    /// Invalidates the unit whose constants are at `address` because its
    /// inlined code exited too often, sends it back to be compiled again,
    /// and remembers which of its sends' inlined code exited so that the
    /// next compile leaves them; whether the unit was valid.
    fn deoptimize(&mut self, address: u64) -> bool {
        let Some(u) = self.units.iter().find(|u| {
            std::ptr::from_ref::<super::unit_constants::UnitConstants>(u) as u64 == address
        }) else {
            return false;
        };
        if !u.invalidate() {
            return false;
        }
        let (entry, records) = (u.entry_record, u.exited_sends());
        let pcs: Vec<u16> = records
            .iter()
            .filter_map(|&r| self.records.get(r as usize))
            .filter_map(|r| u16::try_from(r.pc).ok())
            .collect();
        self.stats.deoptimized_too_often += 1;
        if let Some(i) = self.send_back(entry) {
            let known = self.exited_too_often.entry(i).or_default();
            known.extend(pcs);
            known.sort_unstable();
            known.dedup();
        }
        true
    }

    /// Queues the code generation of `p`, prepared for unit `slot` from
    /// record `first` (`started` then): reserves its records and keeps its
    /// constants.
    fn queue(
        &mut self,
        p: Prepared,
        slot: usize,
        first: u32,
        started: Instant,
    ) -> Result<(), String> {
        let worker = match &mut self.background.worker {
            Some(w) => w,
            None => self
                .background
                .worker
                .insert(Worker::start(self.background.delay)?),
        };
        let id = worker
            .submit(p.codegen)
            .ok_or("the compile worker is gone")?;
        self.add_records(&p.entries, 0);
        let inlining = p
            .inlining
            .map(|i| (self.keep_unit(i.unit, first), i.inlined, i.refused));
        self.background.pending.push(Pending {
            id,
            slot,
            first,
            entries: p.entries.len(),
            sites: p.sites,
            unboxed_regions: p.unboxed_regions,
            inlining,
            stale: false,
            queued: Instant::now(),
            prepare: started.elapsed(),
        });
        self.stats.background.queued += 1;
        Ok(())
    }

    /// Adds the records of `entries`, whose code is at `code` (0: not
    /// yet).
    fn add_records(&mut self, entries: &[Entry], code: usize) {
        for (k, e) in entries.iter().enumerate() {
            self.records.push(Record {
                code,
                k: k as u32,
                pc: e.pc,
                resume: e.resume as u32,
                depth: e.depth,
            });
        }
    }

    /// Whether queued `job` must not be installed: a method was installed
    /// for its selector, its inlining was invalidated, or its unit is no
    /// longer baseline code waiting for it.
    fn is_stale(&self, job: &Pending) -> bool {
        let unit_invalid = job
            .inlining
            .as_ref()
            .is_some_and(|(u, _, _)| !self.units[*u].is_valid());
        let record = self.method_records[job.slot];
        job.stale
            || unit_invalid
            || self.levels[job.slot] != Level::Baseline
            || record == 0
            || record == NEVER
    }

    /// Keeps what installed `job` made, its code at `code`: the code of
    /// its records, its sites, its counts.
    fn keep_installed(&mut self, job: Pending, code: usize) {
        let first = job.first as usize;
        for r in &mut self.records[first..first + job.entries] {
            r.code = code;
        }
        self.sites.push(job.sites);
        if let Some((_, inlined, refused)) = job.inlining {
            self.count_inlining(inlined, refused);
        }
        self.stats.compiled += 1;
        self.stats.unboxed_regions[Level::Optimized as usize] += u64::from(job.unboxed_regions);
        self.stats.background.installed += 1;
    }
}

impl Vm {
    /// A method was installed for `selector` (any method dictionary may
    /// have changed: `None`): the optimized units whose inlining assumed
    /// otherwise stop using it and will be compiled again. Flushes the
    /// caches that may hold their entries.
    pub(crate) fn invalidate_inlined(&mut self, selector: Option<Value>) {
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        // A queued compile of a method that may have been redefined is
        // not installed.
        for p in &mut tier.background.pending {
            let name = self
                .heap
                .get(tier.methods[p.slot], crate::layout::method::NAME);
            p.stale |= selector.is_none_or(|s| name == Some(s));
        }
        if tier.invalidate_inlined(selector) {
            self.cache.flush();
            self.flush_send_sites();
        }
    }

    /// The inlined code of the optimized unit whose constants are at
    /// `unit` exited too often (see [`UnitConstants::count_exit`](super::unit_constants::UnitConstants::count_exit)): it
    /// stops using its inlining, as if a method it assumed absent had been
    /// installed, and will be compiled again without inlining the sends
    /// that exited. Flushes the caches that may hold its entry.
    pub(crate) fn deoptimize_unit(&mut self, unit: u64) {
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        if tier.deoptimize(unit) {
            self.cache.flush();
            self.flush_send_sites();
        }
    }

    /// While the optimizing compiler runs: the bytecode offsets after the
    /// unit's own sends whose inlined code exited too often in an earlier
    /// compile of it; inlining must leave them.
    pub fn sends_not_to_inline(&self) -> &[u16] {
        &self.jit_sends_not_to_inline
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
            background: Background::default(),
            sites: vec![],
            counters: vec![],
            levels: vec![],
            blocks: new_table(),
            units: vec![],
            sent_back: vec![],
            exited_too_often: FxHashMap::default(),
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

    /// Whether optimized compiles run on the compile worker (tier-ups
    /// only: a unit's first compile is always done at once); `delay` holds
    /// each job back that long before its code generation (for tests that
    /// change the program while a compile is queued).
    pub fn set_jit_background(&mut self, on: bool, delay: Duration) {
        if let Some(t) = self.jit.as_mut() {
            t.background.on = on;
            t.background.delay = delay;
        }
    }

    /// The level of the code unit `(method, start)` runs, if it is
    /// compiled.
    pub fn jit_level(&self, method: Value, start: u16) -> Option<Level> {
        let tier = self.jit.as_ref()?;
        let i = tier.unit_slot(method, start)?;
        let r = tier.method_records[i];
        (r != 0 && r != NEVER).then(|| tier.levels[i])
    }

    /// Stops the compile worker before the process exits without
    /// dropping the VM: waits for the job it is running and drops the
    /// rest (see [`Worker`]); tier-ups compile at once from now on.
    pub fn stop_compile_worker(&mut self) {
        if let Some(t) = self.jit.as_mut() {
            t.background.worker = None;
            t.background.pending.clear();
            t.background.on = false;
        }
    }

    /// How many optimized compiles are queued on the worker.
    pub fn jit_jobs_queued(&self) -> usize {
        self.jit.as_ref().map_or(0, |t| t.background.pending.len())
    }

    /// Waits up to `limit` for the queued compiles and installs those
    /// that finish (for tests and tools); how many are still queued.
    pub fn finish_jit_jobs(&mut self, limit: Duration) -> usize {
        let until = Instant::now() + limit;
        while self.jit_jobs_queued() > 0 {
            let left = until.saturating_duration_since(Instant::now());
            let done = self
                .jit
                .as_ref()
                .and_then(|t| t.background.worker.as_ref())
                .and_then(|w| w.wait_finished(left));
            match done {
                Some(d) => self.install_job(d),
                None => break,
            }
        }
        self.jit_jobs_queued()
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
                // 0: sent back to be compiled again (see `invalidate_inlined`).
                if r != 0 {
                    t.index.insert((m.raw(), start), r);
                }
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
        mut parts: MethodParts,
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
            tier.index.insert((method.raw(), start), r);
            // A unit invalidated earlier keeps its place.
            if let Some(i) = tier.take_sent_back(method, start) {
                tier.method_records[i] = r;
                tier.levels[i] = level;
                return r;
            }
            tier.methods.push(method);
            tier.starts.push(start);
            tier.method_records.push(r);
            tier.levels.push(level);
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
        self.jit_sends_not_to_inline = tier
            .unit_slot(method, start)
            .and_then(|i| tier.exited_too_often.get(&i))
            .cloned()
            .unwrap_or_default();
        let result = tier.compiler.compile(self, method, start, first, level);
        self.jit_sends_not_to_inline.clear();
        let r = match result {
            Ok(c) => {
                tier.stats.compile_times.push((level, started.elapsed()));
                tier.stats.compiled += 1;
                tier.stats.unboxed_regions[level as usize] += u64::from(c.unboxed_regions);
                tier.add_records(&c.entries, c.code);
                tier.sites.push(c.sites);
                if let Some(inlining) = c.inlining {
                    tier.keep_inlining(inlining, first);
                }
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
    /// makes later calls find the new code (see [`lst_tier_up`](super::helpers::lst_tier_up)): at once,
    /// or with background compiles on, by queuing the compile (the answer
    /// is then [`TierUp::Later`] until it is installed).
    pub(super) fn optimize_frame_unit(&mut self, hp: usize) -> TierUp {
        let method = self.header(hp, H_METHOD);
        let Some(start) = self.frame_unit_start(hp) else {
            return TierUp::Never;
        };
        self.install_finished_compiles();
        let Some(tier) = self.jit.as_ref() else {
            return TierUp::Never;
        };
        let Some(i) = tier.unit_slot(method, start) else {
            return TierUp::Never;
        };
        if tier.levels[i] == Level::Optimized {
            return match tier.method_records[i] {
                NEVER => TierUp::Never,
                r => TierUp::Now(r),
            };
        }
        if tier.background.on {
            if tier.background.failed.contains(&i) {
                return TierUp::Never;
            }
            if tier.background.pending.iter().any(|p| p.slot == i) {
                return TierUp::Later;
            }
            match self.queue_optimized(i, method, start) {
                Some(Ok(())) => return TierUp::Later,
                Some(Err(why)) => {
                    self.note_refusal(method, &why);
                    return TierUp::Never;
                }
                // The compiler compiles in one piece only.
                None => {}
            }
        }
        let r = match self.compile_unit(method, start, Level::Optimized) {
            Ok(r) => r,
            Err(why) => {
                self.note_refusal(method, &why);
                return TierUp::Never;
            }
        };
        self.now_optimized(i, r);
        TierUp::Now(r)
    }

    /// Unit `i` of the tier's `methods` is optimized now, its entry
    /// record `r`: later calls find it.
    fn now_optimized(&mut self, i: usize, r: u32) {
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        tier.levels[i] = Level::Optimized;
        tier.method_records[i] = r;
        tier.sent_back.retain(|&j| j != i);
        tier.index
            .insert((tier.methods[i].raw(), tier.starts[i]), r);
        tier.stats.optimized_later += 1;
        // Caches and inline caches may hold the baseline entry.
        self.cache.flush();
        self.flush_send_sites();
    }

    /// Prepares the optimized compile of unit `i`, `(method, start)`, and
    /// queues its code generation on the worker (started now if it is not
    /// yet). `None`: the compiler cannot split its compiles.
    fn queue_optimized(
        &mut self,
        i: usize,
        method: Value,
        start: u16,
    ) -> Option<Result<(), String>> {
        let mut tier = self.jit.take()?;
        let started = Instant::now();
        self.index_quick_selectors();
        let first = tier.records.len() as u32;
        self.jit_sends_not_to_inline = tier.exited_too_often.get(&i).cloned().unwrap_or_default();
        let prepared = tier.compiler.prepare(self, method, start, first);
        self.jit_sends_not_to_inline.clear();
        let r = prepared.map(|p| p.and_then(|p| tier.queue(p, i, first, started)));
        self.native_regs.records_by_word = records_by_word(&tier.records);
        self.jit = Some(tier);
        r
    }

    /// Installs the compiles the worker finished (a safe point: any time
    /// the VM may flush its caches).
    pub(crate) fn install_finished_compiles(&mut self) {
        loop {
            let done = match self.jit.as_ref() {
                Some(t) if !t.background.pending.is_empty() => {
                    t.background.worker.as_ref().and_then(Worker::try_finished)
                }
                _ => None,
            };
            match done {
                Some(d) => self.install_job(d),
                None => return,
            }
        }
    }

    /// Installs the finished job `done` as its unit's optimized code,
    /// unless it is stale or failed.
    fn install_job(&mut self, done: Done) {
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        let Some(at) = tier.background.pending.iter().position(|p| p.id == done.id) else {
            return;
        };
        let job = tier.background.pending.swap_remove(at);
        let started = Instant::now();
        if tier.is_stale(&job) {
            tier.stats.background.stale += 1;
            return;
        }
        let code = match done.result.and_then(|g| tier.compiler.install(g)) {
            Ok(code) => code,
            Err(why) => {
                tier.stats.background.failed += 1;
                tier.background.failed.push(job.slot);
                let method = tier.methods[job.slot];
                self.note_refusal(method, &why);
                return;
            }
        };
        let (slot, first) = (job.slot, job.first);
        let prepare = job.prepare;
        let wait = job.queued.elapsed();
        tier.keep_installed(job, code);
        self.now_optimized(slot, first);
        let Some(tier) = self.jit.as_mut() else {
            return;
        };
        let install = started.elapsed();
        tier.stats
            .compile_times
            .push((Level::Optimized, prepare + done.codegen + install));
        tier.stats.background.jobs.push(JobTimes {
            prepare,
            codegen: done.codegen,
            install,
            wait,
        });
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
        let method = self.stack[self.hp + H_METHOD];
        let Some(start) = self.frame_unit_start(self.hp) else {
            return;
        };
        let first = self.count_run(method, start, LOOP_STRIDE);
        let depth = self.stack.len() - self.hp - HEADER;
        if let Some(r) = self.loop_head(first, target, depth) {
            self.pc = NATIVE_PC_BASE + r as usize;
        }
    }

    /// Which unit frame `hp` runs: 0 for a method, the body's offset for
    /// a block (`None` if the block is malformed).
    fn frame_unit_start(&self, hp: usize) -> Option<u16> {
        let context = self.header(hp, H_CONTEXT);
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
}
