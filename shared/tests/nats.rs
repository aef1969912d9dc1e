//! The NATS client against a real `nats-server` (testkit).

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use shared::nats::{Client, Msg, NatsError, Options};
use testkit::Nats;

const WAIT: Duration = Duration::from_secs(10);

fn connect(nats: &Nats) -> Client {
    Client::connect(&nats.url(), Options::named("test")).expect("connect to nats-server")
}

fn wait_until(timeout: Duration, done: impl FnMut() -> bool) -> bool {
    testkit::poll_until(timeout, done).is_some()
}

fn recv(sub: &shared::nats::Subscription) -> Msg {
    sub.recv_timeout(WAIT).expect("message within the wait")
}

#[test]
fn publish_and_subscribe_round_trip() {
    let nats = Nats::start();
    let publisher = connect(&nats);
    let subscriber = connect(&nats);
    let sub = subscriber.subscribe("chat.s0.public", None).unwrap();
    subscriber.flush(WAIT).unwrap();

    publisher
        .publish("chat.s0.public", b"hello \r\n world")
        .unwrap();
    publisher
        .publish_with_reply("chat.s0.public", "_INBOX.r1", b"")
        .unwrap();

    let first = recv(&sub);
    assert_eq!(first.subject, "chat.s0.public");
    assert_eq!(first.payload, b"hello \r\n world");
    assert_eq!(first.reply, None);
    assert_eq!(first.sid, sub.sid());
    let second = recv(&sub);
    assert_eq!(second.reply.as_deref(), Some("_INBOX.r1"));
    assert!(second.payload.is_empty());
    assert!(publisher.is_connected());
    assert_eq!(sub.try_recv().unwrap(), None);
}

#[test]
fn queue_group_delivers_each_message_to_exactly_one_member() {
    let nats = Nats::start();
    let gate = connect(&nats);
    let worker_a = connect(&nats);
    let worker_b = connect(&nats);
    let a = worker_a.subscribe("jobs", Some("workers")).unwrap();
    let b = worker_b.subscribe("jobs", Some("workers")).unwrap();
    worker_a.flush(WAIT).unwrap();
    worker_b.flush(WAIT).unwrap();

    let total = 400;
    for i in 0..total {
        gate.publish("jobs", format!("job-{i}").as_bytes()).unwrap();
    }
    gate.flush(WAIT).unwrap();
    worker_a.flush(WAIT).unwrap();
    worker_b.flush(WAIT).unwrap();

    // After the gate's flush the server has routed every job; each worker's flush then
    // returns only after what the server sent it before the PONG is queued.
    let mut seen = HashSet::new();
    let mut drain = |sub: &shared::nats::Subscription| {
        let mut count = 0;
        while let Some(msg) = sub.try_recv().unwrap() {
            let text = String::from_utf8(msg.payload).unwrap();
            assert!(seen.insert(text.clone()), "{text} delivered twice");
            count += 1;
        }
        count
    };
    let got_a = drain(&a);
    let got_b = drain(&b);
    assert_eq!(seen.len(), total);
    assert_eq!(got_a + got_b, total);
    assert!(got_a > 0 && got_b > 0, "a got {got_a}, b got {got_b}");
}

#[test]
fn unsubscribe_stops_delivery() {
    let nats = Nats::start();
    let client = connect(&nats);
    let stays = client.subscribe("news", None).unwrap();
    let leaves = client.subscribe("news", None).unwrap();
    let dropped = client.subscribe("news", None).unwrap();
    client.publish("news", b"one").unwrap();
    client.flush(WAIT).unwrap();
    assert_eq!(recv(&leaves).payload, b"one");
    assert_eq!(recv(&dropped).payload, b"one");

    leaves.unsubscribe();
    leaves.unsubscribe(); // idempotent
    drop(dropped);
    client.publish("news", b"two").unwrap();
    client.flush(WAIT).unwrap();

    assert_eq!(recv(&stays).payload, b"one");
    assert_eq!(recv(&stays).payload, b"two");
    assert!(matches!(leaves.try_recv(), Err(NatsError::Closed)));
    assert!(matches!(leaves.recv(), Err(NatsError::Closed)));
}

#[test]
fn wildcard_subscriptions_match_tokens() {
    let nats = Nats::start();
    let client = connect(&nats);
    let any_world = client.subscribe("chat.*.public", None).unwrap();
    let everything_chat = client.subscribe("chat.>", None).unwrap();
    client.flush(WAIT).unwrap();

    for subject in [
        "chat.s0.public",
        "chat.s1.family.f1",
        "chat.s2.public",
        "other.s0.public",
    ] {
        client.publish(subject, subject.as_bytes()).unwrap();
    }
    client.flush(WAIT).unwrap();

    let drain = |sub: &shared::nats::Subscription| {
        let mut subjects = Vec::new();
        while let Some(m) = sub.try_recv().unwrap() {
            assert_eq!(m.payload, m.subject.as_bytes());
            subjects.push(m.subject);
        }
        subjects
    };
    assert_eq!(drain(&any_world), ["chat.s0.public", "chat.s2.public"]);
    assert_eq!(
        drain(&everything_chat),
        ["chat.s0.public", "chat.s1.family.f1", "chat.s2.public"]
    );
}

#[test]
fn payload_up_to_max_payload_arrives_and_larger_is_refused() {
    let nats = Nats::start();
    let client = connect(&nats);
    let max = client.max_payload();
    assert_eq!(max, 1024 * 1024, "nats-server default");
    let sub = client.subscribe("big", None).unwrap();
    let payload: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    client.publish("big", &payload).unwrap();
    let msg = recv(&sub);
    assert_eq!(msg.payload.len(), max);
    assert!(msg.payload == payload, "large payload corrupted");

    let err = client.publish("big", &vec![0u8; max + 1]).unwrap_err();
    assert!(
        matches!(err, NatsError::PayloadTooLarge { size, max: m } if size == max + 1 && m == max),
        "{err}"
    );
    // The connection is still fine.
    client.publish("big", b"small").unwrap();
    assert_eq!(recv(&sub).payload, b"small");
}

#[test]
fn bad_subjects_and_queue_groups_are_rejected() {
    let nats = Nats::start();
    let client = connect(&nats);
    for subject in [
        "chat.s0 public",
        "chat.*.public",
        "chat.>",
        "",
        "a..b",
        "a\r\nPUB x 1",
    ] {
        let err = client.publish(subject, b"x").unwrap_err();
        assert!(
            matches!(err, NatsError::InvalidSubject(_)),
            "{subject:?}: {err}"
        );
        assert!(err.to_string().contains("invalid nats subject"));
    }
    let err = client.publish_with_reply("ok", "re ply", b"x").unwrap_err();
    assert!(matches!(err, NatsError::InvalidSubject(_)), "{err}");
    for subject in ["a b", "a.>.b", "a*", ""] {
        let err = client.subscribe(subject, None).unwrap_err();
        assert!(
            matches!(err, NatsError::InvalidSubject(_)),
            "{subject:?}: {err}"
        );
    }
    let err = client.subscribe("jobs", Some("work ers")).unwrap_err();
    assert!(matches!(err, NatsError::InvalidQueueGroup(_)), "{err}");
    // None of that reached the server: the connection still works.
    let sub = client.subscribe("ok", None).unwrap();
    client.publish("ok", b"fine").unwrap();
    assert_eq!(recv(&sub).payload, b"fine");
}

#[test]
fn flush_means_the_server_has_the_subscription_and_the_messages() {
    let nats = Nats::start();
    let listener = connect(&nats);
    let talker = connect(&nats);
    // Without the flush the publish below could reach the server before the SUB.
    let sub = listener.subscribe("flushed", None).unwrap();
    listener.flush(WAIT).unwrap();
    for i in 0..100 {
        talker
            .publish("flushed", format!("{i}").as_bytes())
            .unwrap();
    }
    talker.flush(WAIT).unwrap();
    // Echo to the talker's own subscription is queued before flush returns.
    let own = talker.subscribe("flushed", None).unwrap();
    talker.flush(WAIT).unwrap();
    talker.publish("flushed", b"last").unwrap();
    talker.flush(WAIT).unwrap();
    assert_eq!(
        own.try_recv().unwrap().map(|m| m.payload),
        Some(b"last".to_vec())
    );
    for i in 0..100 {
        assert_eq!(recv(&sub).payload, format!("{i}").as_bytes());
    }
    assert_eq!(recv(&sub).payload, b"last");
}

#[test]
fn connect_errors_are_reported() {
    let err = Client::connect("tls://127.0.0.1:1", Options::default())
        .err()
        .unwrap();
    assert!(matches!(err, NatsError::InvalidUrl(_)), "{err}");
    let err = Client::connect("", Options::default()).err().unwrap();
    assert!(matches!(err, NatsError::InvalidUrl(_)), "{err}");
    let port = testkit::free_port();
    let err = Client::connect(&format!("127.0.0.1:{port}"), Options::default())
        .err()
        .unwrap();
    assert!(matches!(err, NatsError::Io(_)), "{err}");
}

#[test]
fn a_list_of_servers_falls_through_to_one_that_answers() {
    let nats = Nats::start();
    let dead = testkit::free_port();
    let urls = format!("nats://127.0.0.1:{dead},{}", nats.url());
    let client = Client::connect(&urls, Options::default()).unwrap();
    let sub = client.subscribe("x", None).unwrap();
    client.publish("x", b"y").unwrap();
    assert_eq!(recv(&sub).payload, b"y");
}

#[test]
fn close_ends_subscriptions_and_refuses_publishes() {
    let nats = Nats::start();
    let client = connect(&nats);
    let other = client.clone();
    let sub = client.subscribe("c", None).unwrap();
    client.publish("c", b"queued").unwrap();
    client.flush(WAIT).unwrap();
    other.close();
    assert!(!client.is_connected());
    assert!(matches!(client.publish("c", b"x"), Err(NatsError::Closed)));
    assert!(matches!(
        client.subscribe("c", None),
        Err(NatsError::Closed)
    ));
    assert!(matches!(client.flush(WAIT), Err(NatsError::Closed)));
    // What was queued before the close is still there, then the end.
    assert_eq!(recv(&sub).payload, b"queued");
    assert!(matches!(sub.recv(), Err(NatsError::Closed)));
    client.close();
}

#[test]
fn reconnects_after_server_restart_with_subscriptions_and_buffered_publishes() {
    let mut nats = Nats::start();
    let client = connect(&nats);
    let chat = client.subscribe("chat.s0.public", None).unwrap();
    let jobs = client.subscribe("jobs", Some("workers")).unwrap();
    client.publish("chat.s0.public", b"before").unwrap();
    assert_eq!(recv(&chat).payload, b"before");

    nats.kill();
    assert!(
        wait_until(WAIT, || !client.is_connected()),
        "outage not noticed"
    );
    for i in 0..100 {
        client
            .publish("chat.s0.public", format!("during-{i}").as_bytes())
            .unwrap();
    }
    client.publish("jobs", b"job-during").unwrap();
    nats.restart();

    assert!(wait_until(WAIT, || client.is_connected()), "no reconnect");
    client.flush(WAIT).unwrap();
    assert_eq!(client.reconnects(), 1);
    for i in 0..100 {
        assert_eq!(recv(&chat).payload, format!("during-{i}").as_bytes());
    }
    assert_eq!(recv(&jobs).payload, b"job-during");

    // The re-sent SUBs are real server-side subscriptions: a fresh client reaches them.
    let fresh = connect(&nats);
    fresh.publish("chat.s0.public", b"after").unwrap();
    fresh.publish("jobs", b"job-after").unwrap();
    assert_eq!(recv(&chat).payload, b"after");
    assert_eq!(recv(&jobs).payload, b"job-after");
    assert_eq!(chat.sid(), 1);
}

#[test]
fn publishes_beyond_the_reconnect_buffer_fail_with_buffer_full() {
    let mut nats = Nats::start();
    let options = Options {
        reconnect_buffer_bytes: 10_000,
        ..Options::named("small-buffer")
    };
    let client = Client::connect(&nats.url(), options).unwrap();
    let sub = client.subscribe("b", None).unwrap();
    client.flush(WAIT).unwrap();
    nats.kill();
    assert!(wait_until(WAIT, || !client.is_connected()));

    let payload = [b'p'; 100];
    let mut accepted = 0;
    let err = loop {
        match client.publish("b", &payload) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1000, "buffer limit not applied");
    };
    assert!(matches!(err, NatsError::BufferFull), "{err}");
    // "PUB b 100\r\n" + 100 + "\r\n" = 113 bytes per frame.
    assert_eq!(accepted, 10_000 / 113);

    nats.restart();
    assert!(wait_until(WAIT, || client.is_connected()));
    client.flush(WAIT).unwrap();
    for _ in 0..accepted {
        assert_eq!(recv(&sub).payload, payload);
    }
    client.publish("b", b"again").unwrap();
    assert_eq!(recv(&sub).payload, b"again");
}

#[test]
fn a_frozen_server_is_detected_by_missing_pongs() {
    let nats = Nats::start();
    let options = Options {
        ping_interval: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(500),
        ..Options::named("pinger")
    };
    let client = Client::connect(&nats.url(), options).unwrap();
    let sub = client.subscribe("p", None).unwrap();
    client.flush(WAIT).unwrap();
    nats.pause();
    let noticed = wait_until(WAIT, || !client.is_connected());
    nats.resume();
    assert!(noticed, "a silent server was not noticed");
    assert!(wait_until(WAIT, || client.is_connected()), "no reconnect");
    client.publish("p", b"back").unwrap();
    assert_eq!(recv(&sub).payload, b"back");
    assert!(client.reconnects() >= 1);
}

#[test]
fn slow_subscriptions_drop_and_count_instead_of_blocking() {
    let nats = Nats::start();
    let options = Options {
        subscription_capacity: 10,
        ..Options::named("slow")
    };
    let client = Client::connect(&nats.url(), options).unwrap();
    let slow = client.subscribe("firehose", None).unwrap();
    for i in 0..100 {
        client
            .publish("firehose", format!("{i}").as_bytes())
            .unwrap();
    }
    client.flush(WAIT).unwrap();
    assert_eq!(slow.dropped(), 90);
    assert_eq!(client.dropped_messages(), 90);
    for i in 0..10 {
        assert_eq!(
            slow.try_recv().unwrap().unwrap().payload,
            format!("{i}").as_bytes()
        );
    }
    assert_eq!(slow.try_recv().unwrap(), None);
    // Others are not held up, and room frees up.
    client.publish("firehose", b"more").unwrap();
    client.flush(WAIT).unwrap();
    assert_eq!(recv(&slow).payload, b"more");
}

#[test]
fn a_mio_waker_is_woken_and_try_recv_drains() {
    const NATS_TOKEN: mio::Token = mio::Token(7);
    let nats = Nats::start();
    let client = connect(&nats);
    let publisher = connect(&nats);
    let mut poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), NATS_TOKEN).unwrap());
    let sub = client
        .subscribe_with_waker("chat.s0.family.f1", None, waker)
        .unwrap();
    client.flush(WAIT).unwrap();

    let mut events = mio::Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(events.is_empty(), "woken without messages");

    for i in 0..3 {
        publisher
            .publish("chat.s0.family.f1", format!("m{i}").as_bytes())
            .unwrap();
    }
    let mut drained = Vec::new();
    let deadline = Instant::now() + WAIT;
    while drained.len() < 3 && Instant::now() < deadline {
        poll.poll(&mut events, Some(WAIT)).unwrap();
        for event in events.iter() {
            assert_eq!(event.token(), NATS_TOKEN);
            while let Some(msg) = sub.try_recv().unwrap() {
                drained.push(String::from_utf8(msg.payload).unwrap());
            }
        }
    }
    assert_eq!(drained, ["m0", "m1", "m2"]);
}

#[test]
fn ten_thousand_messages_from_four_threads_all_arrive_intact() {
    let nats = Nats::start();
    let publisher = connect(&nats);
    let subscriber = connect(&nats);
    let sub = subscriber.subscribe("load", None).unwrap();
    subscriber.flush(WAIT).unwrap();

    let threads: Vec<_> = (0..4)
        .map(|t| {
            let publisher = publisher.clone();
            thread::spawn(move || {
                for i in 0..2500 {
                    publisher.publish("load", &body(t, i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    publisher.flush(WAIT).unwrap();

    let mut next = [0usize; 4];
    for _ in 0..10_000 {
        let msg = recv(&sub);
        let t = msg.payload[0] as usize;
        assert!(t < 4, "bad thread id {t}");
        // One connection keeps each thread's messages in order.
        assert_eq!(
            msg.payload,
            body(t, next[t]),
            "thread {t} message {}",
            next[t]
        );
        next[t] += 1;
    }
    assert_eq!(next, [2500; 4]);
    assert_eq!(subscriber.dropped_messages(), 0);
    assert_eq!(sub.try_recv().unwrap(), None);
}

/// Thread id, message number, then a length and content that vary with both.
fn body(thread: usize, i: usize) -> Vec<u8> {
    let mut out = vec![thread as u8];
    out.extend_from_slice(&(i as u32).to_be_bytes());
    out.extend((0..(i * 7 + thread) % 300).map(|k| (k ^ i ^ thread) as u8));
    out
}

#[test]
fn dropping_the_last_clone_sends_what_was_buffered_then_closes() {
    let nats = Nats::start();
    let listener = connect(&nats);
    let sub = listener.subscribe("drain", None).unwrap();
    listener.flush(WAIT).unwrap();
    let talker = connect(&nats);
    let clone = talker.clone();
    for i in 0..1000 {
        clone.publish("drain", format!("{i}").as_bytes()).unwrap();
    }
    drop(clone);
    drop(talker); // no flush: closing sends the buffer first
    for i in 0..1000 {
        assert_eq!(recv(&sub).payload, format!("{i}").as_bytes());
    }
}

#[test]
fn a_subscription_keeps_its_connection_alive() {
    let nats = Nats::start();
    let sub = {
        let client = connect(&nats);
        let sub = client.subscribe("kept", None).unwrap();
        client.flush(WAIT).unwrap();
        sub
    };
    let publisher = connect(&nats);
    publisher.publish("kept", b"still here").unwrap();
    assert_eq!(recv(&sub).payload, b"still here");
}

#[test]
fn drain_delivers_everything_sent_before_it_then_closes() {
    let nats = Nats::start();
    let consumer = Client::connect(&nats.url(), Options::named("consumer")).unwrap();
    let producer = Client::connect(&nats.url(), Options::named("producer")).unwrap();
    let sub = consumer.subscribe("work", Some("workers")).unwrap();
    consumer.flush(WAIT).unwrap();
    for i in 0..5000u32 {
        producer.publish("work", &i.to_be_bytes()).unwrap();
    }
    // Everything is with the server; some of it is still on its way to the consumer.
    producer.flush(WAIT).unwrap();
    sub.drain(WAIT);
    let mut got = 0u32;
    loop {
        match sub.recv_timeout(WAIT) {
            Ok(msg) => {
                assert_eq!(msg.payload, got.to_be_bytes(), "in order, none skipped");
                got += 1;
            }
            Err(NatsError::Closed) => break,
            Err(e) => panic!("after drain the queue ends with Closed, got {e}"),
        }
    }
    assert_eq!(got, 5000);
    // Nothing published after the drain reaches it.
    producer.publish("work", b"late").unwrap();
    producer.flush(WAIT).unwrap();
    assert!(matches!(
        sub.recv_timeout(Duration::from_millis(200)),
        Err(NatsError::Closed)
    ));
}

#[test]
fn a_subscription_queue_is_bounded_in_bytes_as_well() {
    let nats = Nats::start();
    let options = Options {
        subscription_capacity_bytes: 1000,
        ..Options::named("bytes")
    };
    let client = Client::connect(&nats.url(), options).unwrap();
    let sub = client.subscribe("big", None).unwrap();
    for _ in 0..10 {
        client.publish("big", &[b'x'; 300]).unwrap();
    }
    client.flush(WAIT).unwrap();
    // 300 + 300 + 300 fit in 1000 bytes; the rest is dropped and counted.
    assert_eq!(sub.queued(), 3);
    assert_eq!(sub.dropped(), 7);
    for _ in 0..3 {
        assert_eq!(sub.try_recv().unwrap().unwrap().payload.len(), 300);
    }
    client.publish("big", &[b'y'; 300]).unwrap();
    client.flush(WAIT).unwrap();
    assert_eq!(recv(&sub).payload, [b'y'; 300]);
}

#[test]
fn a_batch_goes_out_in_order_and_stops_where_the_buffer_is_full() {
    let mut nats = Nats::start();
    let options = Options {
        reconnect_buffer_bytes: 1_000,
        ..Options::named("batch")
    };
    let client = Client::connect(&nats.url(), options).unwrap();
    let sub = client.subscribe("jobs.b", None).unwrap();
    client.flush(WAIT).unwrap();

    client
        .publish_batch("jobs.b", 3, |i, payload| {
            assert!(payload.is_empty(), "each payload starts empty");
            payload.extend_from_slice(format!("job {i}").as_bytes());
        })
        .unwrap();
    for i in 0..3 {
        assert_eq!(recv(&sub).payload, format!("job {i}").as_bytes());
    }
    let err = client
        .publish_batch("no spaces allowed", 1, |_, p| p.push(b'x'))
        .unwrap_err();
    assert!(matches!(err.error, NatsError::InvalidSubject(_)), "{err}");

    nats.kill();
    assert!(wait_until(WAIT, || !client.is_connected()));
    // "PUB jobs.b 100\r\n" + 100 + "\r\n" = 118 bytes: 8 fit in 1,000.
    let err = client
        .publish_batch("jobs.b", 20, |_, p| p.extend_from_slice(&[b'p'; 100]))
        .unwrap_err();
    assert!(matches!(err.error, NatsError::BufferFull), "{err}");
    assert_eq!(err.published, 1_000 / 118);
    nats.restart();
    assert!(wait_until(WAIT, || client.is_connected()));
    client.flush(WAIT).unwrap();
    for _ in 0..err.published {
        assert_eq!(recv(&sub).payload, [b'p'; 100]);
    }
    assert_eq!(
        sub.try_recv().unwrap(),
        None,
        "nothing past the full buffer"
    );
}
