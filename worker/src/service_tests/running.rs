//! The whole worker between NATS and a gate.

use std::sync::atomic::Ordering;

use crate::functions::test_only::SLEEPS_STARTED;
use crate::Worker;

use super::*;

#[test]
fn end_to_end_between_nats_and_a_gate() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = Options::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 4;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.pbkdf2_iterations = 1000;
    settings.startup_wait = Duration::from_secs(10);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), 0);

    let r = gate.ask(json!({"world":"s0","function":"register","data":{"unique_id":"e2e","account":"e2e_user","password":"e2e-password"}}));
    assert_status(&r, 1, "");
    let token = r.data["token"].as_str().unwrap().to_string();
    let r = gate.ask(json!({"world":"s0","function":"enter_world","data":{"token":token}}));
    assert_eq!(r.status, 98, "no player yet");
    assert_eq!(r.data["world"], "s0");

    // A malformed payload is dropped; a panic answers -1 and the next job is served.
    gate.nats
        .publish(contract::JOBS_SUBJECT, b"no job id here")
        .unwrap();
    gate.nats
        .publish(contract::JOBS_SUBJECT, b"NOT-HEX~{}")
        .unwrap();
    assert_eq!(
        gate.ask(json!({"function":"debug_panic","data":{}})).status,
        -1
    );
    assert_eq!(gate.ask(json!({"function":"nope","data":{}})).status, 10);
    assert_eq!(
        gate.ask(json!({"function":"login_unique","data":{"unique_id":"next"}}))
            .status,
        1
    );
    assert_eq!(
        gate.ask(json!({"function":"login_unique","data":{"unique_id":"next"}}))
            .status,
        0,
        "the same guest again"
    );

    // Many jobs at once all come back, each under its own jid.
    let mut sent: Vec<String> = (0..40)
        .map(|i| {
            gate.publish(
                &json!({"function":"login_unique","data":{"unique_id":format!("bulk-{i}")}})
                    .to_string(),
            )
        })
        .collect();
    let mut answered: Vec<String> = (0..40)
        .map(|_| {
            let (jid, r) = gate.answer();
            assert_eq!(r.status, 1, "new guests");
            jid
        })
        .collect();
    sent.sort();
    answered.sort();
    assert_eq!(sent, answered);
    // Each job that names its gate was announced there before its answer came.
    for jid in &sent {
        assert!(gate.taken.contains(jid), "no taken notice for {jid}");
    }

    let (code, body) = http_get(worker.admin_addr(), "/readyz");
    assert_eq!(code, 200, "{body}");
    let (_, metrics) = http_get(worker.admin_addr(), "/metrics");
    assert!(metrics.contains("worker_jobs_panic_total 1"), "{metrics}");
    assert!(
        metrics.contains("worker_jobs_malformed_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("worker_jobs_refused_total 1"), "{metrics}");
    // register (1), enter_world (98), login_unique "next" (1) and 40 new guests (1): the
    // original's non-zero successes count with the module statuses
    assert!(metrics.contains("worker_jobs_ok_total 1"), "{metrics}");
    assert!(
        metrics.contains("worker_jobs_module_error_total 43"),
        "{metrics}"
    );
    // The same jobs by function and status class; the panicking and the unknown function
    // are not in the table, so count as `unknown` (a client-chosen name is no label).
    for series in [
        r#"worker_function_calls_total{function="register",status="module_error"} 1"#,
        r#"worker_function_calls_total{function="enter_world",status="module_error"} 1"#,
        r#"worker_function_calls_total{function="login_unique",status="module_error"} 41"#,
        r#"worker_function_calls_total{function="login_unique",status="ok"} 1"#,
        r#"worker_function_calls_total{function="unknown",status="panic"} 1"#,
        r#"worker_function_calls_total{function="unknown",status="refused"} 1"#,
        r#"worker_function_seconds_count{function="login_unique"} 42"#,
        r#"worker_function_seconds_bucket{function="register",le="+Inf"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} in {metrics}"
        );
    }
    assert!(!metrics.contains("function=\"nope\""), "{metrics}");
    assert!(
        !metrics.contains("function=\"login\""),
        "a function never called has no series: {metrics}"
    );
    for rid_metric in [
        "worker_rid_replayed_total 0",
        "worker_rid_still_running_total 0",
        "worker_rid_released_total 0",
    ] {
        assert!(metrics.contains(rid_metric), "{metrics}");
    }

    // A job whose gate gave up (no job key) is run, its answer dropped and counted.
    let orphan = contract::JobId::random();
    let line = json!({"function":"login_unique","data":{"unique_id":"orphan"}});
    let mut payload = Vec::new();
    contract::encode_job(&mut payload, orphan, &Default::default(), &line.to_string());
    gate.nats.publish(contract::JOBS_SUBJECT, &payload).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_get(worker.admin_addr(), "/metrics")
        .1
        .contains("worker_answers_undelivered_total 1")
    {
        assert!(
            Instant::now() < deadline,
            "the orphan answer was never counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A job past its deadline (no time left) is dropped unrun: the gate has answered -2,
    // so creating the account now would act behind a "failed" answer.
    let late = json!({"function":"login_unique","data":{"unique_id":"too-late"}});
    gate.publish_with_budget(&late.to_string(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_get(worker.admin_addr(), "/metrics")
        .1
        .contains("worker_jobs_expired_total 1")
    {
        assert!(Instant::now() < deadline, "the late job was never dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(gate.ask(late).status, 1, "the account is created only now");

    // A seed-contract gate's job (no header; its gate under `gate.job.<jid>`) is answered
    // there too, with and without a token, and gets no taken notice (a seed gate would not
    // read one).
    let notices = gate.taken.len();
    let jid = gate.publish_seed(&json!({"function":"nope","data":{}}).to_string());
    let (answered, r) = gate.answer();
    assert_eq!((answered, r.status), (jid, 10));
    let line = json!({"world":"s0","function":"enter_world","data":{"token":token}});
    let jid = gate.publish_seed(&line.to_string());
    let (answered, r) = gate.answer();
    assert_eq!(answered, jid);
    assert_status(&r, 98, "");
    assert_eq!(
        gate.taken.len(),
        notices,
        "no notices for seed-contract jobs"
    );
    worker.stop();
}

#[test]
fn stop_answers_jobs_in_flight_then_takes_no_more() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = Options::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 2;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.startup_wait = Duration::from_secs(10);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), 5);

    let before = SLEEPS_STARTED.load(Ordering::SeqCst);
    let jid = gate.publish(&json!({"function":"debug_sleep","data":{"ms":500}}).to_string());
    let done = testkit::poll_until(Duration::from_secs(10), || {
        SLEEPS_STARTED.load(Ordering::SeqCst) != before
    });
    assert!(done.is_some(), "the job never started");
    worker.stop();
    let (answered, r) = gate.answer();
    assert_eq!(
        (answered, r.status),
        (jid, 0),
        "the job in flight was answered"
    );
    assert_eq!(r.data["ms"], 500);

    // Stopped: a new job stays unanswered (no worker subscribed).
    gate.publish(&json!({"function":"login_unique","data":{"unique_id":"late"}}).to_string());
    let reader = gate.reader.as_mut().unwrap();
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut line = String::new();
    let read = reader.read_line(&mut line);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "answered after stop: {line:?}"
    );
}

#[test]
fn the_worker_survives_a_nats_restart() {
    let redis = testkit::Redis::start();
    let mut nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let worker = Worker::start(&test_settings(&redis, &nats, &db)).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), 1);
    let guest = json!({"function":"login_unique","data":{"unique_id":"nats-1"}});
    assert_eq!(gate.ask(guest.clone()).status, 1);

    nats.kill();
    nats.restart();
    let r = ask_until_answered(&mut gate, &guest);
    assert_eq!(r.status, 0);
    let (code, body) = http_get(worker.admin_addr(), "/readyz");
    assert_eq!(code, 200, "{body}");
    worker.stop();
}

#[test]
fn worlds_come_from_the_config_service_and_follow_its_changes() {
    let dir = testkit::TempDir::new("worker-config");
    let worlds = dir.path().join("worlds.json");
    std::fs::write(&worlds, r#"{"worlds":["s7"],"merge":{}}"#).unwrap();
    let service = lukseun_config::ConfigService::start(lukseun_config::Options {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        admin_port: 0,
        dir: dir.path().to_path_buf(),
        reload_every: Duration::from_millis(100),
        http_threads: 2,
    })
    .unwrap();

    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = test_settings(&redis, &nats, &db);
    settings.config_url = format!("http://{}", service.addr());
    settings.config_refresh = Duration::from_secs(1);
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), 2);

    let token = gate
        .ask(json!({"function":"login_unique","data":{"unique_id":"cfg"}}))
        .data["token"]
        .clone();
    let enter =
        |world: &str| json!({"world":world,"function":"enter_world","data":{"token":token}});
    assert_eq!(
        gate.ask(enter("s7")).status,
        98,
        "served by the config service"
    );
    assert_eq!(
        gate.ask(enter("s0")).status,
        14,
        "embedded worlds were replaced"
    );

    std::fs::write(&worlds, r#"{"worlds":["s7","s8"],"merge":{}}"#).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gate.ask(enter("s8")).status != 98 {
        assert!(Instant::now() < deadline, "the new world never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A broken file on the service keeps the last good worlds.
    std::fs::write(&worlds, "{ broken").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(gate.ask(enter("s8")).status, 98);
    worker.stop();
}

#[test]
fn clients_are_served_through_the_real_gate() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let worker = Worker::start(&test_settings(&redis, &nats, &db)).unwrap();
    let mut front = gate::Gate::start(gate::Options::local(&redis.url(), &nats.url())).unwrap();

    let client = TcpStream::connect(front.client_addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    let mut ask = |requests: &[Value]| -> Vec<Response> {
        use std::io::Write;
        let mut batch = String::new();
        for r in requests {
            batch.push_str(&r.to_string());
            batch.push_str("\r\n");
        }
        writer.write_all(batch.as_bytes()).unwrap();
        requests
            .iter()
            .map(|_| {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                serde_json::from_str(line.trim_end()).unwrap()
            })
            .collect()
    };

    let registered = ask(&[
        json!({"world":"s0","function":"register","data":{"unique_id":"via-gate","account":"gate_user","password":"gate-password"}}),
    ]);
    assert_eq!(registered[0].status, 1);
    // Pipelined requests run concurrently (on any worker thread or worker); the gate
    // answers them in request order.
    let answers = ask(&[
        json!({"world":"s0","function":"no_such_function","data":{}}),
        json!({"world":"s0","function":"login","data":{"identifier":"account","value":"gate_user","password":"gate-password"}}),
        json!({"world":"s0","function":"account_all_info","data":{}}),
        json!({"world":"s0","function":"debug_sleep","data":{"ms":300}}),
        json!({"world":"s0","function":"login_unique","data":{"unique_id":"via-gate"}}),
    ]);
    let statuses: Vec<i32> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [10, 0, 12, 0, 2]);
    let token = answers[1].data["token"].clone();
    let answers = ask(&[json!({"world":"s1","function":"enter_world","data":{"token":token}})]);
    assert_eq!(answers[0].status, 98);
    assert_eq!(answers[0].data["world"], "s1");
    front.stop();
    worker.stop();
}

#[test]
fn start_fails_with_a_clear_error_instead_of_hanging() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();

    let mut settings = test_settings(&redis, &nats, &db);
    settings.mysql_url = format!("mysql://root@127.0.0.1:{}/lukseun", testkit::free_port());
    settings.startup_wait = Duration::from_secs(1);
    let e = Worker::start(&settings).err().expect("no MySQL, no worker");
    assert!(matches!(e, crate::StartError::Db(_)), "{e}");

    let mut settings = test_settings(&redis, &nats, &db);
    settings.nats_url = format!("nats://127.0.0.1:{}", testkit::free_port());
    settings.startup_wait = Duration::from_secs(1);
    let e = Worker::start(&settings).err().expect("no NATS, no worker");
    assert!(matches!(e, crate::StartError::Nats(_)), "{e}");

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = test_settings(&redis, &nats, &db);
    settings.admin_addr = taken.local_addr().unwrap().to_string();
    let e = Worker::start(&settings).err().expect("admin port taken");
    assert!(matches!(e, crate::StartError::Io(_)), "{e}");

    let mut settings = test_settings(&redis, &nats, &db);
    settings.jwt_secret = "too short".into();
    let e = Worker::start(&settings).err().expect("short key");
    assert!(e.to_string().contains("at least 32"), "{e}");
}

#[test]
fn the_job_queue_is_bounded_in_bytes() {
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let db = crate::test_support::start_mariadb();
    let mut settings = Options::new(&nats.url(), &redis.url(), &db.url(), SECRET);
    settings.threads = 1;
    settings.admin_addr = "127.0.0.1:0".into();
    settings.startup_wait = Duration::from_secs(10);
    settings.job_queue_bytes = 64 * 1024;
    let worker = Worker::start(&settings).unwrap();
    let mut gate = FakeGate::start(&redis.url(), &nats.url(), 6);

    // The only job thread sleeps; everything else waits in the queue.
    let before = SLEEPS_STARTED.load(Ordering::SeqCst);
    gate.publish(&json!({"function":"debug_sleep","data":{"ms":1500}}).to_string());
    let done = testkit::poll_until(Duration::from_secs(10), || {
        SLEEPS_STARTED.load(Ordering::SeqCst) != before
    });
    assert!(done.is_some(), "the job never started");
    // 20 jobs of 16 KiB: about four fit in 64 KiB.
    let pad = "p".repeat(16 * 1024);
    for _ in 0..20 {
        gate.publish(&json!({"function":"no_such_function","data":{"pad":pad}}).to_string());
    }
    let mut answers = 0;
    while gate.answer_within(Duration::from_secs(4)).is_some() {
        answers += 1;
    }
    let (_, metrics) = http_get(worker.admin_addr(), "/metrics");
    eprintln!("answered {answers} of 1 + 20 jobs");
    assert!(
        (2..=6).contains(&answers),
        "the sleeper and the few jobs that fit: {answers}"
    );
    assert!(
        !metrics.contains("worker_jobs_queue_full_dropped 0"),
        "{metrics}"
    );
    // Room again once the queue drained.
    assert_eq!(gate.ask(json!({"function":"nope","data":{}})).status, 10);
    worker.stop();
}

#[test]
fn a_worker_whose_nats_user_may_not_read_jobs_does_not_start() {
    let redis = testkit::Redis::start_secured();
    let nats = testkit::Nats::start_secured();
    let db = crate::test_support::start_mariadb();
    let mut settings = test_settings(&redis, &nats, &db);
    settings.redis_url = redis.url_as("worker");
    settings.startup_wait = Duration::from_secs(1);

    settings.nats_url = nats.url_as("edge");
    let e = Worker::start(&settings)
        .err()
        .expect("the edge's user reads no jobs");
    assert!(
        matches!(
            e,
            crate::StartError::Nats(shared::nats::NatsError::PermissionDenied(_))
        ),
        "{e}"
    );
    assert!(e.to_string().contains("\"jobs\""), "{e}");

    settings.nats_url = nats.url();
    let e = Worker::start(&settings).err().expect("no user, no worker");
    assert!(
        matches!(
            e,
            crate::StartError::Nats(shared::nats::NatsError::NotAuthorized(_))
        ),
        "{e}"
    );

    settings.nats_url = nats.url_as("worker");
    Worker::start(&settings).expect("its own user").stop();
}
