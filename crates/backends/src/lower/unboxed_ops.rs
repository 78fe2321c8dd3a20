//! Instruction selection for the IR's unboxed Float ops, the ones the
//! region pass (`lst_jit::semantic::region`) makes: `unbox_float` and
//! `unbox_number` (the tag test, the class word and the 8-byte shape, and
//! a SmallInt's conversion), `f64_add` … `f64_div` and `f64_lt` …
//! `f64_eq` (one CLIF instruction each) and `box_float` (the inline bump
//! allocation). All of it is inline, from [`crate::float_kit`]: a region's
//! fast path calls no Float stub. A float is an `F64` CLIF value; float
//! block parameters are `F64` parameters ([`clif_type`]).
//!
//! None of these ops collects or leaves native code, so no frame state is
//! written around them. Which expressions become regions is the IR
//! pass's decision, not this module's.

use super::{LowerError, Lowering};
use crate::float_kit::{float_value, new_float, number_value, or_failed};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::types::{F64, I64};
use cranelift_codegen::ir::{self as cl, InstBuilder};
use lst_jit::ir::{F64Compare, F64Op, Inst, InstData, Type};

/// The CLIF type of an IR block parameter of type `t`.
pub(super) fn clif_type(t: Type) -> cl::Type {
    match t {
        Type::Float => F64,
        Type::Obj | Type::Bool => I64,
    }
}

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is an unboxed Float op; answers whether it was.
    pub(super) fn unboxed_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        let (lay, vm) = (self.env.layout, self.vm);
        let results = match data.inst {
            Inst::UnboxFloat(a) => {
                let x = self.get(a)?;
                let (f, failed) =
                    or_failed(self.b, F64, |b, fail| float_value(b, lay, vm, x, fail));
                vec![f, failed]
            }
            Inst::UnboxNumber(a) => {
                let x = self.get(a)?;
                let (f, failed) =
                    or_failed(self.b, F64, |b, fail| number_value(b, lay, vm, x, fail));
                vec![f, failed]
            }
            Inst::F64(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.f64_op(op, x, y)]
            }
            Inst::F64Compare(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.b.ins().fcmp(float_cc(op), x, y)]
            }
            Inst::BoxFloat(a) => {
                let f = self.get(a)?;
                let (object, failed) =
                    or_failed(self.b, I64, |b, fail| new_float(b, lay, vm, f, fail));
                vec![object, failed]
            }
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    fn f64_op(&mut self, op: F64Op, x: cl::Value, y: cl::Value) -> cl::Value {
        let ins = self.b.ins();
        match op {
            F64Op::Add => ins.fadd(x, y),
            F64Op::Sub => ins.fsub(x, y),
            F64Op::Mul => ins.fmul(x, y),
            F64Op::Div => ins.fdiv(x, y),
        }
    }
}

/// The CLIF condition of comparison `op`: ordered (false with a NaN), as
/// Float's primitives compare.
fn float_cc(op: F64Compare) -> FloatCC {
    match op {
        F64Compare::Less => FloatCC::LessThan,
        F64Compare::Greater => FloatCC::GreaterThan,
        F64Compare::Equal => FloatCC::Equal,
    }
}
