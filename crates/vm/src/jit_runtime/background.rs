//! The compile worker: one thread that runs the code generation of
//! optimized compiles while the program goes on (issue 20, item 5).
//!
//! This module owns the worker thread, its job queue and the queue of
//! finished jobs, and the knob that delays each job (for tests that must
//! act while a compile is pending). A job is a [`Codegen`]: a `Send`
//! closure a compiler made on the main thread (see
//! [`Compiler::prepare`](super::boundary::Compiler::prepare)); it answers
//! the machine code as a [`Generated`] that only that compiler can read.
//!
//! The thread lives as long as the [`Worker`] (the tier's) and runs the
//! jobs of one tier only, so a compiler may keep state of its own that is
//! local to the thread (the LLVM back end keeps its worker-side LLVM
//! context there, and the code it made lives until the thread ends).
//!
//! It must not touch the VM or the heap (jobs carry no heap reference),
//! decide what to compile or install anything: the tier (`tiering`) takes
//! finished jobs at its safe points and installs them.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The machine code a job made, in a form only its compiler reads.
pub type Generated = Box<dyn Any + Send>;

/// The code generation of one compile: runs on the worker.
pub type Codegen = Box<dyn FnOnce() -> Result<Generated, String> + Send>;

/// A job the worker finished.
pub struct Done {
    /// The number [`Worker::submit`] answered for it.
    pub id: u64,
    /// The machine code, or why the code generator failed.
    pub result: Result<Generated, String>,
    /// How long the code generation took on the worker (the delay knob
    /// not counted).
    pub codegen: Duration,
}

/// The worker thread's two queues. Dropping it cancels the jobs still
/// queued and waits for the one running, if any: the thread has ended
/// when the drop returns, so no code generator runs on while the process
/// exits (LLVM's static destructors run at exit; a worker still in LLVM
/// then would crash) or after its tier is gone. A program that ends waits
/// for at most one compile it will not use.
pub struct Worker {
    /// `None` once dropped.
    jobs: Option<Sender<(u64, Codegen)>>,
    done: Receiver<Done>,
    next_id: u64,
    cancelled: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker; each job waits `delay` before it runs (zero
    /// but in tests).
    pub fn start(delay: Duration) -> Result<Worker, String> {
        let (jobs, todo) = channel::<(u64, Codegen)>();
        let (finished, done) = channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancelled);
        let thread = std::thread::Builder::new()
            .name("lst-jit-worker".into())
            .spawn(move || work(&todo, &finished, delay, &stop))
            .map_err(|e| format!("cannot start the compile worker: {e}"))?;
        Ok(Worker {
            jobs: Some(jobs),
            done,
            next_id: 1,
            cancelled,
            thread: Some(thread),
        })
    }

    /// Queues `codegen`; its number, or `None` if the worker is gone.
    pub fn submit(&mut self, codegen: Codegen) -> Option<u64> {
        let id = self.next_id;
        self.jobs.as_ref()?.send((id, codegen)).ok()?;
        self.next_id += 1;
        Some(id)
    }

    /// A finished job, if one is waiting.
    pub fn try_finished(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }

    /// The next finished job, waiting for it at most `limit` (`None`:
    /// none finished in time, or the worker is gone).
    pub fn wait_finished(&self, limit: Duration) -> Option<Done> {
        self.done.recv_timeout(limit).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Release);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            // A job's panic was caught in the thread: it ends normally.
            let _ = thread.join();
        }
    }
}

/// The worker's loop: runs jobs in order until the queue closes or the
/// jobs are `cancelled`. A job that panics (a code generator's internal
/// error) fails; the worker goes on.
fn work(
    todo: &Receiver<(u64, Codegen)>,
    finished: &Sender<Done>,
    delay: Duration,
    cancelled: &AtomicBool,
) {
    while let Ok((id, codegen)) = todo.recv() {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if cancelled.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(codegen))
            .unwrap_or_else(|_| Err("the code generator panicked".into()));
        let done = Done {
            id,
            result,
            codegen: started.elapsed(),
        };
        if finished.send(done).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u32) -> Codegen {
        Box::new(move || Ok(Box::new(n) as Generated))
    }

    fn value(d: &Done) -> u32 {
        let r = d.result.as_ref().expect("the job succeeded");
        *r.downcast_ref::<u32>().expect("a u32")
    }

    #[test]
    fn jobs_finish_in_order_with_their_results() {
        let mut w = Worker::start(Duration::ZERO).unwrap();
        let ids: Vec<u64> = (0..3).map(|n| w.submit(job(n)).unwrap()).collect();
        let limit = Duration::from_secs(10);
        let done: Vec<Done> = (0..3).map(|_| w.wait_finished(limit).unwrap()).collect();
        assert_eq!(done.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
        assert_eq!(done.iter().map(value).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn the_caller_goes_on_while_a_job_is_pending() {
        let mut w = Worker::start(Duration::from_millis(200)).unwrap();
        let started = Instant::now();
        w.submit(job(7)).unwrap();
        assert!(w.try_finished().is_none(), "finished before its delay");
        assert!(started.elapsed() < Duration::from_millis(200));
        let d = w.wait_finished(Duration::from_secs(10)).unwrap();
        assert_eq!(value(&d), 7);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn dropping_the_worker_waits_for_the_running_job_and_cancels_the_rest() {
        let ran = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (started, running) = channel();
        let mut w = Worker::start(Duration::ZERO).unwrap();
        for _ in 0..3 {
            let (ran, started) = (Arc::clone(&ran), started.clone());
            w.submit(Box::new(move || {
                let _ = started.send(());
                std::thread::sleep(Duration::from_millis(100));
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(()) as Generated)
            }))
            .unwrap();
        }
        running.recv().unwrap();
        drop(w);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "not just the running job ran"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(ran.load(Ordering::SeqCst), 1, "a cancelled job ran");
    }

    #[test]
    fn a_panicking_job_fails_and_the_worker_goes_on() {
        let mut w = Worker::start(Duration::ZERO).unwrap();
        w.submit(Box::new(|| panic!("an internal error"))).unwrap();
        w.submit(job(3)).unwrap();
        let limit = Duration::from_secs(10);
        let first = w.wait_finished(limit).unwrap();
        assert!(first.result.is_err());
        assert_eq!(value(&w.wait_finished(limit).unwrap()), 3);
    }
}
