//! README.md's "A first session" is a transcript, and this test replays it:
//! the lines after `-> ` (and a method's lines after `.. `, up to its closing `!`) are
//! typed into the REPL through a pipe, `$ lst …` lines run the binary, and
//! every other line is output the transcript promises. A README that shows
//! what lst does not print fails here.

mod support;

use std::path::Path;
use std::process::Output;

/// One step of the transcript.
#[derive(Debug)]
enum Step {
    /// `$ cargo run --release`: a REPL fed `input`, printing `expected`.
    Repl {
        input: String,
        expected: Vec<String>,
    },
    /// `$ lst ARGS`: a run of the binary printing `expected`.
    Run {
        args: Vec<String>,
        expected: Vec<String>,
    },
}

/// The indented block under the heading `## A first session`.
fn session_block(readme: &str) -> Vec<String> {
    let start = readme
        .find("## A first session")
        .expect("README.md has a section '## A first session'");
    readme[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or("").to_string())
        .collect()
}

/// Splits a command line on spaces, keeping single-quoted words whole.
fn words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

fn steps(block: &[String]) -> Vec<Step> {
    let mut steps = vec![];
    let mut in_method = false;
    for line in block {
        if let Some(cmd) = line.strip_prefix("$ ") {
            let w = words(cmd);
            if w.first().map(String::as_str) == Some("cargo") {
                steps.push(Step::Repl {
                    input: String::new(),
                    expected: vec![],
                });
            } else {
                assert_eq!(w[0], "lst", "a transcript command runs lst: {line}");
                steps.push(Step::Run {
                    args: w[1..].to_vec(),
                    expected: vec![],
                });
            }
            continue;
        }
        let step = steps.last_mut().expect("the transcript starts with `$ `");
        match step {
            Step::Repl { input, expected } => {
                if let Some(typed) = line.strip_prefix("-> ") {
                    if typed == "(Ctrl-D)" {
                        continue;
                    }
                    in_method = typed.starts_with('!');
                    input.push_str(typed);
                    input.push('\n');
                } else if in_method {
                    let line = line.strip_prefix(".. ").unwrap_or(line);
                    input.push_str(line);
                    input.push('\n');
                    in_method = line.trim() != "!";
                } else if !line.trim().is_empty() {
                    expected.push(line.clone());
                }
            }
            Step::Run { expected, .. } => {
                if !line.trim().is_empty() {
                    expected.push(line.clone());
                }
            }
        }
    }
    steps
}

fn printed(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn replay(step: &Step, dir: &Path) -> (Vec<String>, Vec<String>, Output) {
    let (out, expected) = match step {
        Step::Repl { input, expected } => (support::lst_in(dir, &[], input), expected),
        Step::Run { args, expected } => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (support::lst_in(dir, &args, ""), expected)
        }
    };
    (printed(&out), expected.clone(), out)
}

#[test]
fn the_first_session_in_the_readme_prints_what_it_shows() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let steps = steps(&session_block(&readme));
    assert!(
        steps.len() >= 2,
        "the session starts the REPL and runs lst again on the saved image"
    );
    let dir = support::temp_dir("readme");
    for step in &steps {
        let (got, want, out) = replay(step, &dir);
        assert_eq!(
            got,
            want,
            "README step {step:?}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "README step {step:?} exits 0");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transcript_words_keep_quoted_text_whole() {
    assert_eq!(
        words("lst --image my.image -e 'a deposit: 1'"),
        ["lst", "--image", "my.image", "-e", "a deposit: 1"]
    );
}

/// The indented block of README.md that starts with `first`.
fn block_starting(readme: &str, first: &str) -> String {
    let start = readme
        .find(&format!("    {first}"))
        .unwrap_or_else(|| panic!("README.md has a block starting {first:?}"));
    readme[start..]
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect()
}

#[test]
fn the_fib_file_in_the_readme_prints_its_answer_once() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let source = block_starting(&readme, "+Object subclass: #Bench");
    let file = support::temp_file("readme-fib", "fib.st", source.as_bytes());
    let out = support::lst(&[file.to_str().expect("a UTF-8 path")], "");
    let answers = printed(&out).into_iter().filter(|l| l == "196418").count();
    assert_eq!(answers, 1, "stdout:\n{}", support::stdout(&out));
    assert!(out.status.success(), "{}", support::stderr(&out));
}
