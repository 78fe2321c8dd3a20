//! The CI smoke run of `lst bench` on the interpreter (`--jit off`; the
//! compiled runs are in `jit_differential.rs`): every benchmark once with
//! the smallest inner count its result check knows, so a port cannot
//! silently break; and again under GC stress (Havlak at every 1000th
//! allocation).

use std::process::Command;

fn bench(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_lst"))
        .args(["--jit", "off", "bench"])
        .args(args)
        .env_remove("LST_GC_STRESS")
        .output()
        .expect("lst runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn rows(table: &str) -> usize {
    table
        .lines()
        .filter(|l| l.starts_with("awfy ") || l.starts_with("micro "))
        .count()
}

#[test]
fn every_benchmark_passes_its_result_check() {
    let (ok, out, err) = bench(&["--smoke"]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(rows(&out), 14 + 6, "{out}");
}

#[test]
fn benchmarks_pass_under_gc_stress() {
    let names = [
        "DeltaBlue",
        "Bounce",
        "List",
        "Mandelbrot",
        "NBody",
        "Permute",
        "Queens",
        "Sieve",
        "Storage",
        "Towers",
        "Fib",
        "Loop",
    ];
    let mut args = vec!["--smoke", "--gc-stress"];
    args.extend(names);
    let (ok, out, err) = bench(&args);
    assert!(ok, "{out}\n{err}");
    assert_eq!(rows(&out), names.len(), "{out}");
}

/// Havlak's live heap is large, so a collection at every allocation would
/// take hours (each copies the whole heap); every 1000th takes about 45 s.
#[test]
fn havlak_passes_under_gc_stress_at_every_thousandth_allocation() {
    let (ok, out, err) = bench(&["--smoke", "--gc-stress-every", "1000", "Havlak"]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(rows(&out), 1, "{out}");
}

#[test]
fn both_modes_print_their_ratio() {
    let (ok, out, err) = bench(&["--smoke", "--mode", "both", "Fib", "Queens"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("mode interp") && out.contains("mode jit"),
        "{out}"
    );
    assert!(
        out.contains("interp/jit") && out.contains("geometric mean"),
        "{out}"
    );
}

#[test]
fn a_wrong_result_is_a_failure() {
    // Mandelbrot only verifies inner counts 1, 500 and 750.
    let (ok, _, err) = bench(&["Mandelbrot", "--inner", "2"]);
    assert!(!ok);
    assert!(err.contains("result check FAILED"), "{err}");
}
