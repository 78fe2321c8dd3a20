//! Instruction selection for `stress_tick` (`lst --jit-deopt-stress N`,
//! added to guards by `lst_jit::stress`): the VM's countdown is
//! decremented; when it reaches 0 it starts again at the period N, the
//! forced failures are counted and the answer is true. Branch-free, on
//! the Vm words the layout names. Which guards tick is the IR pass's
//! decision, not this module's.

use super::{LowerError, Lowering};
use crate::clif_kit::FLAGS;
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use lst_jit::ir::{Inst, InstData};

impl Lowering<'_, '_, '_> {
    /// Lowers `data` if it is a `stress_tick`; answers whether it was.
    pub(super) fn stress_inst(&mut self, data: &InstData) -> Result<bool, LowerError> {
        if !matches!(data.inst, Inst::StressTick) {
            return Ok(false);
        }
        let lay = self.env.layout;
        let left = self.load_vm(lay.stress_countdown);
        let left = self.b.ins().iadd_imm_s(left, -1);
        let fire = self.b.ins().icmp_imm_s(IntCC::Equal, left, 0);
        let period = self.load_vm(lay.stress_period);
        let next = self.b.ins().select(fire, period, left);
        self.b
            .ins()
            .store(FLAGS, next, self.vm, lay.stress_countdown);
        let forced = self.load_vm(lay.stress_forced);
        let one = self.b.ins().uextend(I64, fire);
        let forced = self.b.ins().iadd(forced, one);
        self.b
            .ins()
            .store(FLAGS, forced, self.vm, lay.stress_forced);
        self.set(data.results[0], fire);
        Ok(true)
    }
}
