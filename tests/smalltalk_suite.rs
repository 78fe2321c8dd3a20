//! The Smalltalk test suite: files in every `tests/smalltalk/*.st` with the
//! `lst` binary (its embedded image carries the SUnit-like framework of
//! `image/50-sunit.st`) and checks each file's summary line
//! `N tests, P passed, F failed`. A file passes only when N equals the
//! number of test methods its source defines (so a test method that did not
//! compile, a class missing from the file's `TestRunner runAll:` line or a
//! file that stopped early all fail), P = N and F = 0.
//!
//! Run normally and under `--gc-stress` (a collection at every allocation).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

/// The suite's files, in name order.
fn suite_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smalltalk");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "st"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no Smalltalk test files in {}",
        dir.display()
    );
    files
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The test methods a source file defines: the unary selectors starting
/// with `test` of the instance side of every class it declares as a
/// direct subclass of TestCase (`CLASS Name TestCase …`), in LLST chunks
/// (`!Name` … `!`) or image-builder methods (`METHOD Name` … `!`).
fn count_tests(source: &str) -> usize {
    let mut suites = BTreeSet::new();
    for line in source.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 3 && words[0] == "CLASS" && words[2] == "TestCase" {
            suites.insert(words[1].to_string());
        }
    }
    let mut tests = BTreeSet::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let class = if let Some(rest) = line.strip_prefix('!') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                [name] => Some(name.to_string()),
                [_, "class"] => None,
                _ => continue,
            }
        } else if let Some(rest) = line.strip_prefix("METHOD ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                [name] => Some(name.to_string()),
                _ => None,
            }
        } else if line.starts_with('=') {
            None
        } else {
            continue;
        };
        // The method's text runs to a line holding only `!`; its first line
        // is the message pattern.
        let header = lines.next().unwrap_or("");
        if header.trim() != "!" {
            for body in lines.by_ref() {
                if body == "!" {
                    break;
                }
            }
        }
        let Some(class) = class else { continue };
        let selector = header.split_whitespace().next().unwrap_or("");
        // A keyword selector's first word ends with `:`; a binary one is
        // not an identifier.
        let unary = is_identifier(selector);
        if suites.contains(&class) && unary && selector.starts_with("test") && selector.len() > 4 {
            tests.insert((class, selector.to_string()));
        }
    }
    tests.len()
}

struct Outcome {
    file: PathBuf,
    expected: usize,
    stdout: String,
    stderr: String,
    success: bool,
}

impl Outcome {
    /// The summary lines `N tests, P passed, F failed` as (N, P, F).
    fn summaries(&self) -> Vec<(usize, usize, usize)> {
        self.stdout
            .lines()
            .filter_map(|line| {
                let rest = line.trim_end();
                let (n, rest) = rest.split_once(" tests, ")?;
                let (p, rest) = rest.split_once(" passed, ")?;
                let f = rest.strip_suffix(" failed")?;
                Some((n.parse().ok()?, p.parse().ok()?, f.parse().ok()?))
            })
            .collect()
    }

    /// The lines the framework prints for failed tests.
    fn failure_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| {
                l.starts_with("FAIL ") || (l.starts_with("ERROR ") && !l.starts_with("ERROR: "))
            })
            .collect()
    }

    /// Why the file did not pass, or None.
    fn problem(&self) -> Option<String> {
        let name = self.file.file_name().unwrap().to_string_lossy();
        let summaries = self.summaries();
        let why = match summaries.as_slice() {
            _ if !self.success => {
                format!("lst exited with a failure status; stderr:\n{}", self.stderr)
            }
            [] => "no summary line (the run stopped early?)".to_string(),
            [(n, p, f)] if *n == self.expected && *p == *n && *f == 0 => {
                if self.stdout.lines().any(|l| l.trim() == "true") {
                    return None;
                }
                "the runner did not answer true".to_string()
            }
            [(n, p, f)] => format!(
                "{n} tests ran ({} expected), {p} passed, {f} failed:\n    {}",
                self.expected,
                self.failure_lines().join("\n    ")
            ),
            _ => format!("{} summary lines, expected one", summaries.len()),
        };
        Some(format!("{name}: {why}"))
    }
}

fn run_file(file: &Path, gc_stress: bool) -> Outcome {
    let source = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let expected = count_tests(&source);
    assert!(expected > 0, "{} defines no test methods", file.display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_lst"));
    if gc_stress {
        command.arg("--gc-stress");
    }
    let output = command
        .arg(file)
        .env_remove("LST_GC_STRESS")
        .stdin(Stdio::null())
        .output()
        .expect("lst runs");
    Outcome {
        file: file.to_path_buf(),
        expected,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
    }
}

/// Runs the files in parallel and fails with every file's problem.
fn run_suite(files: Vec<PathBuf>, gc_stress: bool) {
    let outcomes: Vec<Outcome> = files
        .into_iter()
        .map(|f| thread::spawn(move || run_file(&f, gc_stress)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("a runner thread"))
        .collect();
    let total: usize = outcomes.iter().map(|o| o.expected).sum();
    let problems: Vec<String> = outcomes.iter().filter_map(Outcome::problem).collect();
    assert!(
        problems.is_empty(),
        "Smalltalk suite{}: {} of {} files failed ({total} tests expected):\n\n{}",
        if gc_stress { " under --gc-stress" } else { "" },
        problems.len(),
        outcomes.len(),
        problems.join("\n\n")
    );
}

#[test]
fn smalltalk_suite() {
    run_suite(suite_files(), false);
}

#[test]
fn smalltalk_suite_under_gc_stress() {
    run_suite(suite_files(), true);
}

#[test]
fn test_counting_sees_chunks_and_builder_methods() {
    let source = "CLASS ATest TestCase\nCLASS Helper Object\n\
        !ATest\ntestOne\n\t^ 1\n!\n\
        !ATest\ntestTwo | t |\n\tt := 'testThree'.\n!\n\
        !ATest\ntest: x\n\t^ x\n!\n\
        !ATest\nhelper\n\t^ 1\n!\n\
        =ATest\ntestClassSide\n\t^ 1\n!\n\
        METHOD ATest\ntestFour\n\t^ 4\n!\n\
        METHOD ATest class\ntestFive\n\t^ 5\n!\n\
        !Helper\ntestNotASuite\n\t^ 1\n!\n\
        !ATest\ntestOne\n\t^ 1\n!\n";
    assert_eq!(count_tests(source), 3);
}
