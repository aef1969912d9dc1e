//! A worker process that dies holding a job: the client still gets an answer, the gate's
//! `-2` timeout, within the job timeout, and the next worker serves the next request. A
//! job the worker had taken (its taken notice reached the gate) is answered -2 as soon as
//! the worker's link closes, long before the job timeout.

mod support;

use std::time::{Duration, Instant};

use support::{guest_login, signal, wait_served, wait_stopped, Client, Servers, QUICK};

const JOB_TIMEOUT: Duration = Duration::from_millis(1500);

#[test]
fn a_worker_killed_mid_job_answers_minus_2_within_the_job_timeout() {
    let servers = Servers::start();
    let mut front = servers.gate(JOB_TIMEOUT);
    let mut client = Client::connect(front.client_addr(), Duration::from_secs(30));

    let mut doomed = servers.worker(QUICK);
    wait_served(&mut client, "warm-up");

    // Frozen, it still holds its NATS subscription: the next job is delivered to it and
    // sits in its socket. Then it dies without answering.
    signal(&doomed.0, libc::SIGSTOP);
    wait_stopped(&doomed.0);
    let asked = Instant::now();
    client.send(&guest_login("lost"));
    std::thread::sleep(Duration::from_millis(300));
    signal(&doomed.0, libc::SIGKILL);
    doomed.0.wait().unwrap();

    let answer = client.receive();
    let waited = asked.elapsed();
    assert_eq!(answer["status"], -2, "{answer}");
    assert_eq!(answer["message"], "request timed out");
    assert!(
        waited >= JOB_TIMEOUT - Duration::from_millis(100),
        "answered after {waited:?}: the timeout came from nowhere"
    );
    assert!(
        waited < JOB_TIMEOUT + Duration::from_secs(5),
        "the client waited {waited:?}, far past the job timeout"
    );

    // A new worker takes over; the same connection keeps working.
    let mut successor = servers.worker(QUICK);
    wait_served(&mut client, "after");
    signal(&successor.0, libc::SIGTERM);
    successor.0.wait().unwrap();
    front.stop();
}

#[test]
fn clients_of_a_killed_worker_are_answered_when_its_link_closes() {
    const PLAYERS: usize = 16;
    let servers = Servers::start();
    // Far beyond the clients' read limit: a -2 they get comes from the link closing.
    let mut front = servers.gate(Duration::from_secs(300));
    // A second gate with a short timeout tells when the worker serves (a job sent before
    // its subscription would wait out the long timeout at the first gate).
    let mut probe = servers.gate(JOB_TIMEOUT);
    // Each registration hashes its password for seconds: the jobs are in hand when the
    // worker dies.
    let mut doomed = servers.slow_worker(&[]);
    let mut warm = Client::connect(probe.client_addr(), Duration::from_secs(30));
    wait_served(&mut warm, "warm-up");
    let mut players: Vec<Client> = (0..PLAYERS)
        .map(|_| Client::connect(front.client_addr(), Duration::from_secs(60)))
        .collect();
    for (i, player) in players.iter_mut().enumerate() {
        player.send(&serde_json::json!({"world":"s0","function":"register",
            "data":{"unique_id":format!("slow-{i}"),"account":format!("slow{i}"),"password":"pw-123456"}}));
    }
    // Every job is taken once the gate holds all of them against the worker's link.
    let done = testkit::poll_until(Duration::from_secs(60), || {
        front.metrics().jobs_held.get() >= PLAYERS as i64
    });
    assert!(done.is_some(), "the worker never took every job");
    signal(&doomed.0, libc::SIGKILL);
    let killed = Instant::now();
    doomed.0.wait().unwrap();
    let mut slowest = Duration::ZERO;
    for player in &mut players {
        let answer = player.receive();
        slowest = slowest.max(killed.elapsed());
        assert_eq!(answer["status"], -2, "{answer}");
    }
    eprintln!("SIGKILL -> -2 for all {PLAYERS} players: {slowest:?} (job timeout 300 s)");
    assert_eq!(front.metrics().held_jobs_lost.get(), PLAYERS as u64);
    assert_eq!(front.metrics().jobs_held.get(), 0);
    probe.stop();
    front.stop();
}
