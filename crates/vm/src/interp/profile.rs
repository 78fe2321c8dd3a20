//! The interpreter's profiling of special binary sends (`+`, `<`, `*` …).
//!
//! The loop runs SmallInt operands of those sends without a send, so the
//! slow paths that record type feedback (`crate::feedback`) never see a
//! site where only SmallInts flow. A method's first steps therefore stand
//! its binary steps in profiling kinds (`Kind::Profile…`, made by
//! [`super::decoded`] when it verifies a method): one records its
//! receiver's class (and whether its argument is a Float) at the site's pc,
//! the offset after the send, then runs as the step it stands for. After
//! [`super::decoded::PROFILE_STEPS`] such steps, the method's steps become
//! the plain ones, so the hot loop pays nothing once a method is warm.
//!
//! This module only observes: it must not change what a step does.

use super::frame::H_METHOD;
use super::verify::{FIRST_IS_TEMPORARY, Kind, SECOND_IS_TEMPORARY, Step};
use crate::value::Value;
use crate::vm::Vm;

impl Vm {
    /// Records the operands of the profiling step `step` of the current
    /// method and answers the step it stands for.
    #[cold]
    #[inline(never)]
    pub(super) fn profile_step(&mut self, step: Step) -> Step {
        if let Some((receiver, argument)) = self.binary_operands(step) {
            let method = self.header(self.hp, H_METHOD);
            self.record_binary(method, step.next as usize, receiver, argument);
        }
        if let Some(plain) = self.decoded.profiled_step(self.steps_id) {
            self.steps = plain;
        }
        Step {
            kind: step.kind.unprofiled(),
            ..step
        }
    }

    /// The receiver and argument the binary step `step` is about to send
    /// a special selector to (`None` if an index is out of range: the step
    /// itself reports that).
    fn binary_operands(&self, step: Step) -> Option<(Value, Value)> {
        let arg = step.arg as usize;
        let constant = || Value::small(i64::from(step.extra >> 8));
        match step.kind {
            Kind::ProfileSendBinary => {
                let n = self.stack.len();
                let l = *self.stack.get(n.checked_sub(2)?)?;
                Some((l, self.stack[n - 1]))
            }
            Kind::ProfileArgumentConstantBinary => {
                let i = self.fp + arg;
                (i < self.tb).then(|| (self.stack[i], constant()))
            }
            Kind::ProfileTemporaryConstantBinary => Some((self.temporary(arg).ok()?, constant())),
            Kind::ProfilePushPushBinary => {
                let extra = step.extra;
                let first = extra & FIRST_IS_TEMPORARY != 0;
                let second = extra & SECOND_IS_TEMPORARY != 0;
                let l = self.argument_or_temporary(first, arg).ok()?;
                let r = self
                    .argument_or_temporary(second, (extra & 0xFF) as usize)
                    .ok()?;
                Some((l, r))
            }
            _ => None,
        }
    }
}
