//! The compiler's parser accepts every method source stored in LLST's
//! images (each was compiled by LLST), and the selector it parses from the
//! source is the method's name.

use lst_vm::{Options, Vm};

/// (class, selector, source) of every stored method source; `None` when
/// the image is not there (`lst_test_images`).
fn sources(image: &str) -> Option<Vec<(String, String, String)>> {
    let bytes = lst_test_images::read(image)?;
    Some(
        Vm::from_llst_image(&bytes, Options::default())
            .unwrap()
            .all_method_sources(),
    )
}

#[test]
fn every_llst_method_source_parses() {
    let mut failures = Vec::new();
    let mut count = 0;
    for image in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        let Some(sources) = sources(image) else {
            return;
        };
        for (class, selector, text) in sources {
            count += 1;
            match lst_compiler::parse_method(&text) {
                Ok(m) if m.selector == selector => {}
                Ok(m) => failures.push(format!("{class}>>{selector}: parsed as {}", m.selector)),
                Err(diags) => {
                    let shown: Vec<String> = diags
                        .iter()
                        .map(|d| d.render(&format!("{class}>>{selector}"), &text, 1))
                        .collect();
                    failures.push(shown.join(""));
                }
            }
        }
    }
    assert!(count > 900, "only {count} sources");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
