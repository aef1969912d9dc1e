//! A fixed set of threads that each take the next job from a shared source and run it.
//! Most of a job's time is spent waiting on MySQL or Redis, so there are several threads.
//! The threads take jobs straight from where they arrive (the NATS subscription) instead of
//! through a queue of our own: every hand-off between threads costs two context switches,
//! and the subscription's bounded queue already pushes back on a flood of jobs.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct JobPool {
    threads: Vec<JoinHandle<()>>,
}

impl JobPool {
    /// Starts `threads` threads (at least one) that each loop: `next()` for a job, then
    /// `work` on it. A thread ends when `next` returns `None`.
    pub fn new<J: 'static>(
        name: &str,
        threads: usize,
        next: impl Fn() -> Option<J> + Send + Sync + 'static,
        work: impl Fn(J) + Send + Sync + 'static,
    ) -> std::io::Result<JobPool> {
        let next: Arc<dyn Fn() -> Option<J> + Send + Sync> = Arc::new(next);
        let work: Arc<dyn Fn(J) + Send + Sync> = Arc::new(work);
        let mut handles = Vec::with_capacity(threads.max(1));
        for i in 0..threads.max(1) {
            let (next, work) = (next.clone(), work.clone());
            // On failure the threads already started end when the caller stops the source.
            handles.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || run(&*next, &*work))?,
            );
        }
        Ok(JobPool { threads: handles })
    }

    /// Waits until every thread has seen the end of the source and finished its job.
    pub fn join(&mut self) {
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn run<J>(next: &(dyn Fn() -> Option<J> + Send + Sync), work: &(dyn Fn(J) + Send + Sync)) {
    while let Some(job) = next() {
        // The handler already turns a function's panic into -1; this keeps the thread
        // alive should anything around it panic too.
        if panic::catch_unwind(AssertUnwindSafe(|| work(job))).is_err() {
            shared::error!("job panicked outside the handler");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{self, Receiver};
    use std::sync::{Barrier, Mutex};

    /// A source like the service's: a shared receiver, `None` once the sender is gone.
    fn source<J: Send + 'static>(receiver: Receiver<J>) -> impl Fn() -> Option<J> + Send + Sync {
        let receiver = Mutex::new(receiver);
        move || receiver.lock().unwrap().recv().ok()
    }

    #[test]
    fn runs_every_job_and_ends_when_the_source_ends() {
        let (sender, receiver) = mpsc::channel();
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        let mut pool = JobPool::new("t", 3, source(receiver), move |n: usize| {
            counter.fetch_add(n, Ordering::SeqCst);
        })
        .unwrap();
        for _ in 0..100 {
            sender.send(1).unwrap();
        }
        drop(sender);
        pool.join();
        assert_eq!(done.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn a_panicking_job_does_not_cost_a_thread() {
        let (sender, receiver) = mpsc::channel();
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        let mut pool = JobPool::new("t", 1, source(receiver), move |fail: bool| {
            assert!(!fail, "job asked to fail");
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        for fail in [true, false, true, false] {
            sender.send(fail).unwrap();
        }
        drop(sender);
        pool.join();
        assert_eq!(
            done.load(Ordering::SeqCst),
            2,
            "the one thread ran the jobs after each panic"
        );
    }

    #[test]
    fn jobs_run_concurrently_up_to_the_thread_count() {
        // Four jobs that each wait for the others: only possible with four threads.
        let (sender, receiver) = mpsc::channel();
        let barrier = Arc::new(Barrier::new(4));
        let b = barrier.clone();
        let mut pool = JobPool::new("t", 4, source(receiver), move |()| {
            b.wait();
        })
        .unwrap();
        for _ in 0..4 {
            sender.send(()).unwrap();
        }
        drop(sender);
        pool.join();
    }

    #[test]
    fn zero_threads_still_starts_one() {
        let (sender, receiver) = mpsc::channel();
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        let mut pool = JobPool::new("t", 0, source(receiver), move |()| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        sender.send(()).unwrap();
        drop(sender);
        pool.join();
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
