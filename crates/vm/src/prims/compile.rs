//! Primitives of the language system: compiling source into a class (110)
//! or as a doIt (111), making a process that runs a method (112), saving
//! the image (115) and describing the running process's frames (117).
//!
//! Compile errors are answers (a String of rendered diagnostics), not
//! primitive failures: the Smalltalk caller prints them and goes on. So
//! is the reason an image could not be saved: the caller raises it.

use super::{Args, PrimResult};
use crate::layout;
use crate::link::{CompileError, Origin};
use crate::roots::Root;
use crate::value::Value;
use crate::vm::Vm;

fn text_arg(vm: &Vm, v: Value) -> Option<String> {
    (v.is_ref() && vm.heap.is_bytes(v)).then(|| String::from_utf8_lossy(vm.heap.bytes(v)).into())
}

fn compiled(vm: &mut Vm, r: Result<Value, CompileError>) -> PrimResult {
    match r {
        Ok(method) => Ok(Some(method)),
        Err(CompileError::Diagnostics(text)) => Ok(Some(vm.new_string(text.as_bytes())?)),
        Err(CompileError::OutOfMemory(e)) => Err(e.into()),
    }
}

/// 110: `<110 class source>`: compile and install; the Method or diagnostics.
pub fn compile_method(vm: &mut Vm, a: Args) -> PrimResult {
    let class = a.get(vm, 0);
    let Some(source) = text_arg(vm, a.get(vm, 1)) else {
        return Ok(None);
    };
    if !vm.is_class_shaped(class) {
        return Ok(None);
    }
    let label = vm.class_name(class);
    let origin = Origin {
        label: &label,
        first_line: 1,
    };
    let r = vm.compile_into(class, &source, origin);
    compiled(vm, r)
}

/// 111: `<111 source>`: compile statements as a doIt of Undefined.
pub fn compile_doit(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(source) = text_arg(vm, a.get(vm, 0)) else {
        return Ok(None);
    };
    let origin = Origin {
        label: "doIt",
        first_line: 1,
    };
    let r = vm.compile_doit(&source, origin);
    compiled(vm, r)
}

/// 112: `<112 method receiver>`: a new Process whose context runs
/// `method` (taking no arguments) with `receiver`.
pub fn new_process(vm: &mut Vm, a: Args) -> PrimResult {
    let method = a.get(vm, 0);
    let method_class = vm.root(Root::MethodClass);
    if !method.is_ref() || vm.heap.class_of_object(method) != method_class {
        return Ok(None);
    }
    let Ok(parts) = vm.method_parts(method) else {
        return Ok(None);
    };
    let selector = vm.heap.get(method, layout::method::NAME).unwrap_or(method);
    let bytes = if vm.heap.is_bytes(selector) {
        vm.heap.bytes(selector)
    } else {
        &[]
    };
    if lst_bytecode::selector_arity(bytes) != Some(0) {
        return Ok(None);
    }
    let stack_size = vm
        .heap
        .get(method, layout::method::STACK_SIZE)
        .and_then(|v| v.as_int())
        .unwrap_or(0)
        .clamp(0, 1 << 16) as usize;
    let arguments = vm.new_array(1)?;
    let receiver = a.get(vm, 1);
    vm.heap.set(arguments, 0, receiver);
    let h_args = vm.heap.push_handle(arguments);
    let temps = vm.new_array(parts.temps)?;
    let h_temps = vm.heap.push_handle(temps);
    let stack = vm.new_array(stack_size.max(1))?;
    let h_stack = vm.heap.push_handle(stack);
    let ctx = vm.alloc_slots(vm.root(Root::ContextClass), layout::context::SLOTS)?;
    let h_ctx = vm.heap.push_handle(ctx);
    let method = a.get(vm, 0);
    use layout::context as c;
    for (field, value) in [
        (c::METHOD, method),
        (c::ARGUMENTS, vm.heap.handle(h_args)),
        (c::TEMPORARIES, vm.heap.handle(h_temps)),
        (c::STACK, vm.heap.handle(h_stack)),
        (c::BYTE_POINTER, Value::small(0)),
        (c::STACK_TOP, Value::small(0)),
    ] {
        vm.heap.set(ctx, field, value);
    }
    let process_class = vm.root(Root::ProcessClass);
    let size = vm
        .heap
        .get(process_class, layout::class::INSTANCE_SIZE)
        .and_then(|v| v.as_int())
        .unwrap_or(0)
        .clamp(layout::process::SLOTS as i64, 64) as usize;
    let process = vm.alloc_slots(process_class, size)?;
    let ctx = vm.heap.handle(h_ctx);
    vm.heap.set(process, layout::process::CONTEXT, ctx);
    vm.heap.release_handles(h_args);
    Ok(Some(process))
}

/// 115: `<115 path>`: save the image atomically; true, or a String
/// saying why not (the path is not a String, or the system's reason),
/// which the caller raises as an error.
pub fn save_image(vm: &mut Vm, a: Args) -> PrimResult {
    let arg = a.get(vm, 0);
    let why = match text_arg(vm, arg) {
        None => format!(
            "saveImage: expects a String path, got {} {}",
            vm.class_name(vm.class_of(arg)),
            vm.describe_short(arg)
        ),
        Some(path) => match vm.save_image(std::path::Path::new(&path)) {
            Ok(()) => return Ok(Some(vm.boolean(true))),
            Err(e) => format!("cannot save the image to {path}: {e}"),
        },
    };
    Ok(Some(vm.new_string(why.as_bytes())?))
}

/// 117: the running process's frames, innermost first, one per line.
pub fn backtrace(vm: &mut Vm, _: Args) -> PrimResult {
    let text = vm.backtrace_text();
    Ok(Some(vm.new_string(text.as_bytes())?))
}
