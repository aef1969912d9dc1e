//! The config service over real HTTP, with a real directory that the tests edit.

mod common;

use common::{get, request, start, wait_until, write};
use testkit::TempDir;

#[test]
fn an_edited_file_is_served_after_the_next_reload_with_a_new_etag() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "player.json", "{\"coins\":100}");
    let service = start(dir.path());
    let first = get(service.addr(), "/config/player", &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, "{\"coins\":100}");
    assert_eq!(first.header("Content-Type"), Some("application/json"));
    let old_tag = first.etag();

    write(dir.path(), "player.json", "{\"coins\":250}");
    wait_until("the edit to be served", || {
        get(service.addr(), "/config/player", &[]).body == "{\"coins\":250}"
    });
    let second = get(
        service.addr(),
        "/config/player.json",
        &[("If-None-Match", &old_tag)],
    );
    assert_eq!(second.status, 200, "an old tag must not get 304");
    assert_eq!(second.body, "{\"coins\":250}");
    assert_ne!(second.etag(), old_tag);
}

#[test]
fn a_matching_etag_gets_304_without_a_body() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "friend.json", "{\"friend_limit\": 50}\n");
    let service = start(dir.path());
    let fresh = get(service.addr(), "/config/friend", &[]);
    let tag = fresh.etag();
    assert!(
        tag.starts_with('"') && tag.ends_with('"'),
        "strong tag: {tag}"
    );

    let cached = get(service.addr(), "/config/friend", &[("If-None-Match", &tag)]);
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, "");
    assert_eq!(cached.etag(), tag);
    let weak = format!("\"nope\", W/{tag}");
    assert_eq!(
        get(
            service.addr(),
            "/config/friend",
            &[("If-None-Match", &weak)]
        )
        .status,
        304
    );

    let all = get(service.addr(), "/get_game_manager_config", &[]);
    assert_eq!(all.status, 200);
    let all_tag = all.etag();
    assert_ne!(all_tag, tag);
    let cached_all = get(
        service.addr(),
        "/get_game_manager_config",
        &[("If-None-Match", &all_tag)],
    );
    assert_eq!(cached_all.status, 304);
    assert_eq!(cached_all.body, "");

    // HEAD: the same headers, no body.
    let head = request(service.addr(), "HEAD", "/config/friend", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.etag(), tag);
    assert_eq!(head.body, "");
}

#[test]
fn broken_json_keeps_the_old_version_and_is_listed_in_healthz() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "weapon.json", "{\"max_level\":100}");
    let service = start(dir.path());
    let healthz = || get(service.admin_addr(), "/healthz", &[]);
    assert!(
        healthz().body.contains("broken files: none"),
        "{}",
        healthz().body
    );

    write(dir.path(), "weapon.json", "{\"max_level\":");
    wait_until("the broken file in /healthz", || {
        healthz().body.contains("broken file: weapon.json")
    });
    let health = healthz();
    assert_eq!(
        health.status, 200,
        "a bad file must not make the pod restart"
    );
    assert!(
        health.body.contains("serving the last good version"),
        "{}",
        health.body
    );
    assert!(health.body.contains("not valid JSON"), "{}", health.body);
    let served = get(service.addr(), "/config/weapon", &[]);
    assert_eq!(
        (served.status, served.body.as_str()),
        (200, "{\"max_level\":100}")
    );
    let metrics = get(service.admin_addr(), "/metrics", &[]).body;
    assert!(metrics.contains("config_files_broken 1\n"), "{metrics}");
    assert_eq!(get(service.admin_addr(), "/readyz", &[]).status, 200);

    write(dir.path(), "weapon.json", "{\"max_level\":120}");
    wait_until("the fixed file", || {
        get(service.addr(), "/config/weapon", &[]).body == "{\"max_level\":120}"
    });
    assert!(
        healthz().body.contains("broken files: none"),
        "{}",
        healthz().body
    );
}

#[test]
fn a_broken_file_at_start_is_not_served_but_listed() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "mail.json", "{oops}");
    write(dir.path(), "friend.json", "{}");
    let service = start(dir.path());
    assert_eq!(get(service.addr(), "/config/mail", &[]).status, 404);
    let health = get(service.admin_addr(), "/healthz", &[]).body;
    assert!(
        health.contains("broken file: mail.json (not served)"),
        "{health}"
    );
    let all = get(service.addr(), "/get_game_manager_config", &[]).json();
    assert_eq!(all, serde_json::json!({"friend": {}}));
}

#[test]
fn traversal_encoded_names_and_hidden_files_are_refused() {
    let outer = TempDir::new("config-http");
    let dir = outer.path().join("game-config");
    std::fs::create_dir(&dir).unwrap();
    write(outer.path(), "secret.json", "{\"secret\":\"outside\"}");
    write(&dir, ".hidden.json", "{\"secret\":\"hidden\"}");
    write(&dir, "player.json", "{}");
    let service = start(&dir);
    let long = format!("/config/{}", "a".repeat(65));
    for target in [
        "/config/../secret",
        "/config/../secret.json",
        "/config/..%2fsecret",
        "/config/%2e%2e%2fsecret",
        "/config/%2E%2E/secret",
        "/config/.hidden",
        "/config/.hidden.json",
        "/config/a%00b",
        "/config/",
        "/config//etc/passwd",
        long.as_str(),
    ] {
        let answer = get(service.addr(), target, &[]);
        assert_eq!(answer.status, 400, "{target}: {}", answer.body);
        assert!(
            !answer.body.contains("secret\":"),
            "{target}: {}",
            answer.body
        );
        assert!(answer.json()["error"].is_string(), "{target}");
    }
    let all = get(service.addr(), "/get_game_manager_config", &[]).json();
    assert_eq!(all, serde_json::json!({"player": {}}));
}

#[test]
fn a_deleted_file_becomes_404_and_a_new_one_appears() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "family.json", "{\"member_limit\":50}");
    let service = start(dir.path());
    assert_eq!(get(service.addr(), "/config/family", &[]).status, 200);

    std::fs::remove_file(dir.path().join("family.json")).unwrap();
    write(dir.path(), "items.json", "{\"groups\":[]}");
    wait_until("the deletion", || {
        get(service.addr(), "/config/family", &[]).status == 404
    });
    let missing = get(service.addr(), "/config/family", &[]);
    assert_eq!(missing.json()["error"], "no such config file");
    wait_until("the new file", || {
        get(service.addr(), "/config/items", &[]).status == 200
    });
    let all = get(service.addr(), "/get_game_manager_config", &[]).json();
    assert_eq!(all, serde_json::json!({"items": {"groups": []}}));
}

#[test]
fn the_combined_config_holds_every_file_and_follows_changes() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "a.json", "{\"z\":1,\"a\":2}");
    write(dir.path(), "b.json", "[1, 2, 3]\n");
    write(dir.path(), "c.json", "\"text\"");
    write(dir.path(), "notes.txt", "not config");
    let service = start(dir.path());
    let all = get(service.addr(), "/get_game_manager_config", &[]);
    assert_eq!(all.header("Content-Type"), Some("application/json"));
    assert_eq!(
        all.json(),
        serde_json::json!({"a": {"z": 1, "a": 2}, "b": [1, 2, 3], "c": "text"})
    );
    let old_tag = all.etag();

    write(dir.path(), "d.json", "null");
    wait_until("the new file in the combined config", || {
        get(service.addr(), "/get_game_manager_config", &[])
            .json()
            .get("d")
            .is_some()
    });
    let newer = get(
        service.addr(),
        "/get_game_manager_config",
        &[("If-None-Match", &old_tag)],
    );
    assert_eq!(newer.status, 200);
    assert_ne!(newer.etag(), old_tag);
}

#[test]
fn unknown_paths_names_and_methods_get_clear_errors() {
    let dir = TempDir::new("config-http");
    write(dir.path(), "player.json", "{}");
    let service = start(dir.path());
    assert_eq!(get(service.addr(), "/config/nope", &[]).status, 404);
    assert_eq!(get(service.addr(), "/", &[]).status, 404);
    assert_eq!(get(service.addr(), "/config", &[]).status, 404);
    let post = request(
        service.addr(),
        "POST",
        "/config/player",
        &[("Content-Length", "0")],
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    let metrics = get(service.admin_addr(), "/metrics", &[]).body;
    assert!(
        metrics.contains("config_http_client_errors_total 4\n"),
        "{metrics}"
    );
    assert!(metrics.contains("config_files 1\n"), "{metrics}");
}

#[test]
fn oversized_files_are_refused_and_reported() {
    let dir = TempDir::new("config-http");
    let big = format!("\"{}\"", "x".repeat(4 * 1024 * 1024));
    write(dir.path(), "big.json", &big);
    let service = start(dir.path());
    assert_eq!(get(service.addr(), "/config/big", &[]).status, 404);
    let health = get(service.admin_addr(), "/healthz", &[]).body;
    assert!(
        health.contains("broken file: big.json (not served): file is 4194306 bytes"),
        "{health}"
    );
}

#[test]
fn a_missing_directory_refuses_to_start() {
    let dir = TempDir::new("config-http");
    let err = config::ConfigService::start(config::Options {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        admin_port: 0,
        dir: dir.path().join("absent"),
        reload_every: common::RELOAD,
        http_threads: 1,
    })
    .err()
    .expect("a missing directory is an error");
    assert!(err.to_string().contains("absent"), "{err}");
}

#[test]
fn a_taken_port_is_a_bind_error_with_its_cause() {
    let dir = TempDir::new("config-http");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = config::ConfigService::start(config::Options {
        bind: "127.0.0.1".parse().unwrap(),
        port: taken.local_addr().unwrap().port(),
        admin_port: 0,
        dir: dir.path().to_path_buf(),
        reload_every: common::RELOAD,
        http_threads: 1,
    })
    .err()
    .expect("a taken port is an error");
    assert!(matches!(err, config::StartError::Bind { .. }), "{err}");
    let cause = std::error::Error::source(&err).expect("the io error");
    assert!(err.to_string().ends_with(&cause.to_string()), "{err}");
}

#[test]
fn shutdown_stops_listening() {
    let dir = TempDir::new("config-http");
    let service = start(dir.path());
    let addr = service.addr();
    assert_eq!(get(addr, "/get_game_manager_config", &[]).body, "{}");
    service.stop();
    wait_until("the port to close", || {
        std::net::TcpStream::connect(addr).is_err()
    });
}

#[test]
fn rapid_rewrites_never_serve_a_partial_or_older_file() {
    let dir = TempDir::new("config-http");
    let body = |n: usize| format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(n * 37 % 5000));
    write(dir.path(), "a.json", &body(0));
    let service = start(dir.path());
    let path = dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        for n in 1..=300 {
            // In place, so a scan can catch a half-written file: it must not be served.
            std::fs::write(path.join("a.json"), body(n)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
    let mut last_seen = 0;
    let mut reads = 0;
    while !writer.is_finished() || last_seen < 300 {
        let one = get(service.addr(), "/config/a", &[]);
        assert_eq!(one.status, 200);
        let n = one.json()["n"].as_u64().unwrap();
        let all = get(service.addr(), "/get_game_manager_config", &[]);
        let n_all = all.json()["a"]["n"].as_u64().unwrap();
        assert!(
            n >= last_seen && n_all >= n,
            "went back: {last_seen} {n} {n_all}"
        );
        last_seen = n_all;
        reads += 1;
        assert!(reads < 100_000, "the last write was never served");
    }
    writer.join().unwrap();
}
