//! The `lukseun-migrate` binary: flags to a run, the report on stdout, progress on stderr,
//! and its exit statuses.

use std::process::Command;

fn migrate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lukseun-migrate"))
}

#[test]
fn the_binary_runs_from_flags_and_reports() {
    let db = testkit::MariaDb::start();
    let from = testkit::TempDir::new("orig-mail");
    let to = testkit::TempDir::new("our-mail");
    let root = format!("mysql://root@127.0.0.1:{}/", db.port);
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&root).unwrap()).unwrap();
    migrate::generator::create_schema(&mut conn).unwrap();
    let generated = migrate::generator::fill(&mut conn, 20, from.path()).unwrap();
    let world_config = from.path().join("world.json");
    std::fs::write(
        &world_config,
        r#"{"worlds":[{"id":"s0","merge":"s0"},{"id":"s1","merge":"s0"}]}"#,
    )
    .unwrap();
    let common = |dry: bool| {
        let mut c = migrate();
        c.args([
            "--source-url",
            &root,
            "--target-url",
            &db.url(),
            "--worlds",
            "s0,s1",
        ])
        .arg("--source-world-config")
        .arg(&world_config)
        .arg("--source-maildir")
        .arg(from.path())
        .arg("--target-maildir")
        .arg(to.path());
        if dry {
            // A source without a purchase database: reported, not an error.
            c.args(["--dry-run", "--mall-db", "nosuch"]);
        }
        c.output().expect("run lukseun-migrate")
    };
    let dry = common(true);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert!(dry.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("(dry run: nothing written)"), "{stdout}");
    assert!(
        stdout.contains("(table): not read: Table 'nosuch.mall'"),
        "{stdout}"
    );
    assert!(
        stderr.contains("world s0: players"),
        "progress on stderr: {stderr}"
    );
    assert_eq!(db.sql("SELECT COUNT(*) FROM lukseun.players").trim(), "0");

    let real = common(false);
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert!(real.status.success(), "{stdout}");
    // All but the long uid, the player without account and the merged second player.
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM lukseun.players").trim(),
        (generated.players - 3).to_string(),
        "{stdout}"
    );
    // Merged players came through the world config: s1's players are in s0.
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM lukseun.players WHERE gn LIKE '%\\_s1'")
            .trim(),
        "5"
    );
}

#[test]
fn bad_flags_and_names_fail_with_a_message_and_a_status() {
    let help = migrate().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout) + String::from_utf8_lossy(&help.stderr);
    assert!(
        text.contains("--source-maildir") && text.contains("--dry-run"),
        "{text}"
    );

    let missing = migrate()
        .args(["--target-url", "mysql://x@127.0.0.1:1/"])
        .output()
        .unwrap();
    assert!(!missing.status.success());

    let alone = migrate()
        .args([
            "--source-url",
            "mysql://a@127.0.0.1:1/",
            "--target-url",
            "mysql://b@127.0.0.1:1/",
        ])
        .args(["--worlds", "s0", "--source-maildir", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("go together"));

    let bad_name = migrate()
        .args([
            "--source-url",
            "mysql://a@127.0.0.1:1/",
            "--target-url",
            "mysql://b@127.0.0.1:1/",
        ])
        .args(["--worlds", "s0`;drop"])
        .output()
        .unwrap();
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad_name.stderr).contains("is not A-Z a-z 0-9 _"),
        "{}",
        String::from_utf8_lossy(&bad_name.stderr)
    );
}
