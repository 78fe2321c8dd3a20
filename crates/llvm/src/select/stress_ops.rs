//! Selection of `stress_tick` (`lst --jit-deopt-stress N`, added to guards
//! by `lst_jit::stress`), as the Cranelift lowering does it: the VM's
//! countdown is decremented; when it reaches 0 it starts again at the
//! period N, the forced failures are counted and the answer (an `i1`) is
//! true. Branch-free, on the Vm words the layout names. Which guards
//! tick is the IR pass's decision, not this module's.

use super::kit::bx;
use super::{R, Selector};
use inkwell::IntPredicate;
use lst_jit::ir::{Inst, InstData};

impl Selector<'_, '_> {
    /// Selects `data` if it is a `stress_tick`; answers whether it was.
    pub(super) fn stress_inst(&mut self, data: &InstData) -> R<bool> {
        if !matches!(data.inst, Inst::StressTick) {
            return Ok(false);
        }
        let lay = self.env.layout;
        let left = self.load_vm(lay.stress_countdown)?;
        let left = self.add_imm(left, -1)?;
        let fire = self.cmp_imm(IntPredicate::EQ, left, 0)?;
        let period = self.load_vm(lay.stress_period)?;
        let next = self
            .b
            .build_select(fire, period, left, "")
            .map_err(bx)?
            .into_int_value();
        self.store(self.vm, i64::from(lay.stress_countdown), next)?;
        let forced = self.load_vm(lay.stress_forced)?;
        let one = self.b.build_int_z_extend(fire, self.i64t, "").map_err(bx)?;
        let forced = self.add(forced, one)?;
        self.store(self.vm, i64::from(lay.stress_forced), forced)?;
        self.set(data.results[0], fire);
        Ok(true)
    }
}
