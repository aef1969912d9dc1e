//! The stand-in worker of the gate's tests and benchmark: answers jobs by the real
//! protocols, without the game. It takes jobs from NATS (queue group `workers`) and, when
//! given the link secret, also from its links: once a job says `l=1`, its link to that
//! gate proves the secret and offers `jobs <window>`, and a reader takes the job lines the
//! gate sends down it. Answers go back on the link to the job's gate (`g=` ->
//! `gates.id.<gid>`, cached), the same connection for NATS and link jobs.
//!
//! Threads: one for NATS, one reader per link that offered. Dropping it stops them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use shared::contract::{self, Job, LinkSecret};
use shared::nats::{Client, NatsError, Options};
use shared::redis_conn::RedisPool;

/// Makes a job's answer JSON (`name` is the stand-in's).
pub type Respond = fn(&Job<'_>, &str) -> String;

pub struct StandInOptions {
    pub name: &'static str,
    /// How long each batch of jobs waits before its answers.
    pub delay: Duration,
    pub respond: Respond,
    /// Prove the link secret, and take up to this many link jobs at once (0: none, as a
    /// worker from before link jobs).
    pub link: Option<(LinkSecret, u32)>,
}

/// A running stand-in worker.
pub struct StandIn {
    stop: Arc<AtomicBool>,
    /// Jobs answered (written to their gate).
    pub answered: Arc<AtomicU64>,
    /// Of those, the jobs that came down a link.
    pub link_jobs: Arc<AtomicU64>,
    links: Arc<Links>,
    thread: Option<JoinHandle<()>>,
}

/// The links to the gates, by gid, and what the stand-in shares between its threads.
struct Links {
    redis: RedisPool,
    options: StandInOptions,
    gates: Mutex<HashMap<u32, Arc<Mutex<TcpStream>>>>,
    readers: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
    answered: Arc<AtomicU64>,
    link_jobs: Arc<AtomicU64>,
}

impl StandIn {
    pub fn start(nats_url: &str, redis_url: &str, options: StandInOptions) -> StandIn {
        let client = Client::connect(nats_url, Options::named(options.name)).unwrap();
        let jobs = client
            .subscribe(contract::JOBS_SUBJECT, Some(contract::WORKERS_QUEUE))
            .unwrap();
        client.flush(Duration::from_secs(5)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let link_jobs = Arc::new(AtomicU64::new(0));
        let links = Arc::new(Links {
            redis: RedisPool::new(redis_url, 1).unwrap(),
            options,
            gates: Mutex::new(HashMap::new()),
            readers: Mutex::new(Vec::new()),
            answered: answered.clone(),
            link_jobs: link_jobs.clone(),
        });
        let (stop2, links2) = (stop.clone(), links.clone());
        let thread = std::thread::spawn(move || {
            let _client = client;
            while !stop2.load(Ordering::SeqCst) {
                let first = match jobs.recv_timeout(Duration::from_millis(20)) {
                    Ok(m) => m,
                    Err(NatsError::Timeout) => continue,
                    Err(_) => return,
                };
                let mut batch = vec![first];
                while let Ok(Some(m)) = jobs.try_recv() {
                    batch.push(m);
                }
                let payloads: Vec<Vec<u8>> = batch.into_iter().map(|m| m.payload).collect();
                links2.answer_batch(&payloads, false);
            }
        });
        StandIn {
            stop,
            answered,
            link_jobs,
            links,
            thread: Some(thread),
        }
    }

    /// Links that offered to take jobs and are still read.
    pub fn links_taking_jobs(&self) -> usize {
        let readers = self.links.readers.lock().unwrap();
        readers.iter().filter(|(_, t)| !t.is_finished()).count()
    }

    /// Says `jobs 0` on every link that offered (a stopping worker).
    pub fn stop_taking(&self) {
        let gates = self.links.gates.lock().unwrap();
        for stream in gates.values() {
            let mut line = Vec::new();
            contract::encode_link_jobs(&mut line, 0);
            let _ = stream.lock().unwrap().write_all(&line);
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let readers = std::mem::take(&mut *self.links.readers.lock().unwrap());
        for (stream, thread) in readers {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            let _ = thread.join();
        }
    }
}

impl Links {
    /// Answers the jobs of one batch, in reverse order (so the gate's reordering is
    /// exercised), after the configured delay: one write per gate.
    fn answer_batch(self: &Arc<Links>, payloads: &[Vec<u8>], via_link: bool) {
        std::thread::sleep(self.options.delay);
        // Per gate: whether it sends link jobs, the answer lines, how many.
        let mut out: HashMap<u32, (bool, Vec<u8>, u64)> = HashMap::new();
        for payload in payloads.iter().rev() {
            let job = contract::parse_job(payload).unwrap();
            let Some(gid) = job.header.gate else {
                continue;
            };
            let response = (self.options.respond)(&job, self.options.name);
            let entry = out.entry(gid).or_default();
            entry.0 |= job.header.link_jobs;
            contract::encode_answer(&mut entry.1, job.jid, &response);
            entry.2 += 1;
        }
        for (gid, (gate_offers, lines, count)) in out {
            if self.write(gid, gate_offers, &lines) {
                self.answered.fetch_add(count, Ordering::SeqCst);
                if via_link {
                    self.link_jobs.fetch_add(count, Ordering::SeqCst);
                }
            }
        }
    }

    /// Writes to gate `gid`'s link, opening it (and offering to take jobs when the gate
    /// sends them and this stand-in takes them) if needed; one retry on a new connection.
    fn write(self: &Arc<Links>, gid: u32, gate_offers: bool, bytes: &[u8]) -> bool {
        for _ in 0..2 {
            let open = self.gates.lock().unwrap().get(&gid).cloned();
            let stream = match open {
                Some(s) => s,
                None => match self.connect(gid, gate_offers) {
                    Some(s) => s,
                    None => return false,
                },
            };
            if stream.lock().unwrap().write_all(bytes).is_ok() {
                return true;
            }
            self.gates.lock().unwrap().remove(&gid);
        }
        false
    }

    fn connect(self: &Arc<Links>, gid: u32, gate_offers: bool) -> Option<Arc<Mutex<TcpStream>>> {
        let addr: Option<String> = self
            .redis
            .run(|c| redis::cmd("GET").arg(contract::gate_key(gid)).query(c))
            .ok()?;
        let stream = TcpStream::connect(addr?).ok()?;
        stream.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if let Some((secret, window)) = &self.options.link {
            let gate_offers = gate_offers && *window > 0;
            let mut challenge = String::new();
            reader.read_line(&mut challenge).ok()?;
            let nonce = contract::parse_link_challenge(challenge.trim_end()).ok()?;
            let mut opening = Vec::new();
            contract::encode_link_proof(&mut opening, secret, &nonce);
            if gate_offers {
                contract::encode_link_jobs(&mut opening, *window);
            }
            (&stream).write_all(&opening).ok()?;
            if gate_offers {
                let links = self.clone();
                let thread = std::thread::spawn(move || links.read_jobs(reader));
                let handle = stream.try_clone().unwrap();
                self.readers.lock().unwrap().push((handle, thread));
            }
        }
        let stream = Arc::new(Mutex::new(stream));
        self.gates.lock().unwrap().insert(gid, stream.clone());
        Some(stream)
    }

    /// Takes the job lines a gate sends down a link, a read's worth at a time.
    fn read_jobs(self: Arc<Links>, mut reader: BufReader<TcpStream>) {
        loop {
            let mut batch = Vec::new();
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => {
                        self.answer_batch(&batch, true);
                        return;
                    }
                    Ok(_) => {
                        assert!(line.ends_with(b"\r\n"), "a link job ends in CRLF");
                        line.truncate(line.len() - 2);
                        batch.push(line);
                    }
                }
                if reader.buffer().is_empty() {
                    break;
                }
            }
            self.answer_batch(&batch, true);
        }
    }
}
