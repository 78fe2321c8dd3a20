//! `lst`: the command line. Boots an image and runs its own main loop (the
//! REPL of LLST images), or disassembles methods.

mod console;
mod disasm;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use lst_vm::{ExitStatus, Options, Vm};
use std::path::PathBuf;

/// A Little Smalltalk virtual machine.
#[derive(Parser)]
#[command(name = "lst", version, about)]
struct Cli {
    #[command(flatten)]
    vm: VmFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct VmFlags {
    /// Image file to boot (an LLST image).
    #[arg(long, short = 'i', global = true)]
    image: Option<PathBuf>,
    /// Collect garbage at every allocation (slow; for testing the GC).
    /// The environment variable LST_GC_STRESS=1 does the same.
    #[arg(long, global = true)]
    gc_stress: bool,
    /// Maximum heap size in MiB; beyond it allocation is a Smalltalk error.
    #[arg(long, value_name = "MIB", default_value_t = 4096, global = true)]
    heap_max: usize,
    /// VM stack size in MiB; recursion deeper than it allows is a Smalltalk error.
    #[arg(long, value_name = "MIB", default_value_t = 512, global = true)]
    stack_size: usize,
    /// Print every message send to stderr (very verbose).
    #[arg(long, global = true)]
    trace: bool,
    /// Print execution statistics (sends, cache, GC) on exit.
    #[arg(long, global = true)]
    stats: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print a method's bytecode: `lst disasm --image F Class>>selector`
    /// (`Class class>>selector` for class-side methods).
    Disasm {
        /// The method, as Class>>selector.
        method: String,
    },
}

fn options(flags: &VmFlags) -> Options {
    let mut o = Options::default();
    o.gc_stress |= flags.gc_stress;
    o.trace_sends = flags.trace;
    o.heap.max_bytes = flags.heap_max.max(1) << 20;
    o.stack_slots = (flags.stack_size.max(1) << 20) / 8;
    o
}

fn load(flags: &VmFlags) -> Result<Vm> {
    let path = flags
        .image
        .as_ref()
        .context("no image given: use --image PATH (an LLST image file)")?;
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    Vm::from_llst_image(&bytes, options(flags))
        .with_context(|| format!("cannot load image {}", path.display()))
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lst: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let mut vm = load(&cli.vm)?;
    if let Some(Command::Disasm { method }) = &cli.command {
        print!("{}", disasm::method(&vm, method)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    console::install(&mut vm)?;
    let status = vm.boot().map_err(anyhow::Error::msg)?;
    match status {
        ExitStatus::Returned => println!("Exited normally"),
        ExitStatus::Error => println!("User defined return"),
        ExitStatus::TimeExpired => println!("Execution time expired"),
    }
    if cli.vm.stats {
        let s = vm.stats;
        let g = vm.heap.stats;
        eprintln!(
            "{} messages sent, cache hits {}, misses {}; {} collections, {:.1} ms in GC",
            s.sends,
            s.cache_hits,
            s.cache_misses,
            g.collections,
            g.nanos as f64 / 1e6
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
