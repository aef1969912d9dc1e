//! The load generator against the whole system (teststack): short runs of a handful of
//! players, closed and open loop, keep-alive and one request per connection, on one or two
//! event loops, with zero errors and only expected statuses.

use std::process::Command;

use serde_json::Value;

fn run_loadgen(stack: &teststack::Stack, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--gate", &stack.gate_addr().to_string(), "--json"])
        .args(["--duration-secs", "2", "--warmup-secs", "0.5"])
        .args(args)
        .output()
        .expect("run loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "loadgen failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let json_line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {stdout}"));
    serde_json::from_str(json_line).unwrap()
}

fn assert_clean(report: &Value) {
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["cut"], 0, "{report}");
    assert_eq!(report["timed_out"], 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert!(report["ok"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["ok"], report["requests"], "{report}");
}

#[test]
fn a_handful_of_players_run_closed_and_open_loop_without_errors() {
    let stack = teststack::Stack::start();
    let closed = run_loadgen(
        &stack,
        &[
            "--connections",
            "4",
            "--pipeline",
            "2",
            "--mix",
            "account_all_info:3,get_all_resource:3,get_info_player:2,get_all_weapon:1",
        ],
    );
    assert_clean(&closed);
    let open = run_loadgen(
        &stack,
        &[
            "--connections",
            "4",
            "--rate",
            "200",
            "--mix",
            "account_all_info",
        ],
    );
    assert_clean(&open);
    // 200/s for 2 s: the schedule, not the server, sets the count.
    assert_eq!(open["requests"], 400, "{open}");
}

fn accepted(stack: &teststack::Stack) -> u64 {
    let gate = stack.gate.as_ref().expect("gate running");
    gate.metrics().connections_accepted.get()
}

#[test]
fn one_request_per_connection_opens_a_connection_per_request_and_counts_each_status() {
    let stack = teststack::Stack::start();
    let mix = "get_info_player:1,no_such_function:1";
    let before = accepted(&stack);
    let closed = run_loadgen(
        &stack,
        &[
            "--connections",
            "3",
            "--pipeline",
            "2",
            "--mix",
            mix,
            "--one-request-per-connection",
        ],
    );
    let after_closed = accepted(&stack);
    let open = run_loadgen(
        &stack,
        &[
            "--connections",
            "2",
            "--rate",
            "100",
            "--mix",
            mix,
            "--one-request-per-connection",
        ],
    );
    let after_open = accepted(&stack);
    for report in [&closed, &open] {
        assert_eq!(
            (&report["lost"], &report["cut"]),
            (&0.into(), &0.into()),
            "{report}"
        );
        assert_eq!(report["timed_out"], 0, "{report}");
        // Both functions were called and each status counted under its own code.
        let ok = report["ok"].as_u64().unwrap();
        let unknown = report["errors"]["10"].as_u64().unwrap_or(0);
        assert!(ok > 0 && unknown > 0, "{report}");
        assert_eq!(
            ok + unknown,
            report["requests"].as_u64().unwrap(),
            "{report}"
        );
    }
    assert_eq!(open["requests"], 200, "{open}");
    // A connection per login and one per request (the warm-up's too, hence at least).
    let per_request = |delta: u64, report: &serde_json::Value, logins: u64| {
        assert!(
            delta >= logins + report["requests"].as_u64().unwrap(),
            "{delta} connections for {report}"
        );
    };
    per_request(after_closed - before, &closed, 3);
    per_request(after_open - after_closed, &open, 2);
    // Keep-alive, for contrast: the login connections carry every request.
    let keep = run_loadgen(&stack, &["--connections", "3", "--mix", mix]);
    assert_eq!(accepted(&stack) - after_open, 3, "{keep}");
}

#[test]
fn two_loop_threads_share_the_players_and_the_rate() {
    let stack = teststack::Stack::start();
    let threads = ["--loop-threads", "2", "--connections", "5"];
    let open = run_loadgen(
        &stack,
        &[&threads[..], &["--rate", "150", "--mix", "get_info_player"]].concat(),
    );
    assert_clean(&open);
    assert_eq!(open["requests"], 300, "{open}");
    let closed = run_loadgen(
        &stack,
        &[
            &threads[..],
            &["--pipeline", "3", "--mix", "account_all_info"],
        ]
        .concat(),
    );
    assert_clean(&closed);
}

#[test]
fn purchases_with_fresh_orders_are_each_credited_through_the_stand_in() {
    let verifier =
        loadgen::verifier::Verifier::start("127.0.0.1:0", std::time::Duration::ZERO).unwrap();
    let url = verifier.url();
    let stack = teststack::Stack::start_with(|w| w.purchase_verifier_url = url);
    let mix = "purchase_success:1,single_pump_diamond:1,get_info_player:1";
    let closed = run_loadgen(
        &stack,
        &["--connections", "3", "--pipeline", "2", "--mix", mix],
    );
    let open = run_loadgen(
        &stack,
        &[
            "--connections",
            "2",
            "--rate",
            "100",
            "--mix",
            "purchase_success",
        ],
    );
    // Every purchase was verified and credited: no 96 (a replayed order), 94 or 95.
    assert_clean(&open);
    for report in [&closed, &open] {
        let errors = report["errors"].as_object().unwrap();
        for status in ["94", "95", "96"] {
            assert!(errors.get(status).is_none(), "{report}");
        }
        assert_eq!(report["lost"], 0, "{report}");
    }
    assert!(verifier.accepted() >= open["requests"].as_u64().unwrap());
}

#[test]
fn an_unknown_function_in_the_mix_shows_as_status_10() {
    let stack = teststack::Stack::start();
    let report = run_loadgen(&stack, &["--connections", "2", "--mix", "no_such_function"]);
    assert_eq!(report["ok"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert!(report["errors"]["10"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn chat_senders_reach_every_listener() {
    let stack = teststack::Stack::start();
    let report = run_loadgen(
        &stack,
        &[
            "--connections",
            "1",
            "--edge",
            &stack.edge_addr().to_string(),
            "--chat-senders",
            "2",
            "--chat-listeners",
            "3",
            "--chat-rate",
            "10",
        ],
    );
    assert_clean(&report);
    let chat = &report["chat"];
    let sent = chat["sent"].as_u64().unwrap();
    // 2 senders at 10/s for 2 s; every listener gets every message.
    assert!((36..=44).contains(&sent), "{chat}");
    assert_eq!(chat["ok"].as_u64().unwrap(), sent * 3, "{chat}");
    assert_eq!(chat["errors"], serde_json::json!({}), "{chat}");
}
