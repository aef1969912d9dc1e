//! A fixed set of threads fed by a bounded queue. Most of a job's time is spent waiting on
//! MySQL or Redis, so there are many threads; the bound makes a flood of jobs push back on
//! the intake instead of growing memory.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub struct JobPool<J: Send + 'static> {
    sender: Option<SyncSender<J>>,
    threads: Vec<JoinHandle<()>>,
    depth: Arc<AtomicI64>,
}

impl<J: Send + 'static> JobPool<J> {
    /// `threads` workers run `work` on each job; at most `queue` jobs wait.
    pub fn new(
        name: &str,
        threads: usize,
        queue: usize,
        work: impl Fn(J) + Send + Sync + 'static,
    ) -> std::io::Result<JobPool<J>> {
        let (sender, receiver) = mpsc::sync_channel::<J>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let work = Arc::new(work);
        let depth = Arc::new(AtomicI64::new(0));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (receiver, work, depth) = (receiver.clone(), work.clone(), depth.clone());
            handles.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || run(&receiver, &*work, &depth))?,
            );
        }
        Ok(JobPool {
            sender: Some(sender),
            threads: handles,
            depth,
        })
    }

    /// Queues a job, waiting while the queue is full. `Err(job)` after `finish`.
    pub fn submit(&self, job: J) -> Result<(), J> {
        let Some(sender) = &self.sender else {
            return Err(job);
        };
        self.depth.fetch_add(1, Ordering::Relaxed);
        let sent = match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => sender.send(job).map_err(|e| e.0),
            Err(TrySendError::Disconnected(job)) => Err(job),
        };
        if sent.is_err() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Jobs queued and not yet picked up by a thread.
    pub fn depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Stops taking jobs, lets the threads finish every queued one, and waits for them.
    pub fn finish(&mut self) {
        self.sender = None;
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

impl<J: Send + 'static> Drop for JobPool<J> {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run<J>(receiver: &Mutex<Receiver<J>>, work: &(dyn Fn(J) + Send + Sync), depth: &AtomicI64) {
    loop {
        // Hold the lock only while taking a job, never while running it.
        let next = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = next else { return };
        depth.fetch_sub(1, Ordering::Relaxed);
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
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;

    #[test]
    fn runs_every_job_and_finishes_the_queue_before_stopping() {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        let mut pool = JobPool::new("t", 3, 2, move |n: usize| {
            counter.fetch_add(n, Ordering::SeqCst);
        })
        .unwrap();
        for _ in 0..100 {
            pool.submit(1).unwrap();
        }
        pool.finish();
        assert_eq!(done.load(Ordering::SeqCst), 100);
        assert_eq!(pool.submit(1), Err(1), "no jobs after finish");
    }

    #[test]
    fn a_panicking_job_does_not_cost_a_thread() {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        let mut pool = JobPool::new("t", 1, 4, move |fail: bool| {
            assert!(!fail, "job asked to fail");
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        for fail in [true, false, true, false] {
            pool.submit(fail).unwrap();
        }
        pool.finish();
        assert_eq!(
            done.load(Ordering::SeqCst),
            2,
            "the one thread ran the jobs after each panic"
        );
    }

    #[test]
    fn jobs_run_concurrently_up_to_the_thread_count() {
        // Four jobs that each wait for the others: only possible with four threads.
        let barrier = Arc::new(Barrier::new(4));
        let b = barrier.clone();
        let mut pool = JobPool::new("t", 4, 0, move |()| {
            b.wait();
        })
        .unwrap();
        for _ in 0..4 {
            pool.submit(()).unwrap();
        }
        pool.finish();
    }

    #[test]
    fn a_full_queue_blocks_the_submitter_and_depth_counts_waiting_jobs() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let g = gate.clone();
        let pool = Arc::new(
            JobPool::new("t", 1, 2, move |()| {
                drop(g.lock().unwrap());
            })
            .unwrap(),
        );
        pool.submit(()).unwrap(); // taken by the thread, which blocks on the lock
        while pool.depth() != 0 {
            std::thread::yield_now();
        }
        pool.submit(()).unwrap();
        pool.submit(()).unwrap();
        assert_eq!(pool.depth(), 2);
        let p = pool.clone();
        let blocked = std::thread::spawn(move || p.submit(()).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!blocked.is_finished(), "the fourth submit waits for room");
        drop(held);
        assert!(blocked.join().unwrap());
    }
}
