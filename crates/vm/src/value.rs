//! Tagged values: the one place that decides how a 64-bit word is a small
//! integer or an object reference.
//!
//! * `...xxx1`: a SmallInt; the value is the word shifted right arithmetically
//!   by [`TAG_BITS`] (63-bit signed range, [`SMALLINT_MIN`] … [`SMALLINT_MAX`]).
//! * `...x000`: a reference to a heap object (8-byte aligned address).
//!
//! A `Value` that is a reference is only meaningful while the heap has not
//! collected since it was read: the collector moves objects and updates the
//! roots (VM stack, globals, handles), not copies held in Rust locals. This
//! module does no memory access at all.

/// One Smalltalk value: a tagged SmallInt or an object reference.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub struct Value(u64);

/// Bits at the bottom of a word that tell a SmallInt from a reference;
/// a SmallInt's value is the word shifted right by this many.
pub const TAG_BITS: u32 = 1;
/// The tag bits of a word.
pub const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// The tag of a SmallInt: all tag bits set (a reference's are all clear),
/// so that the tag bits of a word, or of the `and` of two, are nonzero
/// exactly when it is (they are) SmallInts.
pub const SMALLINT_TAG: u64 = TAG_MASK;

/// Largest SmallInt (2^62 − 1).
pub const SMALLINT_MAX: i64 = (1 << (63 - TAG_BITS)) - 1;
/// Smallest SmallInt (−2^62).
pub const SMALLINT_MIN: i64 = -(1 << (63 - TAG_BITS));

impl Value {
    /// The zero word. Not a valid reference; used only as filler in spare
    /// slots that the collector never scans.
    pub const ZERO: Value = Value(0);

    /// Builds a SmallInt. `None` when `n` does not fit in 63 bits.
    #[inline(always)]
    pub fn int(n: i64) -> Option<Value> {
        if (SMALLINT_MIN..=SMALLINT_MAX).contains(&n) {
            Some(Value(((n as u64) << TAG_BITS) | SMALLINT_TAG))
        } else {
            None
        }
    }

    /// Builds a SmallInt from a value known to fit (indices, sizes, bytes).
    #[inline(always)]
    pub fn small(n: i64) -> Value {
        debug_assert!((SMALLINT_MIN..=SMALLINT_MAX).contains(&n));
        Value(((n as u64) << TAG_BITS) | SMALLINT_TAG)
    }

    #[inline(always)]
    pub fn is_int(self) -> bool {
        self.0 & TAG_MASK == SMALLINT_TAG
    }

    #[inline(always)]
    pub fn is_ref(self) -> bool {
        self.0 & TAG_MASK == 0
    }

    /// The integer of a SmallInt (garbage for a reference: check first).
    #[inline(always)]
    pub fn int_unchecked(self) -> i64 {
        (self.0 as i64) >> TAG_BITS
    }

    /// The integer, if this is a SmallInt.
    #[inline(always)]
    pub fn as_int(self) -> Option<i64> {
        self.is_int().then(|| self.int_unchecked())
    }

    /// A SmallInt that is a valid non-negative index or size.
    #[inline(always)]
    pub fn as_usize(self) -> Option<usize> {
        self.as_int().and_then(|n| usize::try_from(n).ok())
    }

    /// The raw word (for hashing caches keyed by identity, and the heap).
    #[inline(always)]
    pub fn raw(self) -> u64 {
        self.0
    }

    /// Rebuilds a value from its raw word. Only the heap and the image
    /// loader create references this way.
    #[inline(always)]
    pub(crate) fn from_raw(raw: u64) -> Value {
        Value(raw)
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_int() {
            write!(f, "{}", self.int_unchecked())
        } else {
            write!(f, "@{:#x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ints_round_trip_at_the_edges() {
        for n in [0, 1, -1, 42, SMALLINT_MAX, SMALLINT_MIN] {
            let v = Value::int(n).unwrap();
            assert!(v.is_int());
            assert_eq!(v.as_int(), Some(n));
        }
        assert_eq!(Value::int(SMALLINT_MAX + 1), None);
        assert_eq!(Value::int(SMALLINT_MIN - 1), None);
    }

    #[test]
    fn references_are_not_ints() {
        let r = Value::from_raw(0x1000);
        assert!(r.is_ref());
        assert_eq!(r.as_int(), None);
        assert_eq!(Value::small(-3).as_usize(), None);
    }
}
