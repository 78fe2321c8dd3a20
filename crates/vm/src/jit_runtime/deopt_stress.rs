//! Deopt stress (`lst --jit-deopt-stress N`): the countdown the guards of
//! optimized code tick (`lst_jit::stress` adds the ticks, each back end
//! selects them), so that every N-th guard evaluation fails and takes the
//! path a real failure takes.
//!
//! This module owns the countdown's words ([`DeoptStress`], part of the
//! registers compiled code reads at fixed offsets) and their reading for
//! `--jit-stats` and for the exit counts of inlined code: an exit taken
//! after a forced failure does not count toward deoptimizing its unit
//! (under stress every unit would soon lose its inlining, and the stress
//! would no longer exercise inlined exits). It must not decide which
//! branches are guards nor generate code.

use crate::vm::Vm;

/// The stress countdown, in the Vm at fixed offsets (see
/// [`super::boundary::Layout`]). All zero while the stress is off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DeoptStress {
    /// Guard evaluations left before the next forced failure: compiled
    /// code decrements it at each guard and, when it reaches 0, fails
    /// the guard and sets it to `period` again.
    pub countdown: u64,
    /// N: every N-th guard evaluation fails (0: stress off).
    pub period: u64,
    /// Guard failures forced so far (compiled code counts them).
    pub forced: u64,
    /// `forced` when an exit of inlined code last looked at it.
    pub seen: u64,
    /// Exits of inlined code taken after a forced failure (not counted
    /// toward their unit's deoptimization).
    pub forced_exits: u64,
}

impl Vm {
    /// Makes every `n`-th guard evaluation in optimized code compiled from
    /// now on fail as well (0: none). Set it before the JIT compiles.
    pub fn set_deopt_stress(&mut self, n: u32) {
        self.native_regs.stress = DeoptStress {
            countdown: u64::from(n),
            period: u64::from(n),
            ..DeoptStress::default()
        };
    }

    /// N of `--jit-deopt-stress N`, when the stress is on.
    pub fn deopt_stress(&self) -> Option<u32> {
        u32::try_from(self.native_regs.stress.period)
            .ok()
            .filter(|&n| n > 0)
    }

    /// The stress's counts so far.
    pub fn deopt_stress_counts(&self) -> DeoptStress {
        self.native_regs.stress
    }

    /// Whether a guard failure was forced since the last exit of inlined
    /// code asked: the exit being taken is then taken to be forced (and
    /// counted as such). With N > 1 a forced failure that took a plain
    /// slow path may make the next real exit look forced; that only
    /// delays a deoptimization.
    pub(crate) fn exit_was_forced(&mut self) -> bool {
        let s = &mut self.native_regs.stress;
        let forced = s.forced != s.seen;
        s.seen = s.forced;
        if forced {
            s.forced_exits += 1;
        }
        forced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm() -> Vm {
        crate::image::builder::own_image_vm()
    }

    #[test]
    fn the_stress_is_off_until_set_and_counts_forced_exits_once() {
        let mut vm = vm();
        assert_eq!(vm.deopt_stress(), None);
        vm.set_deopt_stress(3);
        assert_eq!(vm.deopt_stress(), Some(3));
        assert_eq!(vm.deopt_stress_counts().countdown, 3);
        assert!(!vm.exit_was_forced(), "nothing was forced yet");
        vm.native_regs.stress.forced += 2;
        assert!(vm.exit_was_forced());
        assert!(!vm.exit_was_forced(), "a forced failure excuses one exit");
        assert_eq!(vm.deopt_stress_counts().forced_exits, 1);
    }

    #[test]
    fn the_layout_names_the_stress_words() {
        let mut vm = vm();
        vm.set_deopt_stress(5);
        vm.native_regs.stress.forced = 9;
        let lay = Vm::native_layout();
        let word = |off: i32| {
            let at = std::ptr::from_ref(&vm)
                .cast::<u8>()
                .wrapping_offset(off as isize)
                .cast::<u64>();
            // SAFETY: the layout's offsets are those of u64 fields of this
            // Vm (`offset_of!`), which is alive and not written meanwhile.
            unsafe { at.read() }
        };
        let words = [lay.stress_countdown, lay.stress_period, lay.stress_forced].map(word);
        assert_eq!(words, [5, 5, 9]);
    }
}
