//! The compiler's parser accepts every method source stored in LLST's
//! images (each was compiled by LLST), and the selector it parses from the
//! source is the method's name.

use lst_vm::{Options, Vm};

fn sources(image: &str) -> Vec<(String, String, String)> {
    let path = format!("{}/../shared/llst/{image}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Vm::from_llst_image(&bytes, Options::default())
        .unwrap()
        .all_method_sources()
}

#[test]
fn every_llst_method_source_parses() {
    let mut failures = Vec::new();
    let mut count = 0;
    for image in ["DecodeAllMethods.image", "VMPrimitives.image"] {
        for (class, selector, text) in sources(image) {
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
