//! The per-service NATS users of shared::grants on a real `nats-server` (testkit's secured
//! server): who may read jobs, who may publish what, and how refusals surface.

use std::time::{Duration, Instant};

use shared::contract::{CHAT_EVENTS_SUBJECT, JOBS_SUBJECT, WORKERS_QUEUE};
use shared::nats::{Client, NatsError, Options};
use testkit::Nats;

const WAIT: Duration = Duration::from_secs(10);
/// How long a message that should not arrive is waited for.
const QUIET: Duration = Duration::from_millis(300);

fn connect_as(nats: &Nats, service: &str) -> Client {
    Client::connect(&nats.url_as(service), Options::named(service))
        .unwrap_or_else(|e| panic!("{service} connects: {e}"))
}

/// Subscribes and returns how the subscription ended: refusals must come back as an error
/// within the wait, not as a silent subscription that never receives.
fn refused(client: &Client, subject: &str, queue: Option<&str>) -> NatsError {
    let started = Instant::now();
    let sub = client.subscribe(subject, queue).unwrap();
    let _ = client.flush(WAIT);
    let err = sub
        .recv_timeout(WAIT)
        .expect_err("a refused subscription receives nothing");
    eprintln!(
        "{subject} {queue:?}: refused after {:?}: {err}",
        started.elapsed()
    );
    assert!(sub.refused().is_some());
    err
}

#[test]
fn a_client_without_credentials_or_with_a_wrong_password_is_refused() {
    let nats = Nats::start_secured();
    match Client::connect(&nats.url(), Options::named("anonymous")) {
        Err(NatsError::NotAuthorized(text)) => assert!(text.contains("Authorization")),
        Err(other) => panic!("expected NotAuthorized, got {other}"),
        Ok(_) => panic!("an anonymous client connected to the secured server"),
    }
    let wrong = format!("nats://worker:not-the-password@127.0.0.1:{}", nats.port);
    let err = Client::connect(&wrong, Options::named("worker")).err();
    assert!(matches!(err, Some(NatsError::NotAuthorized(_))), "{err:?}");
    assert!(!err.unwrap().to_string().contains("not-the-password"));
}

#[test]
fn only_the_worker_reads_jobs_and_only_in_its_queue_group() {
    let nats = Nats::start_secured();
    let edge = connect_as(&nats, "edge");
    let gate = connect_as(&nats, "gate");
    let worker = connect_as(&nats, "worker");
    for (client, queue) in [
        (&edge, None),
        (&edge, Some(WORKERS_QUEUE)),
        (&gate, None),
        (&gate, Some(WORKERS_QUEUE)),
        (&worker, None),
        (&worker, Some("other")),
    ] {
        let err = refused(client, JOBS_SUBJECT, queue);
        assert!(
            matches!(&err, NatsError::PermissionDenied(t) if t.contains("\"jobs\"")),
            "{err}"
        );
    }
    // The refused SUBs did not break the connections: the worker's own subscription gets
    // the gate's job, and an edge wildcard on everything is refused too.
    let jobs = worker.subscribe(JOBS_SUBJECT, Some(WORKERS_QUEUE)).unwrap();
    worker.flush(WAIT).unwrap();
    assert!(matches!(
        refused(&edge, ">", None),
        NatsError::PermissionDenied(_)
    ));
    gate.publish(JOBS_SUBJECT, b"job-1").unwrap();
    gate.flush(WAIT).unwrap();
    assert_eq!(jobs.recv_timeout(WAIT).unwrap().payload, b"job-1");
    assert_eq!(edge.permission_violations(), 3);
    assert_eq!(worker.permission_violations(), 2);
}

#[test]
fn publishing_outside_the_grants_is_refused_and_counted() {
    let nats = Nats::start_secured();
    let (gate, worker) = (connect_as(&nats, "gate"), connect_as(&nats, "worker"));
    let (edge_a, edge_b) = (connect_as(&nats, "edge"), connect_as(&nats, "edge"));
    let events = edge_b.subscribe(CHAT_EVENTS_SUBJECT, None).unwrap();
    let public = edge_b.subscribe("chat.s0.public", None).unwrap();
    let jobs = worker.subscribe(JOBS_SUBJECT, Some(WORKERS_QUEUE)).unwrap();
    edge_b.flush(WAIT).unwrap();
    worker.flush(WAIT).unwrap();

    // Forged chat events and jobs from an edge, chat from the gate: none arrives.
    edge_a
        .publish(CHAT_EVENTS_SUBJECT, b"renamed s0 p forged")
        .unwrap();
    edge_a.publish(JOBS_SUBJECT, b"forged job").unwrap();
    gate.publish("chat.s0.public", b"gate chat").unwrap();
    worker.publish(JOBS_SUBJECT, b"worker job").unwrap();
    for c in [&edge_a, &gate, &worker] {
        c.flush(WAIT).unwrap();
    }
    assert!(matches!(
        events.recv_timeout(QUIET),
        Err(NatsError::Timeout)
    ));
    assert!(matches!(
        public.recv_timeout(QUIET),
        Err(NatsError::Timeout)
    ));
    assert!(matches!(jobs.recv_timeout(QUIET), Err(NatsError::Timeout)));
    assert_eq!(edge_a.permission_violations(), 2);
    assert_eq!(gate.permission_violations(), 1);
    assert_eq!(worker.permission_violations(), 1);

    // What each may do still works: edge to edge chat, the worker's chat events.
    edge_a.publish("chat.s0.public", b"hello").unwrap();
    edge_a.publish("chat.s0.family.f1", b"family").unwrap();
    worker
        .publish(CHAT_EVENTS_SUBJECT, b"left s0 p f1")
        .unwrap();
    assert_eq!(public.recv_timeout(WAIT).unwrap().payload, b"hello");
    assert_eq!(events.recv_timeout(WAIT).unwrap().payload, b"left s0 p f1");
    edge_a.flush(WAIT).unwrap();
    assert_eq!(edge_a.permission_violations(), 2);
}

#[test]
fn an_open_server_still_takes_anonymous_clients() {
    // The default testkit server (and so every other test) has no users.
    let nats = Nats::start();
    let client = Client::connect(&nats.url(), Options::named("anonymous")).unwrap();
    let sub = client.subscribe(JOBS_SUBJECT, None).unwrap();
    client.publish(JOBS_SUBJECT, b"x").unwrap();
    assert_eq!(sub.recv_timeout(WAIT).unwrap().payload, b"x");
    assert_eq!(client.permission_violations(), 0);
}
