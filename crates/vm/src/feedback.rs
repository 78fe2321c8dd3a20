//! Type feedback: what the interpreter and compiled code observed at each
//! send site, kept with the method for the optimizing tier to read.
//!
//! Per method (keyed by the Method object) this module keeps, per send
//! site, up to [`MAX_CLASSES`] receiver classes, a megamorphic flag, how
//! many observations were recorded and whether a Float was an argument;
//! and per block-activation site (a `value…` send that activated a
//! block) the block's method and body offset, or "several". A site is
//! numbered by the bytecode offset just after its send instruction: the
//! pc of the JIT IR's `Send` state and of the interpreter's frame while
//! the send runs.
//!
//! It lives beside the heap rather than in `interp` or `jit_runtime`
//! because both record into it and the optimizer reads it; neither owns
//! it. Observations come only from slow paths that already exist (the
//! interpreter's send-site-cache miss and real sends of special
//! selectors, its first runs of a method's arithmetic steps, compiled
//! code's send-stub slow path); this module does no lookups, sends or
//! allocations of its own.
//!
//! Unlike the caches, the table survives collections: its references are
//! weak ([`crate::heap::WeakRefs`]). After a collection every method,
//! class and block method that survived has its new address; a method
//! that died takes its feedback with it (so a new method at a reused
//! address never sees it), a class that died leaves its site. The table
//! holds at most [`MAX_METHODS`] methods (the least observed quarter is
//! dropped when it is full) and [`MAX_SITES`] sites per method, so a
//! long-running image does not grow it without bound, and it keeps
//! nothing alive. A method whose bytecodes object was replaced starts
//! again.
//!
//! Invocation counts are not kept here: the tier counts calls of methods
//! not yet compiled and baseline code counts down to its tier-up
//! (`jit_runtime::tiering`).

use crate::heap::WeakRefs;
use crate::layout;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use rustc_hash::FxHashMap;
use std::fmt::Write;

/// Receiver classes a site keeps before it is megamorphic.
pub const MAX_CLASSES: usize = 4;
/// Methods the table keeps.
pub const MAX_METHODS: usize = 4096;
/// Send sites (and block sites) kept per method.
pub const MAX_SITES: usize = 128;

/// What one send site observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFeedback {
    /// The bytecode offset just after the send.
    pub pc: u16,
    /// Receiver classes, in the order first seen (at most [`MAX_CLASSES`]).
    pub classes: Vec<Value>,
    /// More than [`MAX_CLASSES`] receiver classes were seen.
    pub megamorphic: bool,
    /// Whether some argument was a Float.
    pub float_argument: bool,
    /// Observations recorded (slow paths only: not every send).
    pub count: u32,
}

/// Which block a block-activation site activated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTarget {
    /// Always blocks of this method's body at this bytecode offset.
    One { method: Value, body: u16 },
    /// Blocks of more than one body.
    Several,
}

/// What one block-activation site observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSiteFeedback {
    /// The bytecode offset just after the `value…` send.
    pub pc: u16,
    pub target: BlockTarget,
    pub count: u32,
}

/// A method's feedback, as [`Vm::send_feedback`] answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodFeedback {
    /// Send sites, by pc.
    pub sites: Vec<SiteFeedback>,
    /// Block-activation sites, by pc.
    pub blocks: Vec<BlockSiteFeedback>,
}

/// One method's entry (references weak).
#[derive(Clone, Debug)]
struct Entry {
    method: Value,
    /// The method's bytecodes when the entry was made.
    code: Value,
    sites: Vec<SiteFeedback>,
    blocks: Vec<BlockSiteFeedback>,
    /// Observations since the last eviction (which drops the fewest).
    recent: u32,
}

/// The feedback of every observed method (see the module doc).
#[derive(Default)]
pub struct FeedbackTable {
    entries: Vec<Entry>,
    /// Method address → index in `entries`; rebuilt when objects move.
    index: FxHashMap<u64, u32>,
}

impl FeedbackTable {
    /// How many methods have feedback.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, method: Value) -> Option<&Entry> {
        let i = *self.index.get(&method.raw())?;
        self.entries.get(i as usize)
    }

    /// The entry of `method` running `code`, made (or made afresh, if its
    /// bytecodes changed) if need be.
    fn entry_mut(&mut self, method: Value, code: Value) -> &mut Entry {
        let i = match self.index.get(&method.raw()) {
            Some(&i) => i as usize,
            None => {
                if self.entries.len() >= MAX_METHODS {
                    self.evict();
                }
                self.index.insert(method.raw(), self.entries.len() as u32);
                self.entries.push(Entry {
                    method,
                    code,
                    sites: vec![],
                    blocks: vec![],
                    recent: 0,
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        if e.code != code {
            e.code = code;
            e.sites.clear();
            e.blocks.clear();
        }
        e.recent = e.recent.saturating_add(1);
        e
    }

    /// Drops the least observed quarter of the methods and ages the rest.
    #[cold]
    fn evict(&mut self) {
        let mut recent: Vec<u32> = self.entries.iter().map(|e| e.recent).collect();
        let cut = recent.len() / 4;
        let (_, &mut threshold, _) = recent.select_nth_unstable(cut);
        let mut dropped = 0;
        self.entries.retain(|e| {
            let drop = dropped < cut.max(1) && e.recent <= threshold;
            dropped += usize::from(drop);
            !drop
        });
        for e in &mut self.entries {
            e.recent /= 2;
        }
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.index.insert(e.method.raw(), i as u32);
        }
    }

    /// Records a receiver of `class` at send site `pc` of `method`
    /// (running `code`); `float_argument`: some argument was a Float.
    pub(crate) fn record_send(
        &mut self,
        (method, code): (Value, Value),
        pc: u16,
        class: Value,
        float_argument: bool,
    ) {
        let e = self.entry_mut(method, code);
        let site = match e.sites.binary_search_by_key(&pc, |s| s.pc) {
            Ok(i) => &mut e.sites[i],
            Err(_) if e.sites.len() >= MAX_SITES => return,
            Err(i) => {
                e.sites.insert(i, new_site(pc));
                &mut e.sites[i]
            }
        };
        site.count = site.count.saturating_add(1);
        site.float_argument |= float_argument;
        if !site.classes.contains(&class) {
            if site.classes.len() < MAX_CLASSES {
                site.classes.push(class);
            } else {
                site.megamorphic = true;
            }
        }
    }

    /// Records that the `value…` send at `pc` of `method` activated a
    /// block of `block_method`'s body at `body`.
    pub(crate) fn record_block(
        &mut self,
        (method, code): (Value, Value),
        pc: u16,
        block_method: Value,
        body: u16,
    ) {
        let e = self.entry_mut(method, code);
        let seen = BlockTarget::One {
            method: block_method,
            body,
        };
        let site = match e.blocks.binary_search_by_key(&pc, |s| s.pc) {
            Ok(i) => &mut e.blocks[i],
            Err(_) if e.blocks.len() >= MAX_SITES => return,
            Err(i) => {
                let site = BlockSiteFeedback {
                    pc,
                    target: seen,
                    count: 0,
                };
                e.blocks.insert(i, site);
                &mut e.blocks[i]
            }
        };
        site.count = site.count.saturating_add(1);
        if site.target != seen {
            site.target = BlockTarget::Several;
        }
    }
}

fn new_site(pc: u16) -> SiteFeedback {
    SiteFeedback {
        pc,
        classes: vec![],
        megamorphic: false,
        float_argument: false,
        count: 0,
    }
}

impl WeakRefs for FeedbackTable {
    /// Follows moved methods, classes and block methods; drops the
    /// entries of dead methods (or bytecodes), dead classes from their
    /// sites, and block sites whose block method died (they may be
    /// observed again).
    fn update(&mut self, forward: &dyn Fn(Value) -> Option<Value>) {
        self.entries.retain_mut(|e| {
            let (Some(method), Some(code)) = (forward(e.method), forward(e.code)) else {
                return false;
            };
            (e.method, e.code) = (method, code);
            for site in &mut e.sites {
                site.classes = site.classes.iter().filter_map(|&c| forward(c)).collect();
            }
            e.blocks.retain_mut(|b| match b.target {
                BlockTarget::One { method, body } => forward(method).is_some_and(|m| {
                    b.target = BlockTarget::One { method: m, body };
                    true
                }),
                BlockTarget::Several => true,
            });
            true
        });
        self.reindex();
    }
}

impl Vm {
    /// The feedback recorded for `method` (empty if there is none).
    pub fn send_feedback(&self, method: Value) -> MethodFeedback {
        match self.feedback.entry(method) {
            Some(e) if self.bytecodes_of(method) == Some(e.code) => MethodFeedback {
                sites: e.sites.clone(),
                blocks: e.blocks.clone(),
            },
            _ => MethodFeedback::default(),
        }
    }

    /// The send sites of `method` (by pc, sorted) whose receivers were
    /// observed and none of them (nor any argument) was a Float, and that
    /// are not megamorphic: where only other classes (SmallInts, say) flow.
    pub fn not_float_sites(&self, method: Value) -> Vec<u16> {
        let float = self.root(Root::FloatClass);
        self.send_feedback(method)
            .sites
            .iter()
            .filter(|s| {
                !s.classes.is_empty()
                    && !s.megamorphic
                    && !s.float_argument
                    && !s.classes.contains(&float)
            })
            .map(|s| s.pc)
            .collect()
    }

    /// `method`'s feedback as text, one site a line: `@pc  Class1 Class2`
    /// (then `megamorphic`, `float-arg`, `xCOUNT`), and block sites as
    /// `@pc  block Method>>name@body` or `@pc  blocks: several`.
    pub fn describe_feedback(&self, method: Value) -> String {
        let fb = self.send_feedback(method);
        let mut out = String::new();
        for s in &fb.sites {
            let _ = write!(out, "@{:<4}", s.pc);
            for &c in &s.classes {
                let _ = write!(out, " {}", self.class_name(c));
            }
            if s.megamorphic {
                out.push_str(" megamorphic");
            }
            if s.float_argument {
                out.push_str(" float-arg");
            }
            let _ = writeln!(out, "  x{}", s.count);
        }
        for b in &fb.blocks {
            let _ = match b.target {
                BlockTarget::One { method, body } => writeln!(
                    out,
                    "@{:<4} block {}@{}  x{}",
                    b.pc,
                    self.method_name(method),
                    body,
                    b.count
                ),
                BlockTarget::Several => writeln!(out, "@{:<4} blocks: several  x{}", b.pc, b.count),
            };
        }
        out
    }

    /// How many methods have feedback (for statistics).
    pub fn feedback_methods(&self) -> usize {
        self.feedback.len()
    }

    /// The bytecodes object of `method`, if it has one.
    fn bytecodes_of(&self, method: Value) -> Option<Value> {
        if !method.is_ref() || self.heap.is_bytes(method) {
            return None;
        }
        self.heap.get(method, layout::method::BYTECODES)
    }

    /// `method` and its bytecodes, if it is a method.
    fn feedback_key(&self, method: Value) -> Option<(Value, Value)> {
        let code = self.bytecodes_of(method)?;
        code.is_ref().then_some((method, code))
    }

    /// Whether `v` is a Float.
    fn is_float(&self, v: Value) -> bool {
        v.is_ref() && self.heap.class_of_object(v) == self.root(Root::FloatClass)
    }

    /// Records the send at `pc` (just after the send) of `method` whose
    /// receiver and arguments are the top `nvals` values of the VM stack.
    /// Called from slow paths only.
    #[cold]
    #[inline(never)]
    pub(crate) fn record_send(&mut self, method: Value, pc: usize, nvals: usize) {
        let Some(base) = self.stack.len().checked_sub(nvals).filter(|_| nvals > 0) else {
            return;
        };
        let receiver = self.stack[base];
        let float_argument = (base + 1..self.stack.len()).any(|i| self.is_float(self.stack[i]));
        self.record_receiver(method, pc, receiver, float_argument);
    }

    /// Records a binary send at `pc` of `method` to `receiver` with
    /// `argument` (operands not on the stack). Called from slow paths only.
    #[cold]
    #[inline(never)]
    pub(crate) fn record_binary(
        &mut self,
        method: Value,
        pc: usize,
        receiver: Value,
        argument: Value,
    ) {
        let float_argument = self.is_float(argument);
        self.record_receiver(method, pc, receiver, float_argument);
    }

    fn record_receiver(&mut self, method: Value, pc: usize, receiver: Value, float_argument: bool) {
        let (Some(key), Ok(pc)) = (self.feedback_key(method), u16::try_from(pc)) else {
            return;
        };
        let class = self.class_of(receiver);
        self.feedback.record_send(key, pc, class, float_argument);
    }

    /// Records that the `value…` send at `pc` of `method` activates
    /// `block` (a Block object: its method and body offset are read).
    #[cold]
    #[inline(never)]
    pub(crate) fn record_block(&mut self, method: Value, pc: usize, block: Value) {
        let (Some(key), Ok(pc)) = (self.feedback_key(method), u16::try_from(pc)) else {
            return;
        };
        if !block.is_ref() || self.heap.is_bytes(block) {
            return;
        }
        let block_method = self.heap.get(block, layout::context::METHOD);
        let body = self.heap.get(block, layout::block::BODY_POINTER);
        let (Some(m), Some(body)) = (block_method, body.and_then(|b| b.as_usize())) else {
            return;
        };
        if let Ok(body) = u16::try_from(body) {
            self.feedback.record_block(key, pc, m, body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake object address (the table never reads the heap).
    fn obj(n: u64) -> Value {
        Value::from_raw(0x10_0000 + n * 16)
    }

    #[test]
    fn a_site_keeps_four_classes_then_is_megamorphic() {
        let mut t = FeedbackTable::default();
        let key = (obj(1), obj(2));
        for c in 10..15 {
            t.record_send(key, 7, obj(c), false);
        }
        let e = t.entry(obj(1)).unwrap();
        assert_eq!(e.sites[0].classes, [obj(10), obj(11), obj(12), obj(13)]);
        assert!(e.sites[0].megamorphic);
        assert_eq!(e.sites[0].count, 5);
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = FeedbackTable::default();
        for m in 0..(MAX_METHODS as u64 + 100) {
            t.record_send((obj(2 * m), obj(2 * m + 1)), 3, obj(1), false);
        }
        assert!(t.len() <= MAX_METHODS, "{}", t.len());
        let key = (obj(1), obj(2));
        for pc in 0..(MAX_SITES as u16 + 10) {
            t.record_send(key, pc, obj(3), false);
            t.record_block(key, pc, obj(4), 9);
        }
        let e = t.entry(obj(1)).unwrap();
        assert_eq!((e.sites.len(), e.blocks.len()), (MAX_SITES, MAX_SITES));
    }

    #[test]
    fn moved_objects_are_followed_and_dead_ones_dropped() {
        let mut t = FeedbackTable::default();
        t.record_send((obj(1), obj(2)), 3, obj(10), false);
        t.record_send((obj(1), obj(2)), 3, obj(11), false);
        t.record_block((obj(1), obj(2)), 5, obj(12), 9);
        t.record_send((obj(20), obj(21)), 3, obj(10), false);
        // obj(20) (a method) and obj(11) (a class) die; the rest move.
        let moved = |v: Value| Value::from_raw(v.raw() + 0x1000);
        t.update(&|v| (v != obj(20) && v != obj(11)).then(|| moved(v)));
        assert_eq!(t.len(), 1);
        assert!(t.entry(obj(1)).is_none());
        let e = t.entry(moved(obj(1))).unwrap();
        assert_eq!(e.sites[0].classes, [moved(obj(10))]);
        let target = BlockTarget::One {
            method: moved(obj(12)),
            body: 9,
        };
        assert_eq!(e.blocks[0].target, target);
    }

    #[test]
    fn new_bytecodes_start_the_method_again() {
        let mut t = FeedbackTable::default();
        t.record_send((obj(1), obj(2)), 3, obj(10), false);
        t.record_send((obj(1), obj(5)), 4, obj(11), false);
        let e = t.entry(obj(1)).unwrap();
        assert_eq!(e.sites.len(), 1);
        assert_eq!(e.sites[0].pc, 4);
    }
}
