//! Inline caches of compiled send sites: for each send in compiled code,
//! the receiver classes seen there and the compiled method each runs.
//!
//! A [`SendSite`] is read and written by compiled code (the JIT's send
//! stub: class guard, frame push, direct tail call to the target) and by
//! the runtime: the stub's slow path,
//! [`lst_send_site`](super::helpers::lst_send_site), sends through the
//! method cache as the interpreter does and then records what it found in
//! a free way of the site. A site whose ways are full is *megamorphic*: it
//! keeps sending through the method cache.
//!
//! Ways hold object addresses, so every site is emptied when objects move
//! (a collection) and when a method dictionary may have changed (the
//! method cache's flush): that is the whole of invalidation.
//!
//! A way is filled only for a target that runs compiled from its start in
//! a frame of its own (no frameless primitive, no `doesNotUnderstand:`),
//! so a hit does exactly what the slow path would.
//!
//! Targets that are primitive methods (`at:`, Float `+`, …) go to
//! *primitive ways* instead, and the site becomes *direct*: the JIT's
//! send stub then calls
//! [`lst_send_direct`](super::helpers::lst_send_direct), which runs the
//! cached primitive on the caller's stack and answers in place, without a
//! lookup or a frame (the stub goes on at the site's continuation). A
//! failed primitive goes on in its method's frame, as in the interpreter.
//! A `value…` send that activated a block marks the site for blocks
//! instead (`block_cache`).
//!
//! This module must not generate code; it owns the sites' layout, their
//! filling and flushing (the helpers that call into it are in `helpers`).

use super::boundary::{self, GO_ON, NATIVE_PC_BASE, Resume, TRY_STUB};
use super::quick::Quick;
use crate::interp::Trap;
use crate::interp::frame::{H_FP, H_METHOD, H_TB, HEADER, MethodParts, PrimitiveMethod};
use crate::interp::send::FastPrimitive;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use std::cell::Cell;

/// Receiver classes a site remembers before it is megamorphic.
pub const IC_WAYS: usize = 4;

/// One cached receiver class and what a send to it runs.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Way {
    /// The receiver's class (0: the way is empty).
    pub class: Cell<u64>,
    pub method: Cell<u64>,
    /// The method's bytecodes and literals (for the frame header).
    pub code: Cell<u64>,
    pub literals: Cell<u64>,
    /// Temporaries to push (inline in the frame).
    pub temps: Cell<u64>,
    /// The address of the method's compiled code (entry 0).
    pub entry: Cell<u64>,
    /// Nonzero for a quick method (`quick::QUICK_CONSTANT`, …): the stub
    /// answers without a frame, from `operand` (a raw value or a slot).
    pub quick: Cell<u64>,
    pub operand: Cell<u64>,
}

/// Receiver classes whose method is a primitive method a site remembers.
pub const PRIM_WAYS: usize = 2;

/// One cached receiver class whose method is a primitive method
/// (`frame::PrimitiveMethod`): a send to it runs the primitive on the
/// caller's stack, without a lookup and without a frame.
#[repr(C)]
#[derive(Debug, Default)]
pub struct PrimWay {
    /// The receiver's class (0: the way is empty).
    pub class: Cell<u64>,
    /// `PrimitiveMethod::pack`.
    pub prim: Cell<u64>,
}

/// A primitive compiled code runs inline at a send whose selector names
/// it, when the site's first primitive way holds the receiver's class
/// with exactly the primitive method it stands for
/// ([`InlinePrim::primitive`] names it and its operands): `at:`
/// (`arrayAt` on receiver, index), `at:put:` (`arrayAtPut` on value,
/// receiver, index; it answers the receiver), `==` (`identical`),
/// `class`, `basicSize`/`size` and `new:` (`newObject` on receiver, size:
/// a new object of nil slots, made by
/// [`lst_new_slots`](super::helpers::lst_new_slots) without a collection). Guarding
/// on what the runtime found at the site, not on the selector, keeps
/// the inline path right for every class and every redefinition.
pub use lst_bytecode::inline_ops::ObjectOp as InlinePrim;

/// The [`PrimWay::prim`] word of the primitive method `op` stands for.
/// (A name missing from the primitive table, which a test rules out,
/// would give primitive 0, which no site holds: no inline path.)
pub fn prim_word(op: InlinePrim) -> u64 {
    let (name, args) = op.primitive();
    let mut p = PrimitiveMethod {
        number: crate::prims::number_of(name).unwrap_or(0),
        argc: args.len() as u8,
        args: [0; 5],
        resume_pc: 0,
    };
    p.args[..args.len()].copy_from_slice(args);
    p.pack()
}

/// One send in compiled code.
#[repr(C)]
#[derive(Debug, Default)]
pub struct SendSite {
    /// The selector code (see [`boundary::SPECIAL_SELECTOR`], [`boundary::TO_SUPER`]).
    pub selector: Cell<u64>,
    /// Receiver and arguments.
    pub nvals: Cell<u64>,
    /// The record of the continuation after the send (set with
    /// [`SendSite::set_record`]).
    pub record: Cell<u64>,
    /// The return-pc word of the frames the send pushes: the record as a
    /// native pc, as a SmallInt (kept with `record`, so that the send
    /// stub stores it without computing it).
    pub retpc: Cell<u64>,
    /// Sends that found their class in a way.
    pub hits: Cell<u64>,
    /// Sends that took the slow path.
    pub misses: Cell<u64>,
    /// Nonzero once a primitive method answered a send here: the send
    /// stub then calls [`lst_send_direct`](super::helpers::lst_send_direct) (which runs cached primitives
    /// and answers in place) when no method way holds the receiver's
    /// class. Never cleared.
    pub direct: Cell<u64>,
    /// Nonzero once a block answered a `value…` send here (through
    /// `Block>>value…`): the send stub then looks Block receivers up in the
    /// block table (`block_cache`). Never cleared.
    pub block: Cell<u64>,
    pub ways: [Way; IC_WAYS],
    pub prims: [PrimWay; PRIM_WAYS],
}

/// Offsets of [`SendSite`] and [`Way`] fields, for compiled code.
#[derive(Clone, Copy, Debug)]
pub struct SiteLayout {
    pub nvals: i32,
    pub record: i32,
    pub retpc: i32,
    pub hits: i32,
    pub direct: i32,
    pub block: i32,
    pub ways: i32,
    pub way_size: i32,
    /// The first primitive way's class and primitive.
    pub prim_class: i32,
    pub prim: i32,
    pub class: i32,
    pub method: i32,
    pub code: i32,
    pub literals: i32,
    pub temps: i32,
    pub entry: i32,
    pub quick: i32,
    pub operand: i32,
}

impl SiteLayout {
    pub fn new() -> SiteLayout {
        use std::mem::{offset_of, size_of};
        let off = |n: usize| i32::try_from(n).expect("site offsets are small");
        SiteLayout {
            nvals: off(offset_of!(SendSite, nvals)),
            record: off(offset_of!(SendSite, record)),
            retpc: off(offset_of!(SendSite, retpc)),
            hits: off(offset_of!(SendSite, hits)),
            direct: off(offset_of!(SendSite, direct)),
            block: off(offset_of!(SendSite, block)),
            ways: off(offset_of!(SendSite, ways)),
            way_size: off(size_of::<Way>()),
            prim_class: off(offset_of!(SendSite, prims) + offset_of!(PrimWay, class)),
            prim: off(offset_of!(SendSite, prims) + offset_of!(PrimWay, prim)),
            class: off(offset_of!(Way, class)),
            method: off(offset_of!(Way, method)),
            code: off(offset_of!(Way, code)),
            literals: off(offset_of!(Way, literals)),
            temps: off(offset_of!(Way, temps)),
            entry: off(offset_of!(Way, entry)),
            quick: off(offset_of!(Way, quick)),
            operand: off(offset_of!(Way, operand)),
        }
    }
}

impl Default for SiteLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl SendSite {
    /// A site for a send with selector code `selector` of `nvals` values,
    /// continuing at `record`.
    pub fn new(selector: u64, nvals: u64, record: u64) -> SendSite {
        let s = SendSite::default();
        s.selector.set(selector);
        s.nvals.set(nvals);
        s.set_record(record);
        s
    }

    /// Sets the continuation's record, and the return-pc word with it.
    pub fn set_record(&self, record: u64) {
        self.record.set(record);
        let pc = record + NATIVE_PC_BASE as u64;
        self.retpc.set(Value::small(pc as i64).raw());
    }

    fn flush(&self) {
        for w in &self.ways {
            w.class.set(0);
        }
        for w in &self.prims {
            w.class.set(0);
        }
    }

    /// Whether every way is taken.
    pub fn is_megamorphic(&self) -> bool {
        self.ways.iter().all(|w| w.class.get() != 0)
    }
}

/// Inline-cache counters, summed over all sites.
#[derive(Clone, Copy, Debug, Default)]
pub struct IcCounts {
    pub sites: u64,
    pub hits: u64,
    pub misses: u64,
    pub megamorphic: u64,
}

impl Vm {
    /// Empties every send site and the block table (objects moved, or
    /// methods changed).
    pub(super) fn flush_send_sites(&mut self) {
        if let Some(t) = self.jit.as_ref() {
            t.sites
                .iter()
                .flat_map(|s| s.iter())
                .for_each(SendSite::flush);
        }
        self.flush_block_entries();
    }

    /// Flushes the method cache and every inline cache: after a method
    /// dictionary may have changed.
    pub(crate) fn flush_caches(&mut self) {
        self.cache.flush();
        self.flush_send_sites();
        self.quick_selectors = None;
        if self.jit.is_some() {
            self.refresh_inline_ops();
        }
    }

    /// Hits and misses of all inline caches, for `--jit-stats`.
    pub fn ic_counts(&self) -> IcCounts {
        let mut c = IcCounts::default();
        for s in self
            .jit
            .iter()
            .flat_map(|t| t.sites.iter())
            .flat_map(|s| s.iter())
        {
            c.sites += 1;
            c.hits += s.hits.get();
            c.misses += s.misses.get();
            c.megamorphic += u64::from(s.is_megamorphic());
        }
        c
    }

    /// The selector a site's code names (a literal of the current method,
    /// or a special selector).
    fn site_selector(&self, code: u64) -> Result<Value, Trap> {
        let index = (code & 0xFFFF) as usize;
        if code & boundary::SPECIAL_SELECTOR != 0 {
            let root = crate::roots::BINARY_SPECIAL_ROOTS
                .get(index)
                .ok_or_else(|| Trap::Error("a send site names no special selector".into()))?;
            return Ok(self.root(*root));
        }
        self.literal(index)
    }

    /// The send of `site` from frame `hp`, through the method cache; then
    /// records the target in the site if a hit could have run it. The
    /// receiver (and the block a `value…` send activated) is recorded as
    /// type feedback at the site's pc (`crate::feedback`).
    pub(super) fn send_from_site(&mut self, site: &SendSite, hp: usize) -> Result<(), Trap> {
        let record = site.record.get() as usize;
        let nvals = site.nvals.get() as usize;
        self.enter_frame(hp, NATIVE_PC_BASE + record)?;
        let code = site.selector.get();
        let selector = self.site_selector(code)?;
        if code & boundary::TO_SUPER != 0 {
            let start = self.super_class()?;
            return self.send(selector, nvals, Some(start));
        }
        if nvals == 0 || self.stack.len() < hp + HEADER + nvals {
            return Err(Trap::Error("send without a receiver on the stack".into()));
        }
        let receiver = self.stack[self.stack.len() - nvals];
        let class = self.class_of(receiver);
        let caller = self.header(hp, H_METHOD);
        let pc = self
            .native_record(NATIVE_PC_BASE + record)
            .map(|r| r.pc as usize);
        if let Some(pc) = pc {
            self.record_send(caller, pc, nvals);
        }
        let collections = self.heap.stats.collections;
        self.send(selector, nvals, None)?;
        if self.heap.stats.collections == collections
            && let Some(found) = self.cache.probe(selector, class)
        {
            if let (Some(pc), Some(p)) = (pc, found.1.primitive)
                && p.is_block_value(nvals)
                && self.hp != hp
            {
                self.record_block(caller, pc, receiver);
            }
            self.fill_site(site, found, class, hp, nvals);
        }
        Ok(())
    }

    /// A direct send from `site` in frame `hp` (see [`lst_send_direct`](super::helpers::lst_send_direct)):
    /// `Ok(None)` when no primitive way has the receiver's class.
    pub(super) fn send_direct(&mut self, site: &SendSite, hp: usize) -> Result<Option<u64>, Trap> {
        let nvals = site.nvals.get() as usize;
        let len = self.stack.len();
        if nvals == 0 || len < hp + HEADER + nvals {
            return Ok(None);
        }
        let base = len - nvals;
        let class = self.class_of(self.stack[base]).raw();
        let Some(way) = site.prims.iter().find(|w| w.class.get() == class) else {
            let cached = site.ways.iter().any(|w| w.class.get() == class)
                || (site.block.get() != 0 && class == self.native_regs.block_class.raw());
            return Ok(cached.then_some(TRY_STUB));
        };
        let p = PrimitiveMethod::unpack(way.prim.get());
        let record = site.record.get() as usize;
        if crate::prims::reads_frames(p.number) {
            self.enter_frame(hp, NATIVE_PC_BASE + record)?;
        }
        let outcome = self.primitive_send(p, nvals)?;
        if outcome == FastPrimitive::Done {
            self.stats.sends += 1;
            self.native_regs.value = self.stack.pop().unwrap_or_default();
            site.hits.set(site.hits.get() + 1);
            return Ok(Some(GO_ON));
        }
        // Failed or trapped: the method runs in its own frame, as after
        // the interpreter's frameless try (the primitive is not run twice).
        site.misses.set(site.misses.get() + 1);
        self.enter_frame(hp, NATIVE_PC_BASE + record)?;
        let selector = self.site_selector(site.selector.get())?;
        self.send_after_primitive(selector, nvals, outcome)?;
        Ok(Some(self.transfer()))
    }

    /// After a send from `site` in frame `caller` to a receiver of
    /// `class` found `method` (with `parts`) and nothing moved: records
    /// what a later send of that class can do without the runtime.
    /// - A primitive method a direct send can run: a primitive way, and
    ///   the site becomes direct. `Block>>value…` that activated a block:
    ///   the site is marked for blocks and the body goes in the block table.
    /// - A quick method: a quick way (answered without a frame).
    /// - A method that runs compiled from its start in a frame of its own
    ///   (the new frame shows it): a method way.
    fn fill_site(
        &mut self,
        site: &SendSite,
        (method, parts): (Value, MethodParts),
        class: Value,
        caller: usize,
        nvals: usize,
    ) {
        if let Some(p) = parts.primitive {
            return self.fill_prim_way(site, p, class, caller, nvals);
        }
        // Instance variables are not read from SmallInts.
        let smallint = class == self.root(Root::SmallIntClass);
        let quick = self
            .quick_method(parts.code, parts.literals, nvals)
            .filter(|q| !(smallint && matches!(q, Quick::Getter(_) | Quick::Setter(_))));
        match quick {
            Some(quick) => fill_quick_way(site, quick, class),
            None => self.fill_method_way(site, method, parts, class, caller, nvals),
        }
    }

    fn fill_prim_way(
        &mut self,
        site: &SendSite,
        p: PrimitiveMethod,
        class: Value,
        caller: usize,
        nvals: usize,
    ) {
        let args_ok = p.args[..p.argc as usize]
            .iter()
            .all(|&i| (i as usize) < nvals);
        if !args_ok {
            return;
        }
        if p.number == 8 {
            if p.is_block_value(nvals) && self.hp != caller {
                site.block.set(1);
                self.fill_block_entry(nvals);
            }
            return;
        }
        if let Some(way) = way_for(&site.prims, class, |w| &w.class) {
            way.prim.set(p.pack());
            way.class.set(class.raw());
            site.direct.set(1);
        }
    }

    fn fill_method_way(
        &mut self,
        site: &SendSite,
        method: Value,
        parts: MethodParts,
        class: Value,
        caller: usize,
        nvals: usize,
    ) {
        let hp = self.hp;
        if hp == caller || self.caller_of(hp) != Some(caller) {
            return;
        }
        let Some(record) = self.native_record(self.pc) else {
            return;
        };
        let (fp, tb) = (self.header_index(hp, H_FP), self.header_index(hp, H_TB));
        if record.resume != Resume::Start as u32
            || self.header(hp, H_METHOD) != method
            || tb - fp != nvals
            || hp - tb != parts.temps
        {
            return;
        }
        let Some(way) = way_for(&site.ways, class, |w| &w.class) else {
            return;
        };
        way.method.set(method.raw());
        way.code.set(parts.code.raw());
        way.literals.set(parts.literals.raw());
        way.temps.set(parts.temps as u64);
        way.entry.set(record.code as u64);
        way.quick.set(0);
        way.class.set(class.raw());
    }
}

/// The way of `ways` for `class`: the one holding it, else a free one.
fn way_for<W>(ways: &[W], class: Value, class_of: impl Fn(&W) -> &Cell<u64>) -> Option<&W> {
    ways.iter().find(|w| {
        let c = class_of(w).get();
        c == 0 || c == class.raw()
    })
}

/// Records quick method `quick` for `class` in a way of `site`.
fn fill_quick_way(site: &SendSite, quick: Quick, class: Value) {
    if let Some(way) = way_for(&site.ways, class, |w| &w.class) {
        let (code, operand) = quick.code();
        way.quick.set(code);
        way.operand.set(operand);
        way.class.set(class.raw());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inline_primitive_is_in_the_primitive_table_with_its_arity() {
        for op in InlinePrim::ALL {
            let (name, operands) = op.primitive();
            let number = crate::prims::number_of(name)
                .unwrap_or_else(|| panic!("{op:?}: no primitive named {name}"));
            let entry = crate::prims::lookup(number).expect("a table entry");
            assert_eq!(entry.arity, operands.len(), "{op:?} ({name})");
            // Operands index (receiver, arguments…) of the selector.
            assert!(operands.iter().all(|&i| usize::from(i) <= op.arguments()));
            assert_eq!(PrimitiveMethod::unpack(prim_word(op)).number, number);
        }
    }

    #[test]
    fn the_inline_primitives_are_llsts() {
        // The numbers LLST's images use in these methods (llst-facts.md).
        let numbers: Vec<u8> = InlinePrim::ALL
            .iter()
            .map(|&op| PrimitiveMethod::unpack(prim_word(op)).number)
            .collect();
        assert_eq!(numbers, [24, 5, 1, 2, 4, 7]);
    }
}
