//! `lst bench`: runs the Are We Fast Yet ports (`bench/awfy/`) and the
//! micro benchmarks (`bench/micro/`) on the embedded benchmark image,
//! times every outer iteration, checks every result, and prints a table
//! (median, min, max; a rate for the micro benchmarks) or writes the raw
//! times as JSON.
//!
//! Timing is done here, around one top-level run of
//! `benchmark innerBenchmarkLoop: inner` per outer iteration; the
//! benchmark itself checks its result and a wrong one fails the run.

use anyhow::{Context as _, Result, bail};
use lst_vm::Vm;
use lst_vm::link::Origin;
use lst_vm::session::Evaluation;
use lst_vm::value::Value;
use std::io::Write;
use std::time::Instant;

/// How to run the benchmarks.
pub struct Plan {
    pub names: Vec<String>,
    pub iterations: usize,
    pub inner: Option<i64>,
    /// Use each benchmark's smallest checked inner count.
    pub smoke: bool,
    pub json: Option<std::path::PathBuf>,
}

/// How a VM executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Interp,
    Jit,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::Interp => "interp",
            Tier::Jit => "jit",
        }
    }
}

/// One benchmark's measurements.
struct Measured {
    tier: Tier,
    name: String,
    suite: &'static str,
    inner: i64,
    times_us: Vec<f64>,
    sends: u64,
    rate: Option<(f64, String)>,
}

const ORIGIN: Origin = Origin {
    label: "bench",
    first_line: 1,
};

fn evaluate(vm: &mut Vm, source: &str) -> Result<Value> {
    match vm.evaluate(source, ORIGIN).map_err(anyhow::Error::msg)? {
        Evaluation::Value(v) => Ok(v),
        Evaluation::CompileError(d) => bail!("{source}: {d}"),
        Evaluation::Failed => bail!("{source}: stopped on a Smalltalk error (reported above)"),
    }
}

fn strings(vm: &mut Vm, source: &str) -> Result<Vec<String>> {
    let array = evaluate(vm, source)?;
    Ok((0..vm.heap.size(array))
        .map(|i| vm.text_of(vm.heap.slots(array)[i]))
        .collect())
}

fn int(vm: &mut Vm, source: &str) -> Result<i64> {
    evaluate(vm, source)?
        .as_int()
        .with_context(|| format!("{source}: not a SmallInt"))
}

/// Every benchmark the image knows: (name, suite, class).
fn catalogue(vm: &mut Vm) -> Result<Vec<(String, &'static str, String)>> {
    let mut all = vec![];
    for n in strings(vm, "AwfyRun benchmarkNames")? {
        all.push((n.clone(), "awfy", format!("Awfy{n}")));
    }
    for n in strings(vm, "MicroRun benchmarkNames")? {
        all.push((n.clone(), "micro", format!("Micro{n}")));
    }
    Ok(all)
}

/// Runs the plan on each VM (one per tier; each benchmark runs on all of
/// them before the next, so that drift in the machine's speed hits the
/// tiers alike); answers false if a result check failed.
pub fn run(vms: &mut [(Tier, Vm)], plan: &Plan) -> Result<bool> {
    let catalogue = catalogue(&mut vms[0].1)?;
    let chosen: Vec<_> = if plan.names.is_empty() {
        catalogue.clone()
    } else {
        plan.names
            .iter()
            .map(|n| {
                catalogue
                    .iter()
                    .find(|(name, ..)| name.eq_ignore_ascii_case(n))
                    .cloned()
                    .with_context(|| {
                        let known: Vec<&str> = catalogue.iter().map(|c| c.0.as_str()).collect();
                        format!("no benchmark {n}; known: {}", known.join(" "))
                    })
            })
            .collect::<Result<_>>()?
    };
    // Open the JSON file first: a path that cannot be written is an error
    // now, not after every benchmark has run.
    let json = match &plan.json {
        Some(path) => Some((
            path,
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };
    let mut results = vec![];
    let mut ok = true;
    for (name, suite, class) in &chosen {
        for (tier, vm) in vms.iter_mut() {
            match measure(vm, *tier, plan, name, suite, class)? {
                Some(m) => results.push(m),
                None => ok = false,
            }
        }
    }
    progress::clear();
    for (tier, _) in vms.iter() {
        let of_tier: Vec<&Measured> = results.iter().filter(|m| m.tier == *tier).collect();
        print_table(&of_tier, plan.iterations, *tier);
    }
    if vms.len() > 1 {
        print_ratios(&results);
    }
    if let Some((path, file)) = json {
        write_json(path, file, &results)?;
    }
    Ok(ok)
}

fn measure(
    vm: &mut Vm,
    tier: Tier,
    plan: &Plan,
    name: &str,
    suite: &'static str,
    class: &str,
) -> Result<Option<Measured>> {
    let inner = match plan.inner {
        Some(n) => n,
        None if suite == "micro" => 1,
        None if plan.smoke => int(vm, &format!("AwfyRun smokeInnerIterationsFor: '{name}'"))?,
        None => int(vm, &format!("AwfyRun defaultInnerIterationsFor: '{name}'"))?,
    };
    let instance = evaluate(vm, &format!("{class} new"))?;
    vm.set_global("LstBenchmark", instance)
        .map_err(anyhow::Error::msg)?;
    let method = vm
        .compile_doit(&format!("LstBenchmark innerBenchmarkLoop: {inner}"), ORIGIN)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let h = vm.heap.push_handle(method);
    let mut times = vec![];
    let sends_before = vm.stats.sends;
    for i in 0..plan.iterations {
        progress::show(&format!(
            "{name} ({}): iteration {}/{}",
            tier.label(),
            i + 1,
            plan.iterations
        ));
        let method = vm.heap.handle(h);
        let nil = vm.nil();
        let start = Instant::now();
        let r = vm.run_method(method, &[nil]).map_err(anyhow::Error::msg)?;
        let elapsed = start.elapsed().as_secs_f64() * 1e6;
        if r != Some(vm.boolean(true)) {
            vm.heap.release_handles(h);
            progress::clear();
            eprintln!(
                "{name}: result check FAILED (inner {inner}, iteration {})",
                i + 1
            );
            return Ok(None);
        }
        times.push(elapsed);
    }
    vm.heap.release_handles(h);
    let sends = (vm.stats.sends - sends_before) / plan.iterations.max(1) as u64;
    let rate = if suite == "micro" {
        let ops = int(vm, &format!("{class} new operations"))? as f64 * inner as f64;
        let unit = evaluate(vm, &format!("{class} new unit"))?;
        let unit = vm
            .print_string(unit)
            .map_err(anyhow::Error::msg)?
            .unwrap_or_default();
        Some((ops / (median(&times) / 1e6), unit))
    } else {
        None
    };
    Ok(Some(Measured {
        tier,
        name: name.to_string(),
        suite,
        inner,
        times_us: times,
        sends,
        rate,
    }))
}

fn median(times: &[f64]) -> f64 {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    match t.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => t[n / 2],
        n => (t[n / 2 - 1] + t[n / 2]) / 2.0,
    }
}

fn print_table(results: &[&Measured], iterations: usize, tier: Tier) {
    outln!(
        "{:<22} {:>7} {:>11} {:>11} {:>11} {:>13} {:>24}",
        "benchmark",
        "inner",
        "median ms",
        "min ms",
        "max ms",
        "sends/iter",
        "rate (median)"
    );
    for m in results {
        let min = m.times_us.iter().copied().fold(f64::INFINITY, f64::min);
        let max = m.times_us.iter().copied().fold(0.0, f64::max);
        let rate = m
            .rate
            .as_ref()
            .map_or(String::new(), |(r, unit)| format!("{:.3e} {unit}/s", r));
        outln!(
            "{:<22} {:>7} {:>11.3} {:>11.3} {:>11.3} {:>13} {:>24}",
            format!("{} {}", m.suite, m.name),
            m.inner,
            median(&m.times_us) / 1e3,
            min / 1e3,
            max / 1e3,
            m.sends,
            rate
        );
    }
    outln!("({iterations} iterations each; mode {})\n", tier.label());
}

/// Interpreter time / JIT time per benchmark, from the same run, and their
/// geometric mean.
fn print_ratios(results: &[Measured]) {
    outln!("{:<22} {:>14}", "benchmark", "interp/jit");
    let mut logs = vec![];
    for i in results.iter().filter(|m| m.tier == Tier::Interp) {
        let Some(j) = results
            .iter()
            .find(|m| m.tier == Tier::Jit && m.name == i.name)
        else {
            continue;
        };
        let ratio = median(&i.times_us) / median(&j.times_us);
        logs.push(ratio.ln());
        outln!("{:<22} {:>13.2}×", format!("{} {}", i.suite, i.name), ratio);
    }
    if !logs.is_empty() {
        let geomean = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
        outln!("{:<22} {:>13.2}×", "geometric mean", geomean);
    }
}

fn write_json(path: &std::path::Path, mut file: std::fs::File, results: &[Measured]) -> Result<()> {
    let benchmarks: Vec<serde_json::Value> = results
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "suite": m.suite,
                "mode": m.tier.label(),
                "inner": m.inner,
                "times_us": m.times_us,
                "median_us": median(&m.times_us),
                "sends_per_iteration": m.sends,
            })
        })
        .collect();
    let doc = serde_json::json!({ "lst": env!("CARGO_PKG_VERSION"), "benchmarks": benchmarks });
    file.write_all(serde_json::to_string_pretty(&doc)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The one-line progress report on stderr, rewritten in place; only on a
/// terminal (elsewhere control codes would end up in a log file).
mod progress {
    use std::io::{IsTerminal, Write};

    /// Replaces the progress line with `text`.
    pub fn show(text: &str) {
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let _ = write!(err, "\r\x1b[K{text}");
            let _ = err.flush();
        }
    }

    /// Erases the progress line.
    pub fn clear() {
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let _ = write!(err, "\r\x1b[K");
        }
    }
}
