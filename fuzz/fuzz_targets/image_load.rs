//! Fuzz target: any bytes given to the LLST image loader give an image or
//! an error naming an offset, never a panic. A loaded image also gets a VM
//! (which looks up its named roots), as `lst --image` would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lst_vm::heap::HeapConfig;
use lst_vm::{Options, Vm};

fuzz_target!(|data: &[u8]| {
    let options = Options {
        heap: HeapConfig { initial_bytes: 64 << 10, max_bytes: 16 << 20 },
        stack_slots: 1 << 16,
        gc_stress: false,
        ..Options::default()
    };
    // Seal lst-format inputs so that mutants get past the checksum to the
    // structural checks.
    let mut data = data.to_vec();
    if data.starts_with(lst_vm::image::native::MAGIC) {
        lst_vm::image::native::seal(&mut data);
    }
    match Vm::from_image(&data, options) {
        Ok(vm) => {
            let _ = vm.all_methods();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
