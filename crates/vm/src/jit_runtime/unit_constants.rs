//! What an optimized unit that inlined sends keeps beside its code: the
//! constant pool (the heap values behind the IR's constants: classes,
//! methods, literals of inlined methods), the validity word its guards
//! read, the selectors it depends on, and the descriptors of the exits
//! that materialize inlined frames.
//!
//! A [`UnitConstants`] is made by the compiler (which embeds the addresses
//! of its pool and validity word in the code), then owned by the tier,
//! boxed, for as long as the code may run: it never moves. The pool and
//! the selectors are strong roots, updated in place by every collection
//! ([`Vm::collect_garbage`]). [`Vm::invalidate_inlined`] clears the
//! validity words of the units that depend on a selector when a method is
//! installed for it. Each exit counts how often it is taken, so that the
//! tier can deoptimize a unit whose exits are not rare
//! ([`UnitConstants::count_exit`]).
//!
//! This module must not generate code, run Smalltalk or decide when units
//! are recompiled (the tier does, `tiering`).

use crate::value::Value;
use std::cell::Cell;

/// One inlined activation of an exit (see [`InlinedExit`]), outermost
/// first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinedLevel {
    /// The index in the unit's pool of the activation's method.
    pub method: u32,
    /// Its number of arguments (the receiver not counted).
    pub argc: u16,
    /// Its number of temporaries (the method's own count).
    pub temps: u16,
    /// How many operand-stack values the code writes for it.
    pub stack: u16,
    /// Where the activation goes on: for all but the innermost, the
    /// bytecode offset just after its inlined send (where the next level
    /// returns to); for the innermost, the start of the send instruction
    /// the interpreter is to perform.
    pub pc: u32,
    /// The activation is a block's, inlined at its `value…` send: its one
    /// "receiver" value is the Block object (`argc` and `temps` are 0),
    /// whose method, arguments and temporaries its frame takes, as the
    /// interpreter's block activation does.
    pub block: bool,
}

/// An exit of compiled code at a send inside inlined code: the caller's
/// frame (the unit's own) is spilled as at the original inlined send, and
/// above its operand stack the code writes, for each level outermost
/// first, the receiver, the arguments, the temporaries and the operand
/// stack (`stack` values). The next level's receiver and arguments follow
/// as the top of its caller's operand stack, so the values lie on the VM
/// stack in the order the frames will hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinedExit {
    /// The record (absolute index) of the native continuation after the
    /// original send: the outermost frame returns there.
    pub return_record: u32,
    pub levels: Vec<InlinedLevel>,
}

impl InlinedExit {
    /// How many values the code writes above the caller's operand stack.
    pub fn values(&self) -> usize {
        self.levels
            .iter()
            .map(|l| 1 + usize::from(l.argc) + usize::from(l.temps) + usize::from(l.stack))
            .sum()
    }
}

/// What inlining made of a compiled unit (see [`Compiled`](super::boundary::Compiled)).
#[derive(Debug)]
pub struct Inlining {
    /// The unit's constants; the code holds their addresses.
    pub unit: Box<UnitConstants>,
    /// Sends inlined.
    pub inlined: u32,
    /// Why sends were not inlined, one reason per send.
    pub refused: Vec<String>,
}

/// What the unit's validity word holds while its inlining is valid.
pub const VALID: u64 = 1;

/// Exits a unit may take in all before it counts as deoptimizing too
/// often (its inlining then costs more than the sends it saved).
pub const EXITS_TOO_MANY: u32 = 1000;

/// The constants, validity word, dependencies and exits of one compiled
/// unit (see the module doc).
#[derive(Debug)]
pub struct UnitConstants {
    /// The pool: read by compiled code at `pool_address() + 8 × index`.
    values: Box<[Value]>,
    /// [`VALID`], or 0 once a method the unit's inlining assumed absent
    /// may have been installed.
    valid: Cell<u64>,
    /// The selectors whose lookups the unit's inlining assumed.
    selectors: Box<[Value]>,
    /// The exits that materialize inlined frames, by index.
    exits: Box<[InlinedExit]>,
    /// How often each exit was taken (saturating).
    taken: Box<[Cell<u32>]>,
    /// How often any exit was taken (saturating).
    taken_in_all: Cell<u32>,
    /// The entry record of the unit (set by the tier).
    pub(crate) entry_record: u32,
}

impl UnitConstants {
    /// A unit's pool `values` (never resized: the code holds its
    /// address), depending on `selectors`, valid.
    pub fn new(values: Vec<Value>, selectors: Vec<Value>) -> UnitConstants {
        UnitConstants {
            values: values.into_boxed_slice(),
            valid: Cell::new(VALID),
            selectors: selectors.into_boxed_slice(),
            exits: Box::new([]),
            taken: Box::new([]),
            taken_in_all: Cell::new(0),
            entry_record: 0,
        }
    }

    /// Adds an exit; its index (what the code passes to the helper).
    pub fn add_exit(&mut self, exit: InlinedExit) -> u32 {
        let mut exits = std::mem::take(&mut self.exits).into_vec();
        exits.push(exit);
        self.exits = exits.into_boxed_slice();
        self.taken = (0..self.exits.len()).map(|_| Cell::new(0)).collect();
        (self.exits.len() - 1) as u32
    }

    /// Counts a taking of exit `i`; whether the unit's exits have now
    /// been taken [`EXITS_TOO_MANY`] times in all (true once only).
    pub(crate) fn count_exit(&self, i: u64) -> bool {
        if let Some(c) = usize::try_from(i).ok().and_then(|i| self.taken.get(i)) {
            c.set(c.get().saturating_add(1));
        }
        let n = self.taken_in_all.get().saturating_add(1);
        self.taken_in_all.set(n);
        n == EXITS_TOO_MANY
    }

    /// The return records (see [`InlinedExit::return_record`]) of the
    /// exits taken at least once, each once: the unit's own sends whose
    /// inlined code exited.
    pub(crate) fn exited_sends(&self) -> Vec<u32> {
        let mut records: Vec<u32> = self
            .exits
            .iter()
            .zip(&self.taken)
            .filter(|(_, n)| n.get() > 0)
            .map(|(e, _)| e.return_record)
            .collect();
        records.sort_unstable();
        records.dedup();
        records
    }

    /// Exit `i`, if there is one.
    pub fn exit(&self, i: u64) -> Option<&InlinedExit> {
        self.exits.get(usize::try_from(i).ok()?)
    }

    /// The address of the pool's first value (fixed for the unit's life).
    pub fn pool_address(&self) -> u64 {
        self.values.as_ptr() as u64
    }

    /// The address of constant `i` in the pool (`None` beyond it).
    pub fn constant_address(&self, i: u32) -> Option<u64> {
        let at = self.values.get(i as usize)?;
        Some(at as *const Value as u64)
    }

    /// The address of the validity word (fixed once the unit is boxed).
    pub fn valid_address(&self) -> u64 {
        self.valid.as_ptr() as u64
    }

    /// Constant `i` of the pool.
    pub fn constant(&self, i: u32) -> Option<Value> {
        self.values.get(i as usize).copied()
    }

    pub fn is_valid(&self) -> bool {
        self.valid.get() == VALID
    }

    /// Clears the validity word; whether it was set.
    pub(crate) fn invalidate(&self) -> bool {
        self.valid.replace(0) == VALID
    }

    /// Whether the unit's inlining assumed the lookups of `selector`.
    pub(crate) fn depends_on(&self, selector: Value) -> bool {
        self.selectors.contains(&selector)
    }

    /// The unit's strong roots, for the collector.
    pub(crate) fn roots_mut(&mut self) -> [&mut [Value]; 2] {
        [&mut self.values, &mut self.selectors]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(argc: u16, temps: u16, stack: u16) -> InlinedLevel {
        InlinedLevel {
            block: false,
            method: 0,
            argc,
            temps,
            stack,
            pc: 0,
        }
    }

    #[test]
    fn an_exit_counts_the_values_the_code_writes() {
        let exit = InlinedExit {
            return_record: 1,
            levels: vec![level(1, 2, 3), level(0, 0, 2)],
        };
        assert_eq!(exit.values(), (1 + 1 + 2 + 3) + (1 + 2));
    }

    #[test]
    fn a_unit_is_valid_until_invalidated_once() {
        let u = UnitConstants::new(vec![Value::small(7)], vec![Value::small(3)]);
        assert!(u.is_valid());
        assert!(u.depends_on(Value::small(3)));
        assert!(!u.depends_on(Value::small(4)));
        assert!(u.invalidate());
        assert!(!u.is_valid());
        assert!(!u.invalidate());
        // SAFETY: the address is the Cell's, read while `u` lives.
        assert_eq!(unsafe { *(u.valid_address() as *const u64) }, 0);
    }

    #[test]
    fn exits_count_until_too_many_once() {
        let mut u = UnitConstants::new(vec![], vec![]);
        let exit = |r| InlinedExit {
            return_record: r,
            levels: vec![level(0, 0, 0)],
        };
        let (a, _b, c) = (
            u.add_exit(exit(5)),
            u.add_exit(exit(9)),
            u.add_exit(exit(5)),
        );
        assert!(u.exited_sends().is_empty());
        let mut too_many = 0;
        for k in 0..2 * EXITS_TOO_MANY {
            let i = if k % 2 == 0 { a } else { c };
            too_many += usize::from(u.count_exit(u64::from(i)));
        }
        assert_eq!(too_many, 1, "said once, at the threshold");
        assert_eq!(u.exited_sends(), vec![5], "exit 1 (record 9) never taken");
        assert!(!u.count_exit(99), "an unknown exit counts in all only");
    }

    #[test]
    fn the_pool_address_reads_the_constants() {
        let mut u = UnitConstants::new(vec![Value::small(5), Value::small(9)], vec![]);
        let at = u.pool_address();
        assert_eq!(
            u.add_exit(InlinedExit {
                return_record: 0,
                levels: vec![]
            }),
            0
        );
        assert_eq!(
            u.pool_address(),
            at,
            "adding exits leaves the pool in place"
        );
        // SAFETY: the pool holds two values at `at`, alive while `u` is.
        let second = unsafe { *((at + 8) as *const Value) };
        assert_eq!(second, Value::small(9));
        assert_eq!(u.constant(1), Some(Value::small(9)));
        assert_eq!(u.constant(2), None);
    }
}
