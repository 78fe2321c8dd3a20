//! One compile unit (a method, or a block body in it) read from the heap
//! and translated to the JIT's folded IR, with the facts the selector
//! needs about the method besides the IR (its bytecode, its literal
//! count). Reads the heap only; generates no code.

use lst_bytecode::selector_arity;
use lst_jit::ir::{Function, Inst, Kind};
use lst_jit::translate::{Source, translate};
use lst_vm::layout::method;
use lst_vm::value::Value;
use lst_vm::vm::Vm;

/// A unit's IR and its method's facts.
pub struct Unit {
    pub ir: Function,
    pub bytecodes: Vec<u8>,
    pub literal_count: usize,
}

impl Unit {
    /// Translates the unit `(method, start)` (start 0: the method itself)
    /// and folds it.
    pub fn read(vm: &Vm, method: Value, start: u16) -> Result<Unit, String> {
        let h = &vm.heap;
        let field = |i| h.get(method, i).unwrap_or(method);
        let code = field(method::BYTECODES);
        let literals = field(method::LITERALS);
        if !code.is_ref() || !h.is_bytes(code) || !literals.is_ref() || h.is_bytes(literals) {
            return Err("malformed method".into());
        }
        let selector = field(method::NAME);
        let arity = (selector.is_ref() && h.is_bytes(selector))
            .then(|| selector_arity(h.bytes(selector)))
            .flatten()
            .ok_or("the method's selector is not a Symbol")?;
        let temps = field(method::TEMPORARY_SIZE).as_usize().unwrap_or(0);
        let name = vm.method_name(method);
        let bytecodes = h.bytes(code).to_vec();
        let src = Source {
            name: &name,
            bytecodes: &bytecodes,
            arg_count: u8::try_from(arity).map_err(|_| "too many arguments")?,
            temp_count: u8::try_from(temps).map_err(|_| "too many temporaries")?,
        };
        let kind = match start {
            0 => Kind::Method,
            start => Kind::BlockBody { start },
        };
        let mut ir = translate(&src, kind).map_err(|e| format!("translate: {e}"))?;
        lst_jit::fold::fold(&mut ir);
        Ok(Unit {
            ir,
            bytecodes,
            literal_count: h.size(literals),
        })
    }

    /// How many sends the unit makes (one send site each).
    pub fn sends(&self) -> usize {
        self.ir
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|d| matches!(d.inst, Inst::Send { .. }))
            .count()
    }
}
