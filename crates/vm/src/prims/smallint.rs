//! SmallInt primitives (10–16, 36, 37, 39). Results that do not fit a
//! SmallInt fail, so the image's fallback code runs: never a silent wrap.

use super::{Args, PrimResult, int_result};
use crate::vm::Vm;

fn operands(vm: &Vm, a: Args) -> Option<(i64, i64)> {
    Some((a.int(vm, 0)?, a.int(vm, 1)?))
}

macro_rules! arith {
    ($name:ident, |$x:ident, $y:ident| $e:expr) => {
        pub fn $name(vm: &mut Vm, a: Args) -> PrimResult {
            let Some(($x, $y)) = operands(vm, a) else {
                return Ok(None);
            };
            int_result($e)
        }
    };
}
macro_rules! compare {
    ($name:ident, $op:tt) => {
        pub fn $name(vm: &mut Vm, a: Args) -> PrimResult {
            Ok(operands(vm, a).map(|(x, y)| vm.boolean(x $op y)))
        }
    };
}

arith!(add, |x, y| x.checked_add(y));
arith!(sub, |x, y| x.checked_sub(y));
arith!(mul, |x, y| x.checked_mul(y));
arith!(quo, |x, y| x.checked_div(y));
arith!(rem, |x, y| x.checked_rem(y));
arith!(bit_or, |x, y| Some(x | y));
arith!(bit_and, |x, y| Some(x & y));
arith!(bit_shift, |x, y| shift(x, y));
compare!(less, <);
compare!(equal, ==);

/// `x bitShift: y`: left for positive `y` (failing on overflow), arithmetic
/// right for negative `y`.
fn shift(x: i64, y: i64) -> Option<i64> {
    if y >= 0 {
        if y >= 63 {
            return (x == 0).then_some(0);
        }
        let r = x << y;
        (r >> y == x).then_some(r)
    } else {
        Some(x >> (-y).min(63))
    }
}

#[cfg(test)]
mod tests {
    use super::shift;

    #[test]
    fn shifts_fail_instead_of_overflowing() {
        assert_eq!(shift(1, 31), Some(1 << 31));
        assert_eq!(shift(1, 62), Some(1 << 62));
        assert_eq!(shift(1, 63), None);
        assert_eq!(shift(3, 62), None);
        assert_eq!(shift(-8, -2), Some(-2));
        assert_eq!(shift(-1, -100), Some(-1));
        assert_eq!(shift(0, 1000), Some(0));
    }
}
