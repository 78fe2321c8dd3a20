//! Primitives: the one table of LLST's primitive numbers, and dispatch.
//!
//! A primitive gets its arguments as the top `argc` slots of the VM stack
//! (argument 1 is the one pushed first) and answers `Some(value)` on success
//! (the method then returns it) or `None` on failure (the method's
//! Smalltalk fallback code runs). Wrong argument types are failures, never
//! crashes. Primitives that change control flow (6 run a process, 8 invoke a
//! block, 19 stop on error, 255 debug trap) are listed here but run by the
//! interpreter itself.
//!
//! A primitive that allocates must read its arguments again afterwards
//! through [`Args::get`]: the collector moves objects, and the arguments
//! are on the VM stack, where it updates them.

mod compile;
mod float;
mod integer;
pub mod io;
mod object;
pub(crate) mod report;
mod smallint;
mod system;

use crate::interp::Trap;
use crate::value::Value;
use crate::vm::Vm;

/// The arguments of one primitive call: stack slots `base..base + count`.
#[derive(Clone, Copy)]
pub struct Args {
    base: usize,
    count: usize,
}

impl Args {
    /// The `count` arguments at stack slots `base..`.
    #[inline(always)]
    pub(crate) fn new(base: usize, count: usize) -> Args {
        Args { base, count }
    }

    /// Argument `i` (0-based), read from the stack now.
    #[inline(always)]
    pub fn get(self, vm: &Vm, i: usize) -> Value {
        debug_assert!(i < self.count);
        vm.stack[self.base + i]
    }
    /// Argument `i` as a SmallInt.
    #[inline(always)]
    pub fn int(self, vm: &Vm, i: usize) -> Option<i64> {
        self.get(vm, i).as_int()
    }
}

/// What a primitive answers: `Ok(None)` is failure.
pub type PrimResult = Result<Option<Value>, Trap>;
pub(crate) type PrimFn = fn(&mut Vm, Args) -> PrimResult;

/// How a primitive is carried out.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A function of its arguments.
    Function(PrimFn),
    /// Changes control flow; the interpreter runs it.
    Interpreter,
    /// Not implemented by LLST's soft VM either: always fails.
    Unsupported,
}

/// One entry of the primitive table.
pub struct Primitive {
    pub number: u8,
    pub name: &'static str,
    /// Fewest arguments it reads; fewer is a failure.
    pub arity: usize,
    pub kind: Kind,
}

macro_rules! primitive_table {
    ($($num:literal $name:literal $arity:literal $kind:expr;)*) => {
        /// Every primitive: LLST's numbers, then lst's own.
        pub static PRIMITIVES: &[Primitive] = &[
            $(Primitive { number: $num, name: $name, arity: $arity, kind: $kind },)*
        ];
        /// Each number's index in [`PRIMITIVES`], made at compile time
        /// (a send to a primitive method looks its primitive up each time).
        static INDEX: [Option<u8>; 256] = {
            let numbers: &[u8] = &[$($num,)*];
            let mut t = [None; 256];
            let mut i = 0;
            while i < numbers.len() {
                t[numbers[i] as usize] = Some(i as u8);
                i += 1;
            }
            t
        };
    };
}

use Kind::{Function as F, Interpreter as I, Unsupported as U};

primitive_table! {
    1   "identical"          2 F(object::identical);
    2   "class"              1 F(object::class);
    3   "putChar"            1 F(io::put_char);
    4   "basicSize"          1 F(object::size);
    5   "arrayAtPut"         3 F(object::array_at_put);
    6   "runProcess"         2 I;
    7   "newObject"          2 F(object::new_object);
    8   "invokeBlock"        1 I;
    9   "getChar"            0 F(io::get_char);
    10  "smallIntAdd"        2 F(smallint::add);
    11  "smallIntQuo"        2 F(smallint::quo);
    12  "smallIntRem"        2 F(smallint::rem);
    13  "smallIntLess"       2 F(smallint::less);
    14  "smallIntEqual"      2 F(smallint::equal);
    15  "smallIntMul"        2 F(smallint::mul);
    16  "smallIntSub"        2 F(smallint::sub);
    18  "debug"              0 U;
    19  "error"              0 I;
    20  "newByteObject"      2 F(object::new_bytes);
    21  "stringAt"           2 F(object::string_at);
    22  "stringAtPut"        3 F(object::string_at_put);
    23  "cloneByteObject"    2 F(object::clone_bytes);
    24  "arrayAt"            2 F(object::array_at);
    25  "integerQuo"         2 U;
    26  "integerRem"         2 U;
    27  "integerAdd"         2 U;
    28  "integerMul"         2 U;
    29  "integerSub"         2 U;
    30  "integerLess"        2 U;
    31  "integerEqual"       2 U;
    32  "integerNew"         1 F(object::integer_new);
    33  "integerAsSmallInt"  1 U;
    34  "flushCache"         0 F(system::flush_cache);
    35  "become"             2 U;
    36  "smallIntBitOr"      2 F(smallint::bit_or);
    37  "smallIntBitAnd"     2 F(smallint::bit_and);
    38  "bulkReplace"        5 F(object::bulk_replace);
    39  "smallIntBitShift"   2 F(smallint::bit_shift);
    40  "truncSmallInt"      1 U;
    // lst's own (docs/image-sources.md): integers of any size,
    60  "integerAdd"         2 F(integer::add);
    61  "integerSub"         2 F(integer::sub);
    62  "integerMul"         2 F(integer::mul);
    63  "integerQuo"         2 F(integer::quo);
    64  "integerRem"         2 F(integer::rem);
    65  "integerDiv"         2 F(integer::div);
    66  "integerMod"         2 F(integer::modulo);
    67  "integerLess"        2 F(integer::less);
    68  "integerEqual"       2 F(integer::equal);
    69  "integerPrintBase"   2 F(integer::print_base);
    70  "integerAsFloat"     1 F(integer::as_float);
    71  "integerBitAnd"      2 F(integer::bit_and);
    72  "integerBitOr"       2 F(integer::bit_or);
    73  "integerBitXor"      2 F(integer::bit_xor);
    74  "integerBitShift"    2 F(integer::bit_shift);
    75  "integerParse"       2 F(integer::parse);
    // Floats,
    80  "floatAdd"           2 F(float::add);
    81  "floatSub"           2 F(float::sub);
    82  "floatMul"           2 F(float::mul);
    83  "floatDiv"           2 F(float::div);
    84  "floatLess"          2 F(float::less);
    85  "floatEqual"         2 F(float::equal);
    86  "floatPrint"         1 F(float::print);
    87  "floatSqrt"          1 F(float::sqrt);
    88  "floatTruncated"     1 F(float::truncated);
    89  "floatRounded"       1 F(float::rounded);
    90  "floatParse"         1 F(float::parse);
    91  "floatLn"            1 F(float::ln);
    92  "floatExp"           1 F(float::exp);
    93  "floatSin"           1 F(float::sin);
    94  "floatCos"           1 F(float::cos);
    95  "floatArcTan"        1 F(float::arc_tan);
    96  "floatRaisedTo"      2 F(float::power);
    97  "floatFloor"         1 F(float::floor);
    98  "floatCeiling"       1 F(float::ceiling);
    100 "fileOpen"           2 F(io::file_open);
    103 "fileClose"          1 F(io::file_close);
    104 "writeImage"         1 U;
    105 "fileStat"           2 F(io::file_stat);
    106 "fileRead"           3 F(io::file_read);
    107 "fileWrite"          3 F(io::file_write);
    108 "fileSeek"           2 F(io::file_seek);
    109 "systemName"         0 U;
    // the language system and reflection.
    110 "compileMethod"      2 F(compile::compile_method);
    111 "compileDoIt"        1 F(compile::compile_doit);
    112 "newProcess"         2 F(compile::new_process);
    114 "intern"             1 F(object::intern);
    115 "saveImage"          1 F(compile::save_image);
    116 "identityHash"       1 F(object::identity_hash);
    117 "backtrace"          0 F(compile::backtrace);
    118 "bytesHash"          1 F(object::bytes_hash);
    119 "bytesCompare"       2 F(object::bytes_compare);
    120 "perform"            3 I;
    121 "shallowCopy"        1 F(object::shallow_copy);
    122 "microseconds"       0 F(system::microseconds);
    123 "exit"               1 F(system::exit);
    124 "blockArity"         1 F(object::block_arity);
    125 "beginError"         1 F(report::begin_error);
    126 "beginNotUnderstood" 2 F(report::begin_not_understood);
    127 "endNotUnderstood"   1 F(report::end_not_understood);
    247 "jitOnce"            1 U;
    248 "jitStatistics"      0 U;
    249 "jitPrintMethod"     1 U;
    250 "jitPatchHotMethods" 0 U;
    251 "readline"           1 F(io::readline);
    252 "jitSendMessage"     2 U;
    253 "ticks"              0 F(system::ticks);
    254 "collectGarbage"     0 F(system::collect_garbage);
    255 "debugTrap"          0 I;
}

/// The table entry for `number`.
#[inline]
pub fn lookup(number: u8) -> Option<&'static Primitive> {
    INDEX[number as usize].map(|i| &PRIMITIVES[i as usize])
}

/// The number of the primitive named `name` (the table's names are how
/// other parts of lst refer to a primitive, e.g. the inline operations).
pub fn number_of(name: &str) -> Option<u8> {
    PRIMITIVES.iter().find(|p| p.name == name).map(|p| p.number)
}

/// Runs primitive `number` on the top `argc` stack slots (from `base`).
#[inline]
pub(crate) fn call(vm: &mut Vm, number: u8, base: usize, argc: usize) -> PrimResult {
    match lookup(number) {
        Some(Primitive {
            kind: Kind::Function(f),
            arity,
            ..
        }) if argc >= *arity => f(vm, Args { base, count: argc }),
        _ => Ok(None),
    }
}

/// The function of primitive `number` when it can run on `argc`
/// arguments (as [`call`] would run it).
pub(crate) fn function(number: u8, argc: usize) -> Option<PrimFn> {
    match lookup(number)? {
        Primitive {
            kind: Kind::Function(f),
            arity,
            ..
        } if argc >= *arity => Some(*f),
        _ => None,
    }
}

/// Whether primitive `number` looks at the running process's frames (so
/// that the VM's current frame must be its caller's when it runs):
/// `backtrace`. The others read only their arguments.
pub(crate) fn reads_frames(number: u8) -> bool {
    number == 117
}

/// A SmallInt result, or failure when it does not fit.
pub(crate) fn int_result(n: Option<i64>) -> PrimResult {
    Ok(n.and_then(Value::int))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roots::Root;

    /// `vm` with its output and input connected to nothing.
    fn quiet(mut vm: Vm) -> Vm {
        vm.set_output(Box::new(std::io::sink()));
        vm.set_console(Box::new(crate::ReaderConsole(std::io::Cursor::new(
            Vec::new(),
        ))));
        vm
    }

    fn options() -> crate::Options {
        crate::Options {
            gc_stress: false,
            ..Default::default()
        }
    }

    /// lst's own image, built from `image/`.
    fn own_image_vm() -> Vm {
        quiet(crate::image::builder::own_image_vm())
    }

    #[test]
    fn every_primitive_survives_hostile_arguments_in_our_image() {
        survives_hostile_arguments(own_image_vm());
    }

    #[test]
    fn every_primitive_survives_hostile_arguments_in_llst_image() {
        let bytes = lst_test_images::llst_image!("DecodeAllMethods.image");
        survives_hostile_arguments(quiet(Vm::from_llst_image(&bytes, options()).unwrap()));
    }

    /// Every primitive, given every combination of awkward arguments,
    /// answers or fails: no panic, no crash.
    fn survives_hostile_arguments(mut vm: Vm) {
        let s = vm.new_string(b"/nonexistent/dir/x").unwrap();
        vm.heap.roots.push(s);
        let a = vm.new_array(3).unwrap();
        vm.heap.roots.push(a);
        let b = vm.alloc_bytes(vm.root(Root::StringClass), 0).unwrap();
        vm.heap.roots.push(b);
        let n = vm.heap.roots.len();
        let values = |vm: &Vm| {
            let r = &vm.heap.roots;
            [
                vm.nil(),
                Value::small(0),
                Value::small(-1),
                Value::small(1),
                Value::int(crate::value::SMALLINT_MAX).unwrap(),
                Value::int(crate::value::SMALLINT_MIN).unwrap(),
                r[n - 3],
                r[n - 2],
                r[n - 1],
                vm.root(Root::ArrayClass),
                vm.root(Root::SelectorPlus),
            ]
        };
        let count = values(&vm).len();
        for p in PRIMITIVES
            .iter()
            .filter(|p| matches!(p.kind, Kind::Function(_)))
        {
            if matches!(p.number, 9 | 123 | 251) {
                continue; // console input (REPL tests) and exit (it ends the process)
            }
            for argc in 0..=5usize {
                for seed in 0..count.pow(2) {
                    let vals = values(&vm);
                    let base = vm.stack.len();
                    for i in 0..argc {
                        vm.stack
                            .push(vals[(seed / count.pow(i as u32 % 2) + i) % count]);
                    }
                    let r = call(&mut vm, p.number, base, argc);
                    assert!(
                        !matches!(r, Err(Trap::Fatal(_))),
                        "primitive {} ({})",
                        p.number,
                        p.name
                    );
                    vm.stack.truncate(base);
                }
            }
        }
    }
}
