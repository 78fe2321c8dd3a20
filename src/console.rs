//! The terminal side of the VM: line editing with history (rustyline) when
//! stdin is a terminal, plain reading when it is piped; Ctrl-C handling.

use anyhow::Result;
use lst_vm::{Console, ReaderConsole, Vm};
use rustyline::error::ReadlineError;
use std::io::{self, IsTerminal};

/// The terminal as the VM's console: each line is read with its own
/// line editor (see [`edit_line`]).
struct Terminal {
    /// Bytes of the last line not yet taken by single-character reads.
    pending: std::collections::VecDeque<u8>,
}

impl Console for Terminal {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        loop {
            match edit_line::<()>(prompt, None) {
                Ok(line) => return Ok(Some(line)),
                // Ctrl-C at the prompt discards the line, as shells do.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => return Ok(None),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }

    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        if self.pending.is_empty() {
            match self.read_line("")? {
                Some(line) => {
                    self.pending.extend(line.bytes());
                    self.pending.push_back(b'\n');
                }
                None => return Ok(None),
            }
        }
        Ok(self.pending.pop_front())
    }
}

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".lst_history"))
}

/// Reads one line from the terminal with a line editor (history in
/// `~/.lst_history`, completion by `helper` with the candidates listed)
/// made for this line alone. A rustyline editor replaces the SIGINT
/// handler for as long as it exists and restores the one it found when
/// dropped; making one per line keeps lst's handler (see [`install`]) in
/// place while Smalltalk runs, so Ctrl-C interrupts the evaluation. At
/// the prompt, Ctrl-C is a key: `Err(Interrupted)`.
pub fn edit_line<H: rustyline::Helper>(
    prompt: &str,
    helper: Option<H>,
) -> rustyline::Result<String> {
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor = rustyline::Editor::<H, rustyline::history::FileHistory>::with_config(config)?;
    editor.set_helper(helper);
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let line = editor.readline(prompt)?;
    if !line.trim().is_empty() {
        let _ = editor.add_history_entry(line.as_str());
        if let Some(h) = &history {
            let _ = editor.append_history(h);
        }
    }
    Ok(line)
}

/// The console for stdin: a line editor on a terminal, plain reading otherwise.
fn stdin_console() -> Result<Box<dyn Console>> {
    if io::stdin().is_terminal() {
        Ok(Box::new(Terminal {
            pending: Default::default(),
        }))
    } else {
        Ok(Box::new(ReaderConsole(io::BufReader::new(io::stdin()))))
    }
}

/// Connects the VM to the terminal (or to piped stdin), and makes Ctrl-C
/// interrupt the running evaluation instead of killing the process.
pub fn install(vm: &mut Vm) -> Result<()> {
    vm.set_console(stdin_console()?);
    connect_output_and_interrupts(vm)
}

/// Like [`install`], but the console first answers `script`'s lines; then
/// stdin if `interactive`, else end of input.
pub fn install_scripted(vm: &mut Vm, script: Vec<String>, interactive: bool) -> Result<()> {
    let rest: Option<Box<dyn Console>> = if interactive || script.is_empty() {
        Some(stdin_console()?)
    } else {
        None
    };
    vm.set_console(Box::new(Scripted {
        lines: script.into(),
        pending: Default::default(),
        rest,
    }));
    connect_output_and_interrupts(vm)
}

/// Output to stdout; SIGINT sets the VM's interrupt flag. Registered
/// before any line editor exists, so that each editor restores this
/// handler when it is dropped.
fn connect_output_and_interrupts(vm: &mut Vm) -> Result<()> {
    vm.set_output(Box::new(io::BufWriter::new(crate::output::Stdout)));
    signal_hook::flag::register(signal_hook::consts::SIGINT, vm.interrupt_flag())?;
    Ok(())
}

/// Scripted lines, then another console (or end of input).
struct Scripted {
    lines: std::collections::VecDeque<String>,
    pending: std::collections::VecDeque<u8>,
    rest: Option<Box<dyn Console>>,
}

impl Console for Scripted {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        if let Some(line) = self.lines.pop_front() {
            return Ok(Some(line));
        }
        match &mut self.rest {
            Some(c) => c.read_line(prompt),
            None => Ok(None),
        }
    }

    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        if self.pending.is_empty()
            && let Some(line) = self.lines.pop_front()
        {
            self.pending.extend(line.bytes());
            self.pending.push_back(b'\n');
        }
        if let Some(b) = self.pending.pop_front() {
            return Ok(Some(b));
        }
        match &mut self.rest {
            Some(c) => c.read_byte(),
            None => Ok(None),
        }
    }
}
