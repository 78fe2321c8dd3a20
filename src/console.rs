//! The terminal side of the VM: line editing with history (rustyline) when
//! stdin is a terminal, plain reading when it is piped; Ctrl-C handling.

use anyhow::Result;
use lst_vm::{Console, ReaderConsole, Vm};
use rustyline::error::ReadlineError;
use std::io::{self, IsTerminal};

/// A rustyline editor as the VM's console.
struct Terminal {
    editor: rustyline::DefaultEditor,
    history: Option<std::path::PathBuf>,
    /// Bytes of the last line not yet taken by single-character reads.
    pending: std::collections::VecDeque<u8>,
}

impl Console for Terminal {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        loop {
            match self.editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = self.editor.add_history_entry(line.as_str());
                        if let Some(h) = &self.history {
                            let _ = self.editor.append_history(h);
                        }
                    }
                    return Ok(Some(line));
                }
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

/// Connects the VM to the terminal (or to piped stdin), and makes Ctrl-C
/// interrupt the running evaluation instead of killing the process.
pub fn install(vm: &mut Vm) -> Result<()> {
    if io::stdin().is_terminal() {
        let mut editor = rustyline::DefaultEditor::new()?;
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        vm.set_console(Box::new(Terminal {
            editor,
            history,
            pending: Default::default(),
        }));
    } else {
        vm.set_console(Box::new(ReaderConsole(io::BufReader::new(io::stdin()))));
    }
    vm.set_output(Box::new(io::BufWriter::new(io::stdout())));
    signal_hook::flag::register(signal_hook::consts::SIGINT, vm.interrupt_flag())?;
    Ok(())
}
