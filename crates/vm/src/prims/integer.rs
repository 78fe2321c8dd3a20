//! Integer primitives (60–75) over any mix of SmallInts and LargeIntegers,
//! with normalised results (a result that fits is a SmallInt). SmallInt
//! arithmetic that overflows fails its own primitive; the image's fallback
//! comes here.

use super::{Args, PrimResult};
use crate::value::Value;
use crate::vm::Vm;
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};

fn operands(vm: &Vm, a: Args) -> Option<(BigInt, BigInt)> {
    Some((vm.integer_of(a.get(vm, 0))?, vm.integer_of(a.get(vm, 1))?))
}

fn answer(vm: &mut Vm, n: Option<BigInt>) -> PrimResult {
    match n {
        Some(n) => Ok(vm.new_integer(&n)?),
        None => Ok(None),
    }
}

/// Each operation is written once and runs on `i128` when both operands
/// are SmallInts (no operation of two 63-bit values overflows 128 bits)
/// and its result is a SmallInt again; on `BigInt` otherwise.
macro_rules! binary {
    ($($name:ident, |$x:ident, $y:ident| $e:expr;)*) => {$(
        pub fn $name(vm: &mut Vm, a: Args) -> PrimResult {
            if let (Some($x), Some($y)) = (a.int(vm, 0), a.int(vm, 1)) {
                let ($x, $y) = (i128::from($x), i128::from($y));
                let r: Option<i128> = $e;
                let Some(r) = r else {
                    return Ok(None);
                };
                if let Some(v) = i64::try_from(r).ok().and_then(Value::int) {
                    return Ok(Some(v));
                }
            }
            let Some(($x, $y)) = operands(vm, a) else {
                return Ok(None);
            };
            answer(vm, $e)
        }
    )*};
}

binary! {
    add, |x, y| Some(x + y);
    sub, |x, y| Some(x - y);
    mul, |x, y| Some(x * y);
    quo, |x, y| (!y.is_zero()).then(|| x / y);
    rem, |x, y| (!y.is_zero()).then(|| x % y);
    div, |x, y| (!y.is_zero()).then(|| Integer::div_floor(&x, &y));
    modulo, |x, y| (!y.is_zero()).then(|| Integer::mod_floor(&x, &y));
    bit_and, |x, y| Some(x & y);
    bit_or, |x, y| Some(x | y);
    bit_xor, |x, y| Some(x ^ y);
}

/// 67: `a < b`.
pub fn less(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(operands(vm, a).map(|(x, y)| vm.boolean(x < y)))
}

/// 68: `a = b`.
pub fn equal(vm: &mut Vm, a: Args) -> PrimResult {
    Ok(operands(vm, a).map(|(x, y)| vm.boolean(x == y)))
}

/// 74: `a bitShift: n` (left for n > 0), refusing results over the size limit.
pub fn bit_shift(vm: &mut Vm, a: Args) -> PrimResult {
    let (Some(x), Some(n)) = (vm.integer_of(a.get(vm, 0)), a.int(vm, 1)) else {
        return Ok(None);
    };
    let limit_bits = (crate::numbers::MAX_LARGE_BYTES * 8) as u64;
    let r = if n >= 0 {
        let n = n as u64;
        (x.bits().saturating_add(n) <= limit_bits).then(|| x << n)
    } else {
        // An arithmetic shift right (floor), as for SmallInts.
        Some(x >> n.unsigned_abs().min(limit_bits))
    };
    answer(vm, r)
}

/// 69: `a` printed in base 2–36 (`-` for negatives).
pub fn print_base(vm: &mut Vm, a: Args) -> PrimResult {
    let (Some(x), Some(base)) = (vm.integer_of(a.get(vm, 0)), a.int(vm, 1)) else {
        return Ok(None);
    };
    if !(2..=36).contains(&base) {
        return Ok(None);
    }
    let text = x.to_str_radix(base as u32).to_uppercase();
    Ok(Some(vm.new_string(text.as_bytes())?))
}

/// 70: `a` as the nearest Float.
pub fn as_float(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(x) = vm.integer_of(a.get(vm, 0)) else {
        return Ok(None);
    };
    let f = x.to_f64().unwrap_or(if x.is_negative() {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    });
    Ok(vm.new_float(f)?)
}

/// 75: `<75 string base>`: the integer the digits spell, with an optional `-`.
pub fn parse(vm: &mut Vm, a: Args) -> PrimResult {
    let (s, Some(base)) = (a.get(vm, 0), a.int(vm, 1)) else {
        return Ok(None);
    };
    if !s.is_ref() || !vm.heap.is_bytes(s) || !(2..=36).contains(&base) {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(vm.heap.bytes(s)).trim().to_string();
    let digits = text.strip_prefix('-').unwrap_or(&text);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base as u32)) {
        return Ok(None);
    }
    answer(vm, BigInt::parse_bytes(text.as_bytes(), base as u32))
}
