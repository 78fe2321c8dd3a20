//! Instruction selection for the IR's unboxed Float ops, the ones the
//! region pass (`lst_jit::semantic::region`) makes, all inline as
//! Cranelift's lowering does them (`lst_backends::float_kit`):
//! `unbox_float` and `unbox_number` (the tag test, the class word and the
//! 8-byte shape, a SmallInt's conversion), `f64_add` … `f64_div` and
//! `f64_lt` … `f64_eq` on `double`s, and `box_float`, a bump allocation
//! through the same `Layout` fields as the Float stub's (never under GC
//! stress, never collecting). LLVM sees a region's whole fast path, boxing
//! included, so it can keep the doubles in registers and fold the guards.
//!
//! The selector keeps every value as an `i64` ([`super::Selector::vals`]),
//! so a float travels as the bits of its double: each op bitcasts its
//! operands to `double` and its answer back (LLVM's instcombine removes
//! the pairs), and a float block parameter is an `i64` phi. None of these
//! ops collects or leaves native code.

use super::kit::bx;
use super::{R, Selector};
use inkwell::basic_block::BasicBlock;
use inkwell::values::{FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};
use lst_backends::entries::state_of;
use lst_backends::helpers::Id;
use lst_jit::ir::{F64Compare, F64Op, Function, Inst, InstData, State, Type, Value};
use std::collections::HashSet;

/// The float values of `f`: its float block parameters and the results
/// of float type.
fn float_values(f: &Function) -> HashSet<Value> {
    let mut floats = HashSet::new();
    for b in &f.blocks {
        let params = b.typed_params().filter(|&(_, t)| t == Type::Float);
        floats.extend(params.map(|(v, _)| v));
        for d in &b.insts {
            let types = d.inst.result_types().iter();
            let typed = d.results.iter().zip(types);
            floats.extend(typed.filter(|&(_, &t)| t == Type::Float).map(|(&v, _)| v));
        }
    }
    floats
}

impl<'ctx> Selector<'ctx, '_> {
    /// Selects `data` if it is an unboxed Float op; answers whether it was.
    pub(super) fn unboxed_inst(&mut self, data: &InstData) -> R<bool> {
        let results = match data.inst {
            Inst::UnboxFloat(a) => {
                let x = self.get(a)?;
                let (bits, failed) = self.unbox(x, false)?;
                vec![bits, failed]
            }
            Inst::UnboxNumber(a) => {
                let x = self.get(a)?;
                let (bits, failed) = self.unbox(x, true)?;
                vec![bits, failed]
            }
            Inst::F64(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                vec![self.f64_op(op, x, y)?]
            }
            Inst::F64Compare(op, a, b) => {
                let (x, y) = (self.get(a)?, self.get(b)?);
                let (x, y) = (self.double(x)?, self.double(y)?);
                let c = self
                    .b
                    .build_float_compare(predicate(op), x, y, "")
                    .map_err(bx)?;
                vec![c]
            }
            Inst::BoxFloat(a) => {
                let bits = self.get(a)?;
                let (object, failed) = self.box_float(bits)?;
                vec![object, failed]
            }
            Inst::BoxFloatGc(a) => {
                let bits = self.get(a)?;
                vec![self.box_float_gc(bits, state_of(data).map_err(|e| e.0)?)?]
            }
            Inst::CountdownTick => vec![self.countdown_tick()?],
            _ => return Ok(false),
        };
        for (&v, x) in data.results.iter().zip(results) {
            self.set(v, x);
        }
        Ok(true)
    }

    /// A new Float holding the double whose bits are `bits`, from the
    /// runtime, which may collect: the state's values are spilled before
    /// and reloaded after, as around a send (an unboxed loop's
    /// write-back). Doubles are no heap references: the unit's float
    /// values at hand stay valid across it.
    fn box_float_gc(&mut self, bits: IntValue<'ctx>, state: &State) -> R<IntValue<'ctx>> {
        let floats = float_values(self.ir);
        let doubles: Vec<(Value, IntValue<'ctx>)> = self
            .vals
            .iter()
            .filter(|(v, _)| floats.contains(v))
            .map(|(&v, &x)| (v, x))
            .collect();
        self.spill(&state.stack)?;
        let pc = self.int(i64::from(state.pc));
        let r = self.helper(Id::lst_box_float, &[self.vm, self.hp, bits, pc])?;
        self.go_on_unless_zero(r)?;
        self.reload(&state.stack)?;
        self.vals.extend(doubles);
        self.load_vm(self.env.layout.regs_value)
    }

    /// `countdown -= 1`, answering whether it ran out (as a safepoint
    /// tests it).
    fn countdown_tick(&mut self) -> R<IntValue<'ctx>> {
        let at = self.env.layout.countdown;
        let n = self.load_vm(at)?;
        let n = self.add_imm(n, -1)?;
        self.store(self.vm, i64::from(at), n)?;
        self.cmp_imm(IntPredicate::SLE, n, 0)
    }

    /// The double whose bits are `bits`.
    fn double(&self, bits: IntValue<'ctx>) -> R<FloatValue<'ctx>> {
        let f = self
            .b
            .build_bit_cast(bits, self.cx.f64_type(), "")
            .map_err(bx)?;
        Ok(f.into_float_value())
    }

    /// The bits of double `f`.
    fn bits(&self, f: FloatValue<'ctx>) -> R<IntValue<'ctx>> {
        let bits = self.b.build_bit_cast(f, self.i64t, "").map_err(bx)?;
        Ok(bits.into_int_value())
    }

    fn f64_op(&self, op: F64Op, x: IntValue<'ctx>, y: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let (x, y) = (self.double(x)?, self.double(y)?);
        let b = &self.b;
        let f = match op {
            F64Op::Add => b.build_float_add(x, y, ""),
            F64Op::Sub => b.build_float_sub(x, y, ""),
            F64Op::Mul => b.build_float_mul(x, y, ""),
            F64Op::Div => b.build_float_div(x, y, ""),
        }
        .map_err(bx)?;
        self.bits(f)
    }

    /// (bits of the double, failed) of `x`: a Float's double; with
    /// `numbers`, a SmallInt's too, converted as `asFloat` would.
    fn unbox(&mut self, x: IntValue<'ctx>, numbers: bool) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let lay = self.env.layout;
        let (object, fail) = (self.new_block("float_object"), self.new_block("not_float"));
        let mut got: Vec<(IntValue<'ctx>, BasicBlock<'ctx>)> = vec![];
        let done = self.new_block("unboxed");
        let tag = self.and_imm(x, lay.tag_mask)?;
        let is_ref = self.cmp_imm(IntPredicate::EQ, tag, 0)?;
        if numbers {
            let int = self.new_block("int_to_float");
            self.b
                .build_conditional_branch(is_ref, object, int)
                .map_err(bx)?;
            self.b.position_at_end(int);
            let n = self
                .b
                .build_right_shift(x, self.int(lay.tag_bits), true, "")
                .map_err(bx)?;
            let f = self
                .b
                .build_signed_int_to_float(n, self.cx.f64_type(), "")
                .map_err(bx)?;
            got.push((self.bits(f)?, self.here()?));
            self.b.build_unconditional_branch(done).map_err(bx)?;
        } else {
            self.b
                .build_conditional_branch(is_ref, object, fail)
                .map_err(bx)?;
        }
        // A reference: a Float has the class Float and 8 bytes.
        self.b.position_at_end(object);
        let header = self.load(x, i64::from(lay.header_word))?;
        let shape = self.and_imm(header, (lay.size_mask | lay.bytes_flag) as i64)?;
        let eight_bytes = self.cmp_imm(IntPredicate::EQ, shape, lay.float_header as i64)?;
        let class = self.load(x, i64::from(lay.class_word))?;
        let float_class = self.load_vm(lay.float_class)?;
        let same = self.cmp(IntPredicate::EQ, class, float_class)?;
        let ok = self.b.build_and(eight_bytes, same, "").map_err(bx)?;
        let load = self.new_block("float_load");
        self.b
            .build_conditional_branch(ok, load, fail)
            .map_err(bx)?;
        self.b.position_at_end(load);
        got.push((self.load(x, i64::from(lay.first_slot))?, load));
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(fail);
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        self.value_or_failed(&got, fail)
    }

    /// (a new Float holding the double whose bits are `bits`, failed):
    /// bump-allocated ([`Selector::bump`]); failed when that would need a
    /// collection (no room at the top of the space) or GC stress is on.
    fn box_float(&mut self, bits: IntValue<'ctx>) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let lay = self.env.layout;
        let (fail, done) = (self.new_block("box_fail"), self.new_block("boxed"));
        // Header, class, the double.
        let words = self.int(self.header_words() + 1);
        let shape = self.int(lay.float_header as i64);
        let object = self.bump(words, shape, fail)?;
        let class = self.load_vm(lay.float_class)?;
        self.store(object, i64::from(lay.class_word), class)?;
        self.store(object, i64::from(lay.first_slot), bits)?;
        let alloc = self.here()?;
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(fail);
        self.b.build_unconditional_branch(done).map_err(bx)?;
        self.b.position_at_end(done);
        self.value_or_failed(&[(object, alloc)], fail)
    }

    /// In the join block the builder is at: (the value `got` from the
    /// block it came from, 0 from `fail`; whether it came from `fail`).
    fn value_or_failed(
        &self,
        got: &[(IntValue<'ctx>, BasicBlock<'ctx>)],
        fail: BasicBlock<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let value = self.b.build_phi(self.i64t, "").map_err(bx)?;
        let failed = self.b.build_phi(self.cx.bool_type(), "").map_err(bx)?;
        let (yes, no) = (
            self.cx.bool_type().const_int(1, false),
            self.cx.bool_type().const_zero(),
        );
        for (v, from) in got {
            value.add_incoming(&[(v, *from)]);
            failed.add_incoming(&[(&no, *from)]);
        }
        value.add_incoming(&[(&self.int(0), fail)]);
        failed.add_incoming(&[(&yes, fail)]);
        Ok((
            value.as_basic_value().into_int_value(),
            failed.as_basic_value().into_int_value(),
        ))
    }
}

/// The LLVM predicate of comparison `op`: ordered (false with a NaN), as
/// Float's primitives compare.
fn predicate(op: F64Compare) -> FloatPredicate {
    match op {
        F64Compare::Less => FloatPredicate::OLT,
        F64Compare::Greater => FloatPredicate::OGT,
        F64Compare::Equal => FloatPredicate::OEQ,
    }
}
