//! System primitives: the method cache, the clock, the collector.

use super::{Args, PrimResult};
use crate::value::Value;
use crate::vm::Vm;

/// 34: flush the method cache (after a method dictionary changed).
pub fn flush_cache(vm: &mut Vm, _: Args) -> PrimResult {
    vm.flush_caches();
    vm.invalidate_inlined(None);
    Ok(Some(vm.nil()))
}

/// 253: wall-clock milliseconds.
pub fn ticks(_: &mut Vm, _: Args) -> PrimResult {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Ok(Value::int(ms))
}

/// 254: collect now.
pub fn collect_garbage(vm: &mut Vm, _: Args) -> PrimResult {
    vm.collect_garbage(0)?;
    Ok(Some(vm.nil()))
}

/// 122: microseconds since the VM started.
pub fn microseconds(_: &mut Vm, _: Args) -> PrimResult {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let us = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros();
    Ok(Value::int(us as i64))
}

/// 123: ends the VM now with exit code `code`, after flushing output.
pub fn exit(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(code) = a.int(vm, 0) else {
        return Ok(None);
    };
    vm.flush();
    // No compile may still run while the process exits.
    vm.stop_compile_worker();
    std::process::exit(code.clamp(0, 255) as i32)
}
