//! Standard output for lst and for the programs it runs, with the
//! failures a command-line tool must survive: a reader that went away (a
//! closed pipe, as in `lst … | head`) ends lst quietly with status 0; any
//! other write error (a full disk) is one message on stderr and status 1.
//! Nothing here panics, unlike `print!`.

use std::fmt::Arguments;
use std::io::{self, ErrorKind, Write};

/// Ends lst because standard output failed with `e`.
pub fn fail(e: &io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("lst: cannot write output: {}", without_os_code(e));
    std::process::exit(1)
}

/// `e`'s message without the trailing ` (os error N)`.
fn without_os_code(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Standard output as a writer that never reports an error: it ends lst
/// instead (see [`fail`]). The VM writes its program output through it.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().write_all(buf).unwrap_or_else(|e| fail(&e));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush().unwrap_or_else(|e| fail(&e));
        Ok(())
    }
}

/// Writes formatted text to standard output (what `print!` does, without
/// the panic).
pub fn print(args: Arguments<'_>) {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .unwrap_or_else(|e| fail(&e));
}

/// `print!` that ends lst cleanly when standard output fails.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

/// `println!` that ends lst cleanly when standard output fails.
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::print(format_args!("{}\n", format_args!($($arg)*))) };
}
