//! Boxed numbers: Floats (8-byte objects holding an IEEE double) and
//! LargeIntegers (byte objects: a sign byte, then the magnitude,
//! little-endian, no leading zero bytes), converted to and from Rust
//! `f64` and `BigInt`. Integers are normalised: a value that fits in a
//! SmallInt is always a SmallInt.
//!
//! This module only converts; arithmetic lives in `prims::integer` and
//! `prims::float`.

use crate::heap::OutOfMemory;
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;
use num_bigint::{BigInt, Sign};
use num_traits::ToPrimitive;

/// Largest LargeInteger magnitude made, in bytes (a bigger result is a
/// primitive failure rather than an attempt to fill the heap).
pub const MAX_LARGE_BYTES: usize = 1 << 20;

impl Vm {
    /// The Float class, or nil if the image has none.
    fn float_class(&self) -> Value {
        self.root(Root::FloatClass)
    }

    /// `v` as a double, if it is a Float.
    pub fn float_of(&self, v: Value) -> Option<f64> {
        if !v.is_ref() || self.float_class() == self.nil() {
            return None;
        }
        if self.heap.class_of_object(v) != self.float_class() || !self.heap.is_bytes(v) {
            return None;
        }
        let bytes: [u8; 8] = self.heap.bytes(v).try_into().ok()?;
        Some(f64::from_ne_bytes(bytes))
    }

    /// A new Float. Fails (as out of memory would) if the image has no Float class.
    pub fn new_float(&mut self, x: f64) -> Result<Option<Value>, OutOfMemory> {
        if self.float_class() == self.nil() {
            return Ok(None);
        }
        let f = self.alloc_bytes(self.float_class(), 8)?;
        self.heap.bytes_mut(f).copy_from_slice(&x.to_ne_bytes());
        Ok(Some(f))
    }

    /// `v` as an integer, if it is a SmallInt or a LargeInteger.
    pub fn integer_of(&self, v: Value) -> Option<BigInt> {
        if let Some(n) = v.as_int() {
            return Some(BigInt::from(n));
        }
        let class = self.root(Root::LargeIntegerClass);
        if !v.is_ref() || class == self.nil() || self.heap.class_of_object(v) != class {
            return None;
        }
        let bytes = self.heap.bytes(v);
        let (&sign, magnitude) = bytes.split_first()?;
        let sign = if sign == 0 { Sign::Plus } else { Sign::Minus };
        Some(BigInt::from_bytes_le(sign, magnitude))
    }

    /// `v` as a double if it is any number (Float, SmallInt, LargeInteger).
    pub fn number_as_f64(&self, v: Value) -> Option<f64> {
        self.float_of(v)
            .or_else(|| self.integer_of(v).and_then(|n| n.to_f64()))
    }

    /// The integer `n`: a SmallInt when it fits, else a new LargeInteger.
    /// `Ok(None)` when the image has no LargeInteger class or `n` is
    /// beyond [`MAX_LARGE_BYTES`].
    pub fn new_integer(&mut self, n: &BigInt) -> Result<Option<Value>, OutOfMemory> {
        if let Some(v) = n.to_i64().and_then(Value::int) {
            return Ok(Some(v));
        }
        let class = self.root(Root::LargeIntegerClass);
        let (sign, magnitude) = n.to_bytes_le();
        if class == self.nil() || magnitude.len() > MAX_LARGE_BYTES {
            return Ok(None);
        }
        let obj = self.alloc_bytes(class, magnitude.len() + 1)?;
        let bytes = self.heap.bytes_mut(obj);
        bytes[0] = u8::from(sign == Sign::Minus);
        bytes[1..].copy_from_slice(&magnitude);
        Ok(Some(obj))
    }
}

/// The shortest decimal text that reads back to `x`, Smalltalk style:
/// always with a `.` or an exponent (`1.0`, `0.1`, `1.0e100`, `-2.5e-7`).
pub fn float_text(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust prints the shortest round-trip digits in both forms; use the
    // exponent form for very large and very small magnitudes.
    let a = x.abs();
    let text = if a != 0.0 && !(1e-4..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    };
    match text.split_once('e') {
        Some((mantissa, e)) if !mantissa.contains('.') => format!("{mantissa}.0e{e}"),
        Some(_) => text,
        None if text.contains('.') => text,
        None => format!("{text}.0"),
    }
}

/// Parses a Float written as Smalltalk or as [`float_text`] prints it.
pub fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "nan" => return Some(f64::NAN),
        "inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if !ok {
        return None;
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_reads_back_and_looks_like_a_float() {
        for x in [
            0.0,
            1.0,
            -2.5,
            0.1,
            1.0 / 3.0,
            2f64.sqrt(),
            1e100,
            1.5e-7,
            123456789012345680.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let t = float_text(x);
            assert!(t.contains('.'), "{t}");
            assert_eq!(parse_float(&t), Some(x), "{t}");
        }
        assert_eq!(float_text(1.0), "1.0");
        assert_eq!(float_text(2f64.sqrt()), "1.4142135623730951");
        assert_eq!(float_text(1e100), "1.0e100");
        assert_eq!(parse_float("1.5x"), None);
    }
}
