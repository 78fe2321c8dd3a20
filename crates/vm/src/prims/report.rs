//! The guard against errors raised while an error is being reported.
//!
//! `Object>>error:` and `Object>>doesNotUnderstand:` tell the VM when they
//! begin (and `doesNotUnderstand:` when its `error:` returned, which only an
//! overriding `error:` does). A second report begun in the same process run
//! while one is under way (a failing `printString` of the receiver, a
//! broken `printLine`, an `error:` that itself fails) would recurse without
//! end, each level printing a longer backtrace; instead the process stops
//! with one short line naming both errors.
//!
//! The reports under way belong to the run that began them and end with it
//! (see [`Vm::end_error_reports`]).

use super::{Args, PrimResult};
use crate::interp::Trap;
use crate::vm::Vm;

/// Longest part of a message the fallback line quotes.
const QUOTED_CHARS: usize = 200;

/// What began a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// `doesNotUnderstand:` describing the receiver, before its `error:`.
    Describing,
    /// `error:` printing the message and backtrace (it never returns).
    Reporting,
}

/// A report under way.
#[derive(Clone, Debug)]
pub(crate) struct ErrorReport {
    /// `Vm::runs.len()` when it began: the run it belongs to.
    run: usize,
    stage: Stage,
    /// What is being reported (shortened).
    text: String,
}

impl Vm {
    /// The reports under way in the running process.
    fn reports_of_this_run(&self) -> impl Iterator<Item = &ErrorReport> {
        let run = self.runs.len();
        self.error_reports.iter().filter(move |r| r.run == run)
    }

    /// Begins a report, or stops the process if that would recurse.
    fn begin_report(&mut self, stage: Stage, text: String) -> PrimResult {
        if self.runs.is_empty() {
            return Ok(None);
        }
        // One line, however many the message has.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let clash = match stage {
            Stage::Describing => self.reports_of_this_run().next().is_some(),
            Stage::Reporting => self
                .reports_of_this_run()
                .any(|r| r.stage == Stage::Reporting),
        };
        if clash {
            let first = self.reports_of_this_run().next().map_or("", |r| &r.text);
            return Err(Trap::Fatal(format!(
                "error while reporting an error: {text} (the error being reported: {first}); the process is stopped"
            )));
        }
        let run = self.runs.len();
        self.error_reports.push(ErrorReport { run, stage, text });
        // Failure: the method goes on to report.
        Ok(None)
    }

    /// Forgets the reports of runs that have ended (the run count is now
    /// `self.runs.len()`).
    pub(crate) fn end_error_reports(&mut self) {
        let live = self.runs.len();
        self.error_reports.retain(|r| r.run <= live);
    }
}

/// 125: `<125 message>`, at the start of `Object>>error:`: fails (the
/// method reports) unless a report is already under way.
pub fn begin_error(vm: &mut Vm, a: Args) -> PrimResult {
    let message = a.get(vm, 0);
    let text = if message.is_ref() && vm.heap.is_bytes(message) {
        vm.text_of(message)
    } else {
        vm.describe(message)
    };
    vm.begin_report(
        Stage::Reporting,
        crate::debug::shortened(&text, QUOTED_CHARS, "characters"),
    )
}

/// 126: `<126 receiver selector>`, at the start of
/// `Object>>doesNotUnderstand:`: fails (the method describes the receiver
/// and sends `error:`) unless a report is already under way.
pub fn begin_not_understood(vm: &mut Vm, a: Args) -> PrimResult {
    let (receiver, selector) = (a.get(vm, 0), a.get(vm, 1));
    let text = format!(
        "{} does not understand #{}",
        vm.describe_short(receiver),
        crate::debug::shortened(&vm.text_of(selector), QUOTED_CHARS, "characters")
    );
    vm.begin_report(Stage::Describing, text)
}

/// 127: `<127 receiver>`, after `doesNotUnderstand:`'s `error:` returned
/// (an overriding `error:` may): ends its report; answers the receiver.
pub fn end_not_understood(vm: &mut Vm, a: Args) -> PrimResult {
    let run = vm.runs.len();
    let at = vm
        .error_reports
        .iter()
        .rposition(|r| r.run == run && r.stage == Stage::Describing);
    match at {
        Some(i) if run > 0 => {
            vm.error_reports.remove(i);
            Ok(Some(a.get(vm, 0)))
        }
        _ => Ok(None),
    }
}
