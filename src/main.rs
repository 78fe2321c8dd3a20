//! `lst`: the command line. Loads an image (the embedded default, lst's
//! own format, or an LLST image), then files in sources, evaluates `-e`
//! expressions and runs the REPL; or disassembles methods; or builds an
//! image from sources.

#[macro_use]
mod output;

mod bench;
mod console;
mod disasm;
mod repl;
mod script;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use lst_vm::image::builder;
use lst_vm::{ExitStatus, Options, Vm};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The default image, built from `image/*.st` when lst was compiled.
static DEFAULT_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lst.image"));
/// The same library plus the benchmarks (`bench/awfy`, `bench/micro`).
static BENCH_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bench.image"));

/// A Little Smalltalk virtual machine.
///
/// With no arguments, starts the REPL on the embedded image. Source files
/// (plain statements, LLST's chunk format or the image-builder format) are
/// run in order, each error reported with its file and line (exit status 1);
/// `-e` evaluates an expression and prints its value; then lst exits,
/// unless `-i` asks for the REPL.
#[derive(Parser)]
#[command(name = "lst", version, about, subcommand_precedence_over_arg = true)]
struct Cli {
    #[command(flatten)]
    vm: VmFlags,
    /// Source files to file in.
    files: Vec<PathBuf>,
    /// Evaluate an expression and print its value (repeatable). The
    /// expression may start with `-` (`-e '-7 \\ 2'`).
    #[arg(
        short = 'e',
        long = "eval",
        value_name = "EXPR",
        allow_hyphen_values = true
    )]
    eval: Vec<String>,
    /// Start the REPL after the files and expressions.
    #[arg(short = 'i', long)]
    interactive: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct VmFlags {
    /// Image file to load instead of the embedded one (lst's format or an LLST image).
    #[arg(long, global = true, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Collect garbage at every allocation (slow; for testing the GC).
    /// The environment variable LST_GC_STRESS=1 does the same.
    #[arg(long, global = true)]
    gc_stress: bool,
    /// GC stress at every N-th allocation instead (LST_GC_STRESS=N does the same).
    #[arg(long, value_name = "N", global = true)]
    gc_stress_every: Option<u32>,
    /// Maximum heap size in MiB (at least the initial heap, 8 MiB); beyond
    /// it allocation is a Smalltalk error.
    #[arg(long, value_name = "MIB", default_value_t = 4096, global = true,
          value_parser = heap_mib)]
    heap_max: usize,
    /// VM stack size in MiB (1 to 16384); recursion deeper than it allows
    /// is a Smalltalk error.
    #[arg(long, value_name = "MIB", default_value_t = 512, global = true,
          value_parser = stack_mib)]
    stack_size: usize,
    /// Print every message send to stderr (very verbose).
    #[arg(long, global = true)]
    trace: bool,
    /// Print execution statistics (sends, cache, GC) on exit.
    #[arg(long, global = true)]
    stats: bool,
    /// When to compile methods to machine code: once hot (the default),
    /// at their first call, or never (`off`: the bytecode interpreter
    /// alone). (Not global: `lst disasm --jit` is another flag; write
    /// `lst --jit always bench …`.)
    #[arg(long, value_enum, default_value_t = JitFlag::On)]
    jit: JitFlag,
    /// Which compilers the JIT uses: the baseline (machine code straight
    /// from templates, compiled in microseconds), Cranelift (optimized,
    /// about 20 times slower to compile), or the baseline first and
    /// Cranelift for methods that stay hot.
    #[arg(long, value_enum, default_value_t = CompilerFlag::Tiered, global = true)]
    jit_compiler: CompilerFlag,
    /// Calls and loop iterations of a baseline-compiled method before
    /// `--jit-compiler tiered` recompiles it with Cranelift.
    #[arg(long, value_name = "N", default_value_t = 10_000, global = true)]
    jit_optimize_after: u32,
    /// The top tier of `--jit-compiler tiered`: Cranelift (the default)
    /// or LLVM (in a build with the cargo feature `llvm`).
    #[arg(long, value_enum, global = true)]
    jit_top: Option<TopFlag>,
    /// Calls after which `--jit on` compiles a method.
    #[arg(long, value_name = "N", default_value_t = 1000, global = true)]
    jit_threshold: u32,
    /// Optimized compiles (tier-ups) on a background thread while the
    /// program goes on in baseline code, or (`off`) at once while it waits.
    #[arg(long, value_enum, default_value_t = OnOff::On, global = true)]
    jit_background: OnOff,
    /// Print the JIT's statistics on exit (methods compiled, compile
    /// times, transitions between the tiers).
    #[arg(long, global = true)]
    jit_stats: bool,
    /// Switch optimizations of the optimizing tier off or on by name:
    /// a comma-separated list of NAME or +NAME (on), -NAME (off), `all`
    /// or `none` (e.g. `--jit-opt=-unbox`; repeatable, applied in order).
    /// An unknown name is an error that lists the known ones.
    #[arg(long, value_name = "LIST", global = true, allow_hyphen_values = true,
          value_parser = jit_opt_list)]
    jit_opt: Vec<OptList>,
    /// Deopt stress, for testing: every N-th guard evaluation in optimized
    /// code (class guards of inlined sends, the unit validity check, the
    /// guards of unboxed Float regions, the fast-path guards inside
    /// inlined code) fails as well and takes the path a real failure
    /// takes (0: off).
    #[arg(long, value_name = "N", default_value_t = 0, global = true)]
    jit_deopt_stress: u32,
}

/// One `--jit-opt` list, read.
#[derive(Clone, Debug)]
struct OptList(Vec<lst_backends::optimizations::Change>);

fn jit_opt_list(text: &str) -> Result<OptList, String> {
    lst_backends::optimizations::Optimizations::parse_changes(text).map(OptList)
}

/// The optimizations `--jit-opt` leaves on.
fn optimizations(flags: &VmFlags) -> lst_backends::optimizations::Optimizations {
    flags.jit_opt.iter().fold(
        Default::default(),
        |opts: lst_backends::optimizations::Optimizations, l| opts.changed(&l.0),
    )
}

/// `--jit`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum JitFlag {
    Off,
    On,
    Always,
}

/// A switch (`--jit-background`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// `--jit-compiler`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum CompilerFlag {
    Baseline,
    Cranelift,
    Tiered,
    /// LLVM alone (in a build with the cargo feature `llvm`).
    Llvm,
}

/// `--jit-top`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
enum TopFlag {
    Cranelift,
    Llvm,
}

#[derive(Subcommand)]
enum Command {
    /// Print a method's bytecode: `lst disasm Class>>selector`
    /// (`Class class>>selector` for class-side methods).
    Disasm {
        /// The method, as Class>>selector.
        method: String,
        /// Also print the type feedback recorded for the method, the JIT's
        /// IR for the method and each block body after each pass of the
        /// optimizing compile (`--jit-opt` switches passes off), the
        /// Cranelift IR it lowers to and its machine code, and the
        /// baseline compiler's machine code.
        #[arg(long)]
        jit: bool,
    },
    /// Run the benchmarks (Are We Fast Yet ports and micro benchmarks) on
    /// the embedded benchmark image and print median, min and max times.
    Bench {
        /// Benchmarks to run (default: all), e.g. Richards Fib.
        names: Vec<String>,
        /// Timed outer iterations per benchmark.
        #[arg(long, default_value_t = 1)]
        iterations: usize,
        /// Inner iterations (default: the suite's own count per benchmark).
        #[arg(long)]
        inner: Option<i64>,
        /// Each benchmark once with the smallest inner count its result
        /// check knows (the CI smoke run).
        #[arg(long, conflicts_with_all = ["inner", "iterations"])]
        smoke: bool,
        /// Execution mode (default: `jit`, or `interp` with `--jit off`).
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Also write every iteration's time to this JSON file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Compile a folder of `.st` sources (image-builder format, read in
    /// name order) into an image in lst's format.
    BuildImage {
        /// The folder of sources.
        sources: PathBuf,
        /// The image file to write (atomically).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// How `lst bench` executes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// The bytecode interpreter.
    Interp,
    /// The JIT (`--jit on` unless `--jit always` is given).
    Jit,
    /// Both, with their ratio.
    Both,
}

/// `--heap-max`: MiB from the initial heap's size up to what a 64-bit
/// address space holds.
fn heap_mib(text: &str) -> Result<usize, String> {
    let least = lst_vm::heap::HeapConfig::default().initial_bytes >> 20;
    mib_between(text, least, 1 << 24, "the heap", "(the initial heap)")
}

/// `--stack-size`: the VM stack grows on demand up to this limit.
fn stack_mib(text: &str) -> Result<usize, String> {
    mib_between(text, 1, 1 << 14, "the VM stack", "")
}

/// A whole number of MiB from `least` to `most`, for `what`.
fn mib_between(
    text: &str,
    least: usize,
    most: usize,
    what: &str,
    why_least: &str,
) -> Result<usize, String> {
    let mib: usize = text
        .parse()
        .map_err(|_| format!("expected a whole number of MiB, got `{text}`"))?;
    if mib < least {
        let why = if why_least.is_empty() {
            String::new()
        } else {
            format!(" {why_least}")
        };
        return Err(format!(
            "{what} must be at least {least} MiB{why}, got {mib}"
        ));
    }
    if mib > most {
        return Err(format!("{what} can be at most {most} MiB, got {mib}"));
    }
    Ok(mib)
}

fn options(flags: &VmFlags) -> Options {
    let mut o = Options::default();
    o.gc_stress |= flags.gc_stress || flags.gc_stress_every.is_some();
    if let Some(n) = flags.gc_stress_every {
        o.gc_stress_interval = n.max(1);
    }
    o.trace_sends = flags.trace;
    o.heap.max_bytes = flags.heap_max << 20;
    o.stack_slots = (flags.stack_size << 20) / 8;
    o
}

fn load(flags: &VmFlags, embedded: &[u8]) -> Result<Vm> {
    let mut vm = match &flags.image {
        None => Vm::from_image(embedded, options(flags)).context("the embedded image")?,
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read image {}", path.display()))?;
            Vm::from_image(&bytes, options(flags))
                .with_context(|| format!("cannot load image {}", path.display()))?
        }
    };
    install_jit(&mut vm, flags)?;
    Ok(vm)
}

/// Installs the Cranelift JIT as `--jit` asks.
fn install_jit(vm: &mut Vm, flags: &VmFlags) -> Result<()> {
    use lst_vm::jit_runtime::tiering::JitMode;
    let mode = match flags.jit {
        JitFlag::Off => return Ok(()),
        JitFlag::On => JitMode::On,
        JitFlag::Always => JitMode::Always,
    };
    use lst_vm::jit_runtime::tiering::{Level, Tiering};
    // The baseline compiler emits x86-64 only; elsewhere Cranelift does
    // all the work.
    let x86_64 = cfg!(target_arch = "x86_64");
    let (first, optimize_after) = match flags.jit_compiler {
        CompilerFlag::Cranelift | CompilerFlag::Llvm => (Level::Optimized, None),
        _ if !x86_64 => (Level::Optimized, None),
        CompilerFlag::Baseline => (Level::Baseline, None),
        CompilerFlag::Tiered => (Level::Baseline, Some(flags.jit_optimize_after)),
    };
    let jit = compiler(flags)?;
    let tiering = Tiering {
        first,
        optimize_after,
    };
    vm.set_deopt_stress(flags.jit_deopt_stress);
    vm.set_jit(jit, mode, flags.jit_threshold, tiering);
    // A delay before each background compile, for tests.
    let delay = std::env::var("LST_JIT_BACKGROUND_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(std::time::Duration::ZERO, std::time::Duration::from_millis);
    vm.set_jit_background(flags.jit_background == OnOff::On, delay);
    Ok(())
}

/// The compilers `--jit-compiler` (and `--jit-top`) name.
fn compiler(flags: &VmFlags) -> Result<Box<dyn lst_vm::jit_runtime::boundary::Compiler>> {
    if optimizing_compiler(flags) == "llvm" {
        if flags.jit_top == Some(TopFlag::Llvm)
            && !matches!(flags.jit_compiler, CompilerFlag::Tiered)
        {
            bail!(
                "--jit-top llvm is the top tier of --jit-compiler tiered, not of {}",
                format!("{:?}", flags.jit_compiler).to_lowercase()
            );
        }
        return llvm_compiler(flags);
    }
    let mut jit = lst_backends::CraneliftJit::new().map_err(anyhow::Error::msg)?;
    jit.optimizations = optimizations(flags);
    Ok(Box::new(jit))
}

/// The LLVM back end (baseline code from Cranelift's crate, optimized
/// code from LLVM), or why this build has none.
#[cfg(feature = "llvm")]
fn llvm_compiler(flags: &VmFlags) -> Result<Box<dyn lst_vm::jit_runtime::boundary::Compiler>> {
    let mut jit = lst_llvm::LlvmJit::new().map_err(anyhow::Error::msg)?;
    jit.optimizations = optimizations(flags);
    Ok(Box::new(jit))
}

#[cfg(not(feature = "llvm"))]
fn llvm_compiler(_: &VmFlags) -> Result<Box<dyn lst_vm::jit_runtime::boundary::Compiler>> {
    bail!(
        "this lst was built without the LLVM back end; build it with \
         `cargo build --release --features llvm` (it needs llvm-19-dev)"
    )
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lst: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(Command::BuildImage { sources, output }) = &cli.command {
        return build_image(sources, output, &cli.vm);
    }
    if let Some(Command::Bench {
        names,
        iterations,
        inner,
        smoke,
        mode,
        json,
    }) = &cli.command
    {
        let mode = mode.unwrap_or(match cli.vm.jit {
            JitFlag::Off => Mode::Interp,
            JitFlag::On | JitFlag::Always => Mode::Jit,
        });
        let tiers: &[bench::Tier] = match mode {
            Mode::Interp => &[bench::Tier::Interp],
            Mode::Jit => &[bench::Tier::Jit],
            Mode::Both => &[bench::Tier::Interp, bench::Tier::Jit],
        };
        let mut vms = vec![];
        for &tier in tiers {
            let mut flags = cli.vm.clone();
            flags.jit = match (tier, flags.jit) {
                (bench::Tier::Interp, _) => JitFlag::Off,
                (bench::Tier::Jit, JitFlag::Off) => JitFlag::On,
                (bench::Tier::Jit, j) => j,
            };
            let mut vm = load(&flags, BENCH_IMAGE)?;
            console::install(&mut vm)?;
            vms.push((tier, vm));
        }
        let plan = bench::Plan {
            names: names.clone(),
            iterations: (*iterations).max(1),
            inner: *inner,
            smoke: *smoke,
            json: json.clone(),
        };
        let ok = bench::run(&mut vms, &plan)?;
        for (tier, vm) in &vms {
            if cli.vm.stats {
                eprint!("{}: ", tier.label());
                print_stats(vm);
            }
            if cli.vm.jit_stats && *tier == bench::Tier::Jit {
                print_jit_stats(vm, &cli.vm);
            }
        }
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut vm = load(&cli.vm, DEFAULT_IMAGE)?;
    if let Some(Command::Disasm { method, jit }) = &cli.command {
        out!("{}", disasm::method(&vm, method)?);
        if *jit {
            out!("{}", disasm::jit_ir(&vm, method, optimizations(&cli.vm))?);
            out!("{}", disasm::jit_code(&mut vm, method)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let interactive = cli.interactive || (cli.files.is_empty() && cli.eval.is_empty());
    let code = if vm.boots_itself() {
        run_llst_image(&mut vm, &cli, interactive)?
    } else {
        run_own_image(&mut vm, &cli, interactive)?
    };
    if cli.vm.stats {
        print_stats(&vm);
    }
    if cli.vm.jit_stats {
        print_jit_stats(&vm, &cli.vm);
    }
    Ok(code)
}

/// lst's image: the host files in, evaluates and runs the REPL.
fn run_own_image(vm: &mut Vm, cli: &Cli, interactive: bool) -> Result<ExitCode> {
    console::install(vm)?;
    let mut ok = true;
    for file in &cli.files {
        ok &= script::run_file(vm, file)?;
    }
    for expr in &cli.eval {
        ok &= repl::eval_and_print(vm, expr, repl::line_one("-e"))?;
    }
    if interactive {
        repl::run(vm)?;
    }
    vm.flush();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// An LLST image runs its own REPL (`nil main`); files and expressions
/// become its first input lines.
fn run_llst_image(vm: &mut Vm, cli: &Cli, interactive: bool) -> Result<ExitCode> {
    let mut script: Vec<String> = cli
        .files
        .iter()
        .map(|f| {
            format!(
                "File fileIn: {}",
                repl::string_literal(&f.to_string_lossy())
            )
        })
        .collect();
    script.extend(cli.eval.iter().cloned());
    console::install_scripted(vm, script, interactive)?;
    let status = vm.boot().map_err(anyhow::Error::msg)?;
    match status {
        ExitStatus::Returned => outln!("Exited normally"),
        ExitStatus::Error => outln!("User defined return"),
        ExitStatus::TimeExpired => outln!("Execution time expired"),
    }
    if status == ExitStatus::Error {
        vm.flush();
        eprintln!("lst: {}", image_stopped_on_error(vm));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Why an LLST image's own start-up process stopped on an error, in
/// words a user can act on.
fn image_stopped_on_error(vm: &Vm) -> String {
    let what = if vm.understands(vm.nil(), "main") {
        "its start-up method (nil main) raised an error"
    } else {
        "nil does not understand #main (the image has no Undefined>>main, \
         which lst runs to start an LLST image)"
    };
    match vm.last_fatal() {
        Some(why) => format!(
            "the image's error handling failed recursively: {what}, and reporting that \
             failed in turn ({why}); this image may lack a working error: or \
             doesNotUnderstand: method"
        ),
        None => {
            format!("the image's start-up process stopped on an error: {what} (reported above)")
        }
    }
}

fn build_image(dir: &Path, output: &Path, flags: &VmFlags) -> Result<ExitCode> {
    let sources = builder::read_sources(dir, &dir.display().to_string())
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if sources.is_empty() {
        bail!("no .st files in {}", dir.display());
    }
    let mut vm = builder::build(&sources, options(flags)).map_err(|e| anyhow::anyhow!("{e}"))?;
    vm.save_image(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let size = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "lst: wrote {} ({} bytes, {} sources)",
        output.display(),
        size,
        sources.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--jit-stats`: what the JIT compiled, how fast, and how often control
/// crossed between the tiers.
fn print_jit_stats(vm: &Vm, flags: &VmFlags) {
    use lst_vm::jit_runtime::tiering::Level;
    let Some(s) = vm.jit_stats() else {
        eprintln!("jit: off");
        return;
    };
    eprintln!(
        "jit: {} methods compiled, {} declined, {} recompiled optimized once hot",
        s.compiled, s.refused, s.optimized_later
    );
    for (level, name) in [
        (Level::Baseline, "baseline"),
        (Level::Optimized, optimizing_compiler(flags)),
    ] {
        let mut times: Vec<f64> = s
            .compile_times
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, d)| d.as_secs_f64() * 1e6)
            .collect();
        if times.is_empty() {
            continue;
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let total: f64 = times.iter().sum();
        // Only the optimizing compilers make unboxed Float regions.
        let regions = match level {
            Level::Optimized => format!(
                "; {} unboxed Float regions",
                s.unboxed_regions[level as usize]
            ),
            Level::Baseline => String::new(),
        };
        eprintln!(
            "jit: {name}: {} compiled; compile time median {median:.1} µs, max {:.1} µs, total {:.1} ms{regions}",
            times.len(),
            times.last().copied().unwrap_or(0.0),
            total / 1e3,
        );
    }
    eprintln!(
        "jit: {} entries from the interpreter into compiled code, {} exits back",
        s.entries_from_interpreter, s.exits_to_interpreter
    );
    let ic = vm.ic_counts();
    let sends = ic.hits + ic.misses;
    let rate = if sends == 0 {
        0.0
    } else {
        100.0 * ic.hits as f64 / sends as f64
    };
    eprintln!(
        "jit: {} send sites, {} megamorphic; inline caches hit {} of {} sends ({rate:.1}%)",
        ic.sites, ic.megamorphic, ic.hits, sends
    );
    let mut reasons: Vec<_> = s.refusals.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (why, n) in reasons.iter().take(8) {
        eprintln!("jit: declined {n}× ({why})");
    }
    print_inlining_stats(s);
    for line in s.background.lines() {
        eprintln!("jit: {line}");
    }
    print_deopt_stress(vm);
}

/// `--jit-stats`' deopt-stress line, when the stress is on.
fn print_deopt_stress(vm: &Vm) {
    let Some(n) = vm.deopt_stress() else {
        return;
    };
    let c = vm.deopt_stress_counts();
    eprintln!(
        "jit: deopt stress: every {n}. guard fails; {} guard failures forced, {} inlined exits after them (not counted toward deoptimizing)",
        c.forced, c.forced_exits
    );
}

/// `--jit-stats`' inlining lines: sends inlined, invalidations,
/// materializations, then the sends not inlined by reason.
fn print_inlining_stats(s: &lst_vm::jit_runtime::tiering::JitStats) {
    let refused: u64 = s.inline_refusals.values().sum();
    if s.inlined_sends == 0 && refused == 0 {
        return;
    }
    eprintln!(
        "jit: inlining: {} sends inlined, {refused} not; {} units invalidated, {} inlined frames materialized, {} units deoptimized too often",
        s.inlined_sends, s.invalidations, s.materializations, s.deoptimized_too_often
    );
    let mut reasons: Vec<_> = s.inline_refusals.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (why, n) in reasons {
        eprintln!("jit:   not inlined {n:>6}× ({why})");
    }
}

/// The name of the compiler that compiles at the optimized level.
fn optimizing_compiler(flags: &VmFlags) -> &'static str {
    match flags.jit_compiler {
        CompilerFlag::Llvm => "llvm",
        _ if flags.jit_top == Some(TopFlag::Llvm) => "llvm",
        _ => "cranelift",
    }
}

fn print_stats(vm: &Vm) {
    let s = vm.stats;
    let g = vm.heap.stats;
    eprintln!(
        "{} messages sent, cache hits {}, misses {}; {} words allocated, {} collections, {:.1} ms in GC",
        s.sends,
        s.cache_hits,
        s.cache_misses,
        g.allocated_words,
        g.collections,
        g.nanos as f64 / 1e6
    );
}
