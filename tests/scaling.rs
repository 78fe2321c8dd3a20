//! Loading many methods into one class through `lst` (the JIT on, as by
//! default) costs in proportion to the methods, not their square, and the
//! caches that loading keeps stay right: a redefined method answers anew,
//! however hot it was. Costs are counted in allocated heap words (from
//! `--stats`), not time.

mod support;

use std::process::Output;

fn lst(args: &[&str]) -> Output {
    support::lst(args, "")
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    support::temp_file("scaling", name, text.as_bytes())
}

/// A file-in defining `n` unary methods `m0` … in a new class `Big`, then
/// printing what the last one answers.
fn many_methods(n: usize) -> String {
    let mut text = String::from("+Object subclass: #Big\n");
    for i in 0..n {
        text.push_str(&format!("!Big\nm{i}\n\t^ {i}\n!\n"));
    }
    text.push_str(&format!("+Big new m{}\n", n - 1));
    text
}

/// The words `lst --stats` reports allocated, and the standard output.
fn allocated_words(file: &std::path::Path) -> (u64, String) {
    let out = lst(&["--stats", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let words = stderr
        .split(';')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no allocation count in {stderr}"));
    (words, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn loading_many_methods_into_one_class_allocates_linearly() {
    let (small, out) = allocated_words(&temp_file("small.st", &many_methods(3_000)));
    assert!(out.ends_with("2999\n"), "{out}");
    let (large, out) = allocated_words(&temp_file("large.st", &many_methods(12_000)));
    assert!(out.ends_with("11999\n"), "{out}");
    let ratio = large as f64 / small as f64;
    assert!(
        ratio < 6.0,
        "4x the methods allocated {ratio:.1}x the words ({small} -> {large})"
    );
}

#[test]
fn a_hot_method_redefined_answers_anew() {
    let program = "\
+Object subclass: #Hot
!Hot
m
\t^ 1
!
+| h s | h := Hot new. s := 0. 1 to: 20000 do: [ :i | s := s + h m ]. s
!Hot
m
\t^ 2
!
+| h s | h := Hot new. s := 0. 1 to: 20000 do: [ :i | s := s + h m ]. s
+System collectGarbage
!Hot
m
\t^ 3
!
+Hot new m
!Hot
other
\t^ self m + 10
!
+Hot new other
+Hot subclass: #Sub
+Sub new m
!Sub
m
\t^ 4
!
+Sub new other
";
    let out = lst(&[temp_file("hot.st", program).to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.parse::<i64>().is_ok())
        .collect();
    assert_eq!(lines, ["20000", "40000", "3", "13", "3", "14"], "{stdout}");
}
