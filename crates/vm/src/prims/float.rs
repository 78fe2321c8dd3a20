//! Float primitives (80–98): IEEE double arithmetic with the receiver a
//! Float and the argument any number, printing that reads back, parsing,
//! and conversion to integers.

use super::{Args, PrimResult};
use crate::numbers::{float_text, parse_float};
use crate::vm::Vm;
use num_bigint::BigInt;
use num_traits::FromPrimitive;

fn receiver(vm: &Vm, a: Args) -> Option<f64> {
    vm.float_of(a.get(vm, 0))
}

fn operands(vm: &Vm, a: Args) -> Option<(f64, f64)> {
    Some((receiver(vm, a)?, vm.number_as_f64(a.get(vm, 1))?))
}

macro_rules! arith {
    ($($name:ident, |$x:ident, $y:ident| $e:expr;)*) => {$(
        pub fn $name(vm: &mut Vm, a: Args) -> PrimResult {
            let Some(($x, $y)) = operands(vm, a) else {
                return Ok(None);
            };
            Ok(vm.new_float($e)?)
        }
    )*};
}

arith! {
    add, |x, y| x + y;
    sub, |x, y| x - y;
    mul, |x, y| x * y;
    div, |x, y| x / y;
    power, |x, y| x.powf(y);
}

macro_rules! unary {
    ($($name:ident, |$x:ident| $e:expr;)*) => {$(
        pub fn $name(vm: &mut Vm, a: Args) -> PrimResult {
            let Some($x) = receiver(vm, a) else {
                return Ok(None);
            };
            Ok(vm.new_float($e)?)
        }
    )*};
}

unary! {
    sqrt, |x| x.sqrt();
    ln, |x| x.ln();
    exp, |x| x.exp();
    sin, |x| x.sin();
    cos, |x| x.cos();
    arc_tan, |x| x.atan();
}

/// 84: `a < b`.
pub fn less(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(operands(vm, a).map(|(x, y)| vm.boolean(x < y)))
}

/// 85: `a = b`.
pub fn equal(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(operands(vm, a).map(|(x, y)| vm.boolean(x == y)))
}

/// 86: the shortest text that reads back to the same Float.
pub fn print(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(x) = receiver(vm, a) else {
        return Ok(None);
    };
    Ok(Some(vm.new_string(float_text(x).as_bytes())?))
}

fn to_integer(vm: &mut Vm, a: Args, round: fn(f64) -> f64) -> PrimResult {
    let Some(x) = receiver(vm, a).filter(|x| x.is_finite()) else {
        return Ok(None);
    };
    match BigInt::from_f64(round(x)) {
        Some(n) => Ok(vm.new_integer(&n)?),
        None => Ok(None),
    }
}

/// 88: toward zero.
pub fn truncated(vm: &mut Vm, a: Args) -> PrimResult {
    to_integer(vm, a, f64::trunc)
}

/// 89: to the nearest, halves away from zero.
pub fn rounded(vm: &mut Vm, a: Args) -> PrimResult {
    to_integer(vm, a, f64::round)
}

/// 97: toward negative infinity.
pub fn floor(vm: &mut Vm, a: Args) -> PrimResult {
    to_integer(vm, a, f64::floor)
}

/// 98: toward positive infinity.
pub fn ceiling(vm: &mut Vm, a: Args) -> PrimResult {
    to_integer(vm, a, f64::ceil)
}

/// 90: the Float a String spells.
pub fn parse(vm: &mut Vm, a: Args) -> PrimResult {
    let s = a.get(vm, 0);
    if !s.is_ref() || !vm.heap.is_bytes(s) {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(vm.heap.bytes(s)).to_string();
    match parse_float(&text) {
        Some(x) => Ok(vm.new_float(x)?),
        None => Ok(None),
    }
}
