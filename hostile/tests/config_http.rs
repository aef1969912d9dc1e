//! Path tricks against the config service: traversal, encodings and hidden names never
//! serve a file outside the served set.

use std::net::IpAddr;
use std::time::Duration;

use hostile::http;

const SECRET: &str = "the-secret-beside-the-config-dir";

#[test]
fn traversal_encodings_and_hidden_names_are_refused() {
    let base = testkit::TempDir::new("hostile-config");
    let dir = base.path().join("game");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("player.json"), r#"{"level":1}"#).unwrap();
    std::fs::write(dir.join(".hidden.json"), format!(r#"{{"s":"{SECRET}"}}"#)).unwrap();
    std::fs::write(
        base.path().join("secret.json"),
        format!(r#"{{"s":"{SECRET}"}}"#),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), SECRET).unwrap();

    let service = config::ConfigService::start(config::Options {
        bind: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        admin_port: 0,
        dir: dir.clone(),
        reload_every: Duration::from_secs(60),
        http_threads: 2,
    })
    .expect("start config");
    let addr = service.addr();

    let (code, body) = http(addr, "GET", "/config/player", &[], b"");
    assert_eq!(code, 200, "the real file is served: {body}");

    let tricks = [
        "/config/../secret.json",
        "/config/../secret",
        "/config/..%2fsecret",
        "/config/%2e%2e/secret",
        "/config/%2e%2e%2fsecret.json",
        "/config/%252e%252e%252fsecret",
        "/config/..\\secret",
        "/config/.hidden",
        "/config/.hidden.json",
        "/config/%2ehidden",
        "/config/notes.txt",
        "/config/notes",
        "/config/player%00.json",
        "/config//etc/passwd",
        "/config/player/../../secret",
        "/config/",
        "/../config/player",
        "/config/..",
    ];
    for path in tricks {
        let (code, body) = http(addr, "GET", path, &[], b"");
        assert!(matches!(code, 400 | 404), "{path}: {code} {body}");
        assert!(!body.contains(SECRET), "{path} leaked: {body}");
    }
    let long = format!("/config/{}", "a".repeat(10_000));
    let (code, _) = http(addr, "GET", &long, &[], b"");
    assert!(
        (400..500).contains(&code),
        "a 10,000-character name: {code}"
    );

    // The combined object holds only the served files, never hidden or outside ones.
    let (code, body) = http(addr, "GET", "/get_game_manager_config", &[], b"");
    assert_eq!(code, 200);
    assert!(body.contains("player"), "{body}");
    assert!(!body.contains(SECRET), "{body}");
    let (code, _) = http(addr, "POST", "/config/player", &[], b"{}");
    assert_eq!(code, 405);
    service.stop();
}
