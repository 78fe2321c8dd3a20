//! Fuzz target: any text given to the parser gives a method or
//! diagnostics whose spans lie inside the text and render; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for result in [lst_compiler::parse_method(text), lst_compiler::parse_expression(text)] {
        if let Err(diags) = result {
            assert!(!diags.is_empty());
            for d in diags {
                assert!(d.span.start <= text.len() && d.span.end <= text.len());
                let _ = d.render("fuzz.st", text, 1);
            }
        }
    }
});
