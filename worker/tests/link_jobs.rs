//! The worker binary taking jobs down its gate link (gate and worker share a link secret):
//! killed with link jobs in hand, its clients hear -2 as soon as the link closes; stopped
//! with SIGTERM, it answers every job the gate sent it, by link or NATS, and exits 0.

mod support;

use std::time::Duration;

use support::{signal, wait_served, Client, Servers};

const LINK_SECRET: &str = "worker-link-jobs-process-secret";

fn linked_gate(servers: &Servers, job_timeout: Duration) -> gate::Gate {
    let mut options = gate::Options::local(&servers.redis.url(), &servers.nats.url());
    options.job_timeout = job_timeout;
    options.link_secret = shared::contract::LinkSecret::from_config(LINK_SECRET).unwrap();
    gate::Gate::start(options).unwrap()
}

fn register(i: usize) -> serde_json::Value {
    serde_json::json!({"world":"s0","function":"register",
        "data":{"unique_id":format!("linked-{i}"),"account":format!("linked{i}"),"password":"pw-123456"}})
}

#[test]
fn clients_of_a_worker_killed_with_link_jobs_in_hand_hear_at_once() {
    const PLAYERS: usize = 16;
    let servers = Servers::start();
    // Far beyond the clients' read limit: a -2 they get comes from the link closing.
    let mut front = linked_gate(&servers, Duration::from_secs(300));
    let mut doomed = servers.slow_worker(&["--link-secret", LINK_SECRET]);
    // The short job timeout of the probe connection's requests is the gate's: a login
    // sent before the worker subscribed waits it out, so probe through a second gate.
    let mut probe = linked_gate(&servers, Duration::from_millis(1500));
    let mut warm = Client::connect(probe.client_addr(), Duration::from_secs(30));
    wait_served(&mut warm, "warm-up");
    let mut first = Client::connect(front.client_addr(), Duration::from_secs(60));
    wait_served(&mut first, "front");
    let mut players: Vec<Client> = (0..PLAYERS)
        .map(|_| Client::connect(front.client_addr(), Duration::from_secs(60)))
        .collect();
    let sent_before = front.metrics().link_jobs.get();
    for (i, player) in players.iter_mut().enumerate() {
        player.send(&register(i));
    }
    let done = testkit::poll_until(Duration::from_secs(60), || {
        front.metrics().jobs_held.get() >= PLAYERS as i64
    });
    assert!(done.is_some(), "the worker never held every job");
    assert_eq!(
        front.metrics().link_jobs.get() - sent_before,
        PLAYERS as u64,
        "all went down the link (window 32)"
    );
    signal(&doomed.0, libc::SIGKILL);
    doomed.0.wait().unwrap();
    for player in &mut players {
        let answer = player.receive();
        assert_eq!(answer["status"], -2, "{answer}");
    }
    assert_eq!(front.metrics().held_jobs_lost.get(), PLAYERS as u64);
    // The gauge is set at the end of the gate's loop pass, after the answers went out.
    let done = testkit::poll_until(Duration::from_secs(10), || {
        front.metrics().jobs_held.get() == 0
    });
    assert!(done.is_some(), "jobs still counted held");
    probe.stop();
    front.stop();
}

#[test]
fn sigterm_answers_every_job_sent_down_the_link_or_nats_and_exits_0() {
    const PLAYERS: usize = 8;
    let servers = Servers::start();
    let mut front = linked_gate(&servers, Duration::from_secs(300));
    let mut probe = linked_gate(&servers, Duration::from_millis(1500));
    // Four threads: four jobs down the link (its window), four more on NATS, all queued
    // behind password hashes when SIGTERM comes (a debug build hashes slowly: enough
    // iterations to be in hand, few enough to finish within the clients' read limit).
    let mut worker = servers.worker(&[
        "--admin-port",
        "0",
        "--threads",
        "4",
        "--pbkdf2-iterations",
        "200000",
        "--link-secret",
        LINK_SECRET,
    ]);
    let mut warm = Client::connect(probe.client_addr(), Duration::from_secs(30));
    wait_served(&mut warm, "warm-up");
    let mut first = Client::connect(front.client_addr(), Duration::from_secs(60));
    wait_served(&mut first, "front");
    let mut players: Vec<Client> = (0..PLAYERS)
        .map(|_| Client::connect(front.client_addr(), Duration::from_secs(120)))
        .collect();
    let link_before = front.metrics().link_jobs.get();
    for (i, player) in players.iter_mut().enumerate() {
        player.send(&register(i));
    }
    // Every job is out (link or NATS) and the link's window is full.
    let done = testkit::poll_until(Duration::from_secs(60), || {
        front.metrics().jobs_held.get() >= 4
    });
    assert!(done.is_some(), "the worker never held four jobs");
    assert!(front.metrics().link_jobs.get() - link_before >= 1);
    signal(&worker.0, libc::SIGTERM);
    for player in &mut players {
        let answer = player.receive();
        assert!(matches!(answer["status"].as_i64(), Some(0 | 1)), "{answer}");
    }
    let status = worker.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(front.metrics().held_jobs_lost.get(), 0);
    assert_eq!(front.metrics().timeouts.get(), 0);
    probe.stop();
    front.stop();
}
