//! The table of verified, pre-decoded methods ([`verify`]) and the
//! interpreter's register naming the current one.
//!
//! A method's steps are made the first time a frame for its bytecodes is
//! entered, and found again by the bytecode object's address. Objects move
//! in a collection, so the table keeps every bytecode object it holds as a
//! root (`codes`, updated by the collector) and rebuilds its address index
//! after each collection; it forgets everything (but the current method)
//! when it grows past [`MAX_METHODS`]. A method whose bytecodes object is
//! replaced gets new steps: they belong to the object, not to the method.
//!
//! A method's first steps profile its special binary sends (see
//! [`super::profile`]); after [`PROFILE_STEPS`] profiled steps the table
//! replaces them with the plain ones.
//!
//! [`verify`]: super::verify

use super::Trap;
use super::frame::{H_METHOD, HEADER};
use super::verify::{Kind, Limits, Step, verify, with_kinds};
use crate::value::Value;
use crate::vm::Vm;
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// More methods than this and the table starts again.
const MAX_METHODS: usize = 1 << 14;

/// The bytecodes of no method: what the table's entry 0 stands for until a
/// frame is entered (a SmallInt, so the collector leaves it alone).
pub(crate) fn no_code() -> Value {
    Value::small(0)
}

/// Profiled steps a method runs before its steps become the plain ones.
pub(crate) const PROFILE_STEPS: u32 = 256;

/// Entries of the direct-mapped front of the address index.
const RECENT: usize = 256;

/// Every method the interpreter has verified, by bytecode object.
pub struct DecodedTable {
    /// The bytecode objects, a GC root.
    pub(crate) codes: Vec<Value>,
    /// Their steps, by the same index (shared with the interpreter's
    /// register for the current method).
    steps: Vec<Rc<[Step]>>,
    /// Profiled steps each may still run before it stops profiling.
    profile_budgets: Vec<u32>,
    /// Bytecode address → index; rebuilt after every collection.
    index: FxHashMap<u64, u32>,
    /// A direct-mapped cache in front of `index` (address, index), for
    /// the returns that switch between a few methods; emptied with it.
    recent: Box<[(u64, u32); RECENT]>,
}

impl Default for DecodedTable {
    fn default() -> DecodedTable {
        DecodedTable {
            codes: vec![],
            steps: vec![],
            profile_budgets: vec![],
            index: FxHashMap::default(),
            recent: Box::new([(0, 0); RECENT]),
        }
    }
}

impl DecodedTable {
    /// A table whose entry 0 (no method) runs nothing.
    pub(crate) fn new() -> DecodedTable {
        let mut table = DecodedTable::default();
        table.add(no_code(), Rc::from([]));
        table
    }

    /// The steps at index `id`.
    #[inline(always)]
    pub(crate) fn steps(&self, id: u32) -> &Rc<[Step]> {
        &self.steps[id as usize]
    }

    #[inline(always)]
    fn find(&mut self, code: Value) -> Option<u32> {
        let slot = (code.raw() >> 3) as usize % RECENT;
        let (key, id) = self.recent[slot];
        if key == code.raw() {
            return Some(id);
        }
        let id = self.index.get(&code.raw()).copied()?;
        self.recent[slot] = (code.raw(), id);
        Some(id)
    }

    fn add(&mut self, code: Value, steps: Rc<[Step]>) -> u32 {
        let id = self.steps.len() as u32;
        self.codes.push(code);
        let profiled = steps.iter().any(|s| s.kind != s.kind.unprofiled());
        self.profile_budgets
            .push(if profiled { PROFILE_STEPS } else { 0 });
        self.steps.push(steps);
        self.index.insert(code.raw(), id);
        id
    }

    /// Entry `id` ran one profiled step: when that was its last, its
    /// steps become the plain ones, which are answered.
    pub(crate) fn profiled_step(&mut self, id: u32) -> Option<Rc<[Step]>> {
        let budget = self.profile_budgets.get_mut(id as usize)?;
        *budget = budget.saturating_sub(1);
        if *budget > 0 {
            return None;
        }
        let plain: Rc<[Step]> = Rc::from(with_kinds(&self.steps[id as usize], Kind::unprofiled));
        self.steps[id as usize] = plain.clone();
        Some(plain)
    }

    /// Before a collection: if the table is full (or `all`), keeps only
    /// `current` (renumbered 0) and answers its new index.
    pub(crate) fn prune(&mut self, current: u32, all: bool) -> u32 {
        if self.steps.len() <= MAX_METHODS && !all {
            return current;
        }
        let code = self.codes[current as usize];
        let steps = self.steps[current as usize].clone();
        *self = DecodedTable::default();
        self.add(code, steps)
    }

    /// After a collection: the addresses of `codes` changed.
    pub(crate) fn reindex(&mut self) {
        self.index.clear();
        self.recent.fill((0, 0));
        for (i, c) in self.codes.iter().enumerate() {
            self.index.insert(c.raw(), i as u32);
        }
    }
}

impl Vm {
    /// Makes the steps of the current frame's bytecodes (`regs[0]`) the
    /// current steps, verifying them if they are new.
    #[inline(always)]
    pub(crate) fn load_steps(&mut self) -> Result<(), Trap> {
        let code = self.regs[0];
        if code == self.decoded_code {
            return Ok(());
        }
        self.steps_id = match self.decoded.find(code) {
            Some(id) => id,
            None => self.verify_current()?,
        };
        self.steps = self.decoded.steps(self.steps_id).clone();
        self.decoded_code = code;
        Ok(())
    }

    /// Verifies the current frame's method (not yet in the table).
    #[cold]
    #[inline(never)]
    fn verify_current(&mut self) -> Result<u32, Trap> {
        let (code, literals) = (self.regs[0], self.regs[1]);
        let method = self.header(self.hp, H_METHOD);
        let temps = self
            .heap
            .get(method, crate::layout::method::TEMPORARY_SIZE)
            .and_then(|t| t.as_usize());
        let limits = Limits {
            temps,
            literals: self.heap.size(literals),
        };
        match verify(self.heap.bytes(code), limits) {
            Ok(steps) => {
                let profiling = with_kinds(&steps, Kind::profiled);
                Ok(self.decoded.add(code, Rc::from(profiling)))
            }
            Err(e) => Err(Trap::Error(format!(
                "cannot run {}: its bytecode {e}",
                self.method_name(method)
            ))),
        }
    }

    /// Checks that the current frame may resume at `pc`: an instruction
    /// start whose proved operand depth the frame has (else the loop's
    /// unchecked pops could reach below the frame's operands).
    #[inline(always)]
    pub(crate) fn check_entry(&self, pc: usize) -> Result<(), Trap> {
        // Native continuations and bad pcs (no step): the loop decides.
        let needed = self.steps.get(pc).map_or(0, |s| s.depth as usize);
        if self.stack.len() < self.hp + HEADER + needed {
            return Err(self.entry_refused(pc, needed));
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn entry_refused(&self, pc: usize, needed: usize) -> Trap {
        Trap::Error(format!(
            "cannot resume {} at {pc} with {} operand values (needs {needed})",
            self.method_name(self.header(self.hp, H_METHOD)),
            self.stack.len().saturating_sub(self.hp + HEADER),
        ))
    }
}
