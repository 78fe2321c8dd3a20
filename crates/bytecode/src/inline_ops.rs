//! The inline operations: the sends compiled code may carry out itself,
//! without a lookup, because the receiver's class answers the selector
//! with a primitive method whose effect is known.
//!
//! [`INLINE_OPS`] is the one table of them: for each [`InlineOp`], its
//! selector, the class of receiver it applies to, and the primitive (by
//! its name in the VM's primitive table, never by number) that class's
//! method must run for the inline path to stand for the send. The JIT's
//! semantic lowering (`lst_jit::semantic`) reads it to decide which sends
//! to expand; the VM (`jit_runtime::inline_ops`) resolves the primitive
//! names and keeps one "still valid" word per operation that compiled
//! code tests, recomputed whenever an image redefines a method.
//!
//! It lives in lst-bytecode because that is the one crate both readers
//! depend on: lst-jit must not depend on lst-vm (the front end knows no
//! heap), and the VM does not depend on the JIT.

/// The class of receiver an inline operation applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Receiver {
    SmallInt,
    Float,
}

/// An inline operation; `op as usize` is its index in [`INLINE_OPS`]
/// (and in the VM's validity words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InlineOp {
    /// SmallInt a + b, a − b, a × b: the send when the result does not
    /// fit a SmallInt.
    IntAdd,
    IntSub,
    IntMul,
    /// SmallInt a < b, a > b, a = b: true or false.
    IntLess,
    IntGreater,
    IntEqual,
    /// SmallInt a & b, a | b: never fail.
    IntBitAnd,
    IntBitOr,
    /// SmallInt a // b, a \\ b (rounding toward negative infinity): the
    /// send when b is 0 or the quotient overflows.
    IntFloorDiv,
    IntFloorMod,
    /// SmallInt a quo: b, a rem: b (rounding toward zero): the same.
    IntQuo,
    IntRem,
    /// Float a + b, a − b, a × b, a ÷ b (b a Float or a SmallInt): a new
    /// Float.
    FloatAdd,
    FloatSub,
    FloatMul,
    FloatDiv,
    /// Float a < b, a > b, a = b: true or false.
    FloatLess,
    FloatGreater,
    FloatEqual,
}

/// One row of [`INLINE_OPS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineOpDef {
    pub op: InlineOp,
    /// The selector it answers.
    pub selector: &'static str,
    /// The class whose method for `selector` must be the primitive.
    pub receiver: Receiver,
    /// The primitive's name in the VM's primitive table.
    pub primitive: &'static str,
    /// The method must run the primitive on (argument, receiver) rather
    /// than (receiver, argument) (`a > b` is `b < a`).
    pub swapped: bool,
}

const fn row(
    op: InlineOp,
    selector: &'static str,
    receiver: Receiver,
    primitive: &'static str,
    swapped: bool,
) -> InlineOpDef {
    InlineOpDef {
        op,
        selector,
        receiver,
        primitive,
        swapped,
    }
}

use InlineOp as O;
use Receiver::{Float as F, SmallInt as I};

/// Every inline operation, in [`InlineOp`] order.
pub const INLINE_OPS: [InlineOpDef; 19] = [
    row(O::IntAdd, "+", I, "smallIntAdd", false),
    row(O::IntSub, "-", I, "smallIntSub", false),
    row(O::IntMul, "*", I, "smallIntMul", false),
    row(O::IntLess, "<", I, "smallIntLess", false),
    row(O::IntGreater, ">", I, "smallIntLess", true),
    row(O::IntEqual, "=", I, "smallIntEqual", false),
    row(O::IntBitAnd, "bitAnd:", I, "smallIntBitAnd", false),
    row(O::IntBitOr, "bitOr:", I, "smallIntBitOr", false),
    row(O::IntFloorDiv, "//", I, "integerDiv", false),
    row(O::IntFloorMod, "\\\\", I, "integerMod", false),
    row(O::IntQuo, "quo:", I, "smallIntQuo", false),
    row(O::IntRem, "rem:", I, "smallIntRem", false),
    row(O::FloatAdd, "+", F, "floatAdd", false),
    row(O::FloatSub, "-", F, "floatSub", false),
    row(O::FloatMul, "*", F, "floatMul", false),
    row(O::FloatDiv, "/", F, "floatDiv", false),
    row(O::FloatLess, "<", F, "floatLess", false),
    row(O::FloatGreater, ">", F, "floatLess", true),
    row(O::FloatEqual, "=", F, "floatEqual", false),
];

impl InlineOp {
    /// Its row of [`INLINE_OPS`].
    pub fn def(self) -> &'static InlineOpDef {
        &INLINE_OPS[self as usize]
    }

    /// The operation `receiver` objects do for `selector`, if any.
    pub fn of_selector(receiver: Receiver, selector: &[u8]) -> Option<InlineOp> {
        INLINE_OPS
            .iter()
            .find(|d| d.receiver == receiver && d.selector.as_bytes() == selector)
            .map(|d| d.op)
    }

    /// The name used in the JIT IR's text (`int_sub`, `float_less`).
    pub fn name(self) -> &'static str {
        const NAMES: [&str; INLINE_OPS.len()] = [
            "int_add",
            "int_sub",
            "int_mul",
            "int_less",
            "int_greater",
            "int_equal",
            "int_bit_and",
            "int_bit_or",
            "int_floor_div",
            "int_floor_mod",
            "int_quo",
            "int_rem",
            "float_add",
            "float_sub",
            "float_mul",
            "float_div",
            "float_less",
            "float_greater",
            "float_equal",
        ];
        NAMES[self as usize]
    }

    /// The operation named `name` ([`InlineOp::name`]).
    pub fn of_name(name: &str) -> Option<InlineOp> {
        INLINE_OPS.iter().map(|d| d.op).find(|op| op.name() == name)
    }
}

/// An inline operation on an object that stands for a primitive method
/// only while the send site's inline cache says so: compiled code guards
/// it on the site's first primitive way (the receiver's class, cached
/// with exactly the primitive method the operation stands for), read at
/// run time, so it stays right for every class and every redefinition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectOp {
    /// `at:`: slot i of a pointer object.
    At,
    /// `at:put:`: slot i := value; answers the receiver.
    AtPut,
    /// `==`: the same object.
    Identical,
    /// `class`: the receiver's class.
    Class,
    /// `size`, `basicSize`: the number of slots (or bytes).
    Size,
    /// `new:`: a new object of nil slots.
    New,
}

impl ObjectOp {
    pub const ALL: [ObjectOp; 6] = [
        ObjectOp::At,
        ObjectOp::AtPut,
        ObjectOp::Identical,
        ObjectOp::Class,
        ObjectOp::Size,
        ObjectOp::New,
    ];

    /// The operation a selector may stand for, if any.
    pub fn of_selector(selector: &[u8]) -> Option<ObjectOp> {
        match selector {
            b"at:" => Some(ObjectOp::At),
            b"at:put:" => Some(ObjectOp::AtPut),
            b"==" => Some(ObjectOp::Identical),
            b"class" => Some(ObjectOp::Class),
            b"size" | b"basicSize" => Some(ObjectOp::Size),
            b"new:" => Some(ObjectOp::New),
            _ => None,
        }
    }

    /// The number of arguments of its selector.
    pub fn arguments(self) -> usize {
        match self {
            ObjectOp::Class | ObjectOp::Size => 0,
            ObjectOp::At | ObjectOp::Identical | ObjectOp::New => 1,
            ObjectOp::AtPut => 2,
        }
    }

    /// The primitive (by its name in the VM's primitive table) of the
    /// method the operation stands for, and the operands the method
    /// passes it, as indices into (receiver, arguments…): `at:put:` runs
    /// `arrayAtPut` on (value, receiver, index).
    pub fn primitive(self) -> (&'static str, &'static [u8]) {
        match self {
            ObjectOp::At => ("arrayAt", &[0, 1]),
            ObjectOp::AtPut => ("arrayAtPut", &[2, 0, 1]),
            ObjectOp::Identical => ("identical", &[0, 1]),
            ObjectOp::Class => ("class", &[0]),
            ObjectOp::Size => ("basicSize", &[0]),
            ObjectOp::New => ("newObject", &[0, 1]),
        }
    }

    /// The name used in the JIT IR's text (`site_prim at …`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectOp::At => "at",
            ObjectOp::AtPut => "at_put",
            ObjectOp::Identical => "identical",
            ObjectOp::Class => "class",
            ObjectOp::Size => "size",
            ObjectOp::New => "new",
        }
    }

    /// The operation named `name` ([`ObjectOp::name`]).
    pub fn of_name(name: &str) -> Option<ObjectOp> {
        ObjectOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_enum_and_are_distinct() {
        for (i, d) in INLINE_OPS.iter().enumerate() {
            assert_eq!(d.op as usize, i);
            assert_eq!(
                InlineOp::of_selector(d.receiver, d.selector.as_bytes()),
                Some(d.op)
            );
            assert_eq!(InlineOp::of_name(d.op.name()), Some(d.op));
        }
        assert_eq!(InlineOp::of_selector(Receiver::SmallInt, b"foo:"), None);
        assert_eq!(InlineOp::of_selector(Receiver::Float, b"//"), None);
    }

    #[test]
    fn object_op_names_and_arities() {
        for op in ObjectOp::ALL {
            assert_eq!(ObjectOp::of_name(op.name()), Some(op));
        }
        assert_eq!(ObjectOp::of_selector(b"basicSize"), Some(ObjectOp::Size));
        assert_eq!(ObjectOp::AtPut.arguments(), 2);
        assert_eq!(ObjectOp::of_selector(b"at:at:"), None);
    }
}
