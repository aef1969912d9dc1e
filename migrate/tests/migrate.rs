//! lukseun-migrate against a real MariaDB: the generated source (the original's tables in
//! databases `user` and `s0`, s1 merged into s0) and our schema on one server, the
//! original's Maildir and ours in temp directories; then, end to end, the migrated players
//! through the gate of a whole running system.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use compat::{call_once, encode_request, status, World};
use migrate::generator::{self, known};
use migrate::{run, Action, Options, Report};
use serde_json::{json, Value};

/// Regular players of s0 in the generated source (a quarter as many come from s1): 200,
/// or `LUKSEUN_MIGRATE_PLAYERS` for the figures of a larger source.
fn per_world() -> usize {
    std::env::var("LUKSEUN_MIGRATE_PLAYERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// A reader that may only SELECT: a migration that wrote to the source would fail.
fn source_url(db: &testkit::MariaDb) -> String {
    db.sql(
        "CREATE USER IF NOT EXISTS 'reader'@'127.0.0.1' IDENTIFIED BY 'ro';
         GRANT SELECT ON `user`.* TO 'reader'@'127.0.0.1';
         GRANT SELECT ON `s0`.* TO 'reader'@'127.0.0.1';
         GRANT SELECT ON `mall`.* TO 'reader'@'127.0.0.1';
         GRANT SELECT ON `exchange`.* TO 'reader'@'127.0.0.1';",
    );
    format!("mysql://reader:ro@127.0.0.1:{}/", db.port)
}

fn generate(db: &testkit::MariaDb, maildir: &Path) -> generator::Generated {
    let mut conn = mysql::Conn::new(
        mysql::Opts::from_url(&format!("mysql://root@127.0.0.1:{}/", db.port)).unwrap(),
    )
    .unwrap();
    generator::create_schema(&mut conn).expect("source schema");
    let started = Instant::now();
    let generated = generator::fill(&mut conn, per_world(), maildir).expect("fill the source");
    eprintln!(
        "generator: {} accounts, {} players, {} rows in {} tables, {} mail files ({:.1} s)",
        generated.accounts,
        generated.players,
        generated.total_rows(),
        generated.rows.len(),
        generated.mails,
        started.elapsed().as_secs_f64()
    );
    for (table, n) in &generated.rows {
        eprintln!("  {table:<14} {n:>6}");
    }
    generated
}

fn options(db: &testkit::MariaDb, target_url: &str, from: &Path, to: &Path) -> Options {
    let mut o = Options::new(&source_url(db), target_url, &["s0", "s1"]);
    o.merges = [("s0", "s0"), ("s1", "s0")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .into();
    // Small ranges, so the test crosses many range boundaries.
    o.players_per_read = 7;
    o.source_maildir = Some(from.to_path_buf());
    o.target_maildir = Some(to.to_path_buf());
    o
}

fn count(db: &testkit::MariaDb, sql: &str) -> i64 {
    db.sql(sql)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql}"))
}

fn mail_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn has_problem(report: &Report, table: &str, action: Action, why: &str) -> bool {
    report
        .tally
        .problems
        .iter()
        .any(|p| p.table == table && p.action == action && p.why.contains(why))
}

/// A problem of `table` whose row contains `row` (`""`: is empty) and whose why contains
/// `why`.
fn has_problem_at(report: &Report, table: &str, action: Action, row: &str, why: &str) -> bool {
    report.tally.problems.iter().any(|p| {
        let row_matches = match row {
            "" => p.row.is_empty(),
            _ => p.row.contains(row),
        };
        p.table == table && p.action == action && row_matches && p.why.contains(why)
    })
}

fn written(report: &Report) -> BTreeMap<&'static str, u64> {
    report
        .tally
        .tables
        .iter()
        .map(|(t, c)| (*t, c.written))
        .collect()
}

#[test]
fn the_generated_source_migrates_once_resumes_and_never_half_a_player() {
    let db = testkit::MariaDb::start();
    let from = testkit::TempDir::new("orig-mail");
    let to = testkit::TempDir::new("our-mail");
    let generated = generate(&db, from.path());
    let target = db.url();

    // Our target before the switch: a player already holds a name a source player has,
    // and a weapon row that collides with one of player1's (its transaction must fail).
    let ours = worker::db::Db::open(&target, 1).unwrap();
    worker::db::migrate(&ours).unwrap();
    db.sql(&format!(
        "INSERT INTO lukseun.accounts (unique_id, cid) VALUES ('ours-1', '{}#c'), ('lukseunTAKEN', NULL);
         INSERT INTO lukseun.players (world, unique_id, gn) VALUES ('s0', 'ours-1', '{}');",
        known::DUPCID_UID,
        known::TAKEN_GN
    ));
    let player1: String = db
        .sql("SELECT uid FROM s0.player WHERE gn = 'player1'")
        .trim()
        .to_string();
    let wid = db.sql(&format!(
        "SELECT wid FROM s0.weapon WHERE uid = '{player1}' AND star > 0"
    ));
    db.sql(&format!(
        "INSERT INTO lukseun.weapons (world, unique_id, weapon_id) VALUES ('s0', '{player1}', {})",
        wid.trim()
    ));

    // Dry run: everything reported, nothing written.
    let mut dry = options(&db, &target, from.path(), to.path());
    dry.dry_run = true;
    let dry_report = run(&dry).expect("dry run");
    eprintln!("{dry_report}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM lukseun.players"), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM lukseun.migrate_done"), 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM lukseun.accounts"), 2);
    assert!(mail_files(to.path()).is_empty(), "a dry run writes no mail");

    // The run.
    let report = run(&options(&db, &target, from.path(), to.path())).expect("run");
    eprintln!("{report}");
    eprintln!(
        "migration: {} source rows in {:.2} s, {:.0} rows/s; {} players, {} mails",
        report.tally.tables.values().map(|c| c.read).sum::<u64>(),
        report.elapsed.as_secs_f64(),
        report.rows_per_second(),
        report.players_migrated,
        report.mails_converted
    );
    assert_eq!(
        written(&dry_report),
        written(&report),
        "the dry run reports what the run writes"
    );
    // Every source row read once, across the ranges of players (rows of no player too).
    for (table, n) in &generated.rows {
        assert_eq!(report.counts(table).read, *n, "{table} rows read");
    }
    assert_eq!(report.counts("info").read, generated.accounts);
    assert_eq!(report.counts("player").read, generated.players);
    // Accounts: all but the ones whose uid is too long or empty and the one we had
    // already (its player still comes).
    assert_eq!(report.accounts_migrated, generated.accounts - 3);
    // Players: all but the long uid, the one without account, the second player of an
    // account in the merged world, and player1 (its weapon collided).
    assert_eq!(report.players_migrated, generated.players - 4);
    assert_eq!(report.families_migrated, 4);

    // Every bad row is reported with its rule.
    for (table, action, why) in [
        ("info", Action::Skipped, "over 64 characters"),
        ("info", Action::Repaired, "password hash or salt missing"),
        ("info", Action::Repaired, "account already with us"),
        (
            "info",
            Action::Repaired,
            "email \"old@example.com\" is also account",
        ),
        ("player", Action::Skipped, "no account"),
        (
            "player",
            Action::Skipped,
            "has a player in this world already",
        ),
        ("player", Action::Skipped, "not written: "),
        ("player", Action::Repaired, "game name taken or unfit"),
        ("item", Action::Skipped, "unknown item 3:99999"),
        (
            "item",
            Action::Repaired,
            "3:10 quantity 5000 over its max: 999",
        ),
        ("item", Action::Skipped, "row of no player"),
        ("weapon", Action::Skipped, "unknown weapon 999"),
        ("weaponpassive", Action::Skipped, "weapon 310, not owned"),
        ("check_in", Action::Skipped, "unreadable date \"yesterday\""),
        ("factory", Action::Repaired, "total workers"),
        ("leaderboard", Action::Skipped, "unknown leaderboard 7"),
        (
            "timer",
            Action::Skipped,
            "timer 18: unreadable time \"someday\"",
        ),
        (
            "summon",
            Action::Skipped,
            "store 1 over or without an end: made anew",
        ),
        (
            "limits",
            Action::Skipped,
            "integral step 123 is none of ours",
        ),
        (
            "mail",
            Action::Repaired,
            "friend request carried as mail only: no --auth-url",
        ),
        (
            "mail",
            Action::Repaired,
            "friend request carried as mail only: no pending request from \"stranger\"",
        ),
        (
            "mail",
            Action::Repaired,
            "family request carried as mail only: no --auth-url",
        ),
        (
            "mail",
            Action::Repaired,
            "family request carried as mail only: no player named \"nobody at all\"",
        ),
        (
            "mail",
            Action::Repaired,
            "family request carried as mail only: its recipient is in no family",
        ),
        (
            "mail",
            Action::Repaired,
            "family request carried as mail only: no family \"Ｆａｍｉｌｙ２\" with an owner",
        ),
        (
            "mail",
            Action::Repaired,
            "subject \"FAMILY_WHATEVER\" is neither an invitation nor a join request",
        ),
        (
            "info",
            Action::Repaired,
            "password hash is not 64 bytes of hex",
        ),
        ("info", Action::Repaired, "account name over 32 characters"),
        (
            "info",
            Action::Repaired,
            "account \"oldtimer\" is also account",
        ),
        ("info", Action::Repaired, "phone_number \""),
        (
            "info",
            Action::Repaired,
            "cid \"lukseunZDUPCID#c\" is also account \"ours-1\"",
        ),
        (
            "info",
            Action::Repaired,
            "account name without a password: dropped",
        ),
        (
            "info",
            Action::Repaired,
            "password without an account name, email or phone: dropped",
        ),
        ("role", Action::Skipped, "unknown role 999"),
        ("rolepassive", Action::Skipped, "role 401, not owned"),
        ("item", Action::Skipped, "negative quantity -5 of 3:2"),
        ("armor", Action::Skipped, "negative quantity -1"),
        ("weapon", Action::Skipped, "negative quantity -3 of 0:405"),
        (
            "friend",
            Action::Repaired,
            "unreadable since \"sometime\": today",
        ),
        (
            "summon",
            Action::Skipped,
            "store 16: cell 0 \"3:99999:1\" weight 1 unreadable: made anew",
        ),
        (
            "darkmarket",
            Action::Skipped,
            "offer 0 (3:1) unreadable: made anew",
        ),
        ("factory", Action::Skipped, "unknown factory 9"),
        ("stages", Action::Skipped, "stage kind 300 out of range"),
        (
            "familyrole",
            Action::Repaired,
            "without a role row: basic member",
        ),
        ("familyhistory", Action::Skipped, "history of no family"),
        ("mail", Action::Skipped, "file is not UTF-8"),
        ("mail", Action::Skipped, "subj over 200 characters"),
        ("mall", Action::Skipped, "a value longer than our column"),
        (
            "exchange",
            Action::Skipped,
            "a value longer than our column",
        ),
        ("exchange", Action::Skipped, "unreadable end \"soon\""),
        (
            "darkmarket",
            Action::Skipped,
            "offers without a refresh time: made anew",
        ),
        ("familyrole", Action::Skipped, "member of no family"),
        ("familyrole", Action::Skipped, "row of no player"),
        ("familyrole", Action::Skipped, "second family"),
        ("friend", Action::Skipped, "is no player"),
        ("familyhistory", Action::Skipped, "unreadable date"),
        ("mail", Action::Skipped, "subj has broken percent-encoding"),
        ("mail", Action::Skipped, "no type header"),
        ("mail", Action::Skipped, "type must be an integer"),
        ("mail", Action::Skipped, "mailbox of no migrated player"),
        ("mail", Action::Repaired, "empty sender"),
        (
            "mail",
            Action::Repaired,
            "unread gift carried as mail only: no --auth-url",
        ),
    ] {
        assert!(
            has_problem(&report, table, action, why),
            "{table} {action:?} {why:?} not in\n{report}"
        );
    }
    // Rules that share a message, told apart by their row.
    for (table, action, row, why) in [
        ("info", Action::Skipped, "", "unique_id empty or over 64"),
        (
            "info",
            Action::Skipped,
            "LLLL",
            "unique_id empty or over 64",
        ),
        (
            "info",
            Action::Repaired,
            "lukseunNOSALT",
            "hash or salt missing",
        ),
        (
            "info",
            Action::Repaired,
            "lukseunNOHASH",
            "hash or salt missing",
        ),
        (
            "player",
            Action::Repaired,
            "lukseunEMPTYGN",
            "game name taken or unfit",
        ),
        (
            "player",
            Action::Repaired,
            "lukseunLONGGN",
            "game name taken or unfit",
        ),
        (
            "player",
            Action::Repaired,
            "lukseunTAKEN",
            "game name taken or unfit",
        ),
        (
            "player",
            Action::Repaired,
            "lukseunTABGN",
            "game name taken or unfit",
        ),
        (
            "player",
            Action::Repaired,
            "lukseunSPACEGN",
            "game name taken or unfit",
        ),
        (
            "mail",
            Action::Skipped,
            "lukseun#ODDUID",
            "mailbox of no migrated player",
        ),
        (
            "mail",
            Action::Skipped,
            "lukseunNOBODY",
            "mailbox of no migrated player",
        ),
    ] {
        assert!(
            has_problem_at(&report, table, action, row, why),
            "{table} {action:?} {row:?} {why:?} not in\n{report}"
        );
    }
    // An unread gift whose items do not parse: mail only, for that reason (not for the
    // missing --auth-url).
    assert!(
        report.tally.problems.iter().any(|p| p.table == "mail"
            && p.why.starts_with("unread gift carried as mail only: ")
            && !p.why.contains("--auth-url")),
        "{report}"
    );
    // The accounts the login rules would lock out are guests again; the one whose name
    // another had keeps its password and its email to log in with.
    let row = |sql: &str| db.sql(sql).trim().to_string();
    for uid in ["lukseunNOSALT", "lukseunBADHASH", "lukseunLONGACCT"] {
        assert_eq!(
            row(&format!(
                "SELECT CONCAT(IFNULL(account, '-'), '/', IFNULL(password, '-')) \
                 FROM lukseun.accounts WHERE unique_id = '{uid}'"
            )),
            "-/-",
            "{uid}"
        );
    }
    assert_eq!(
        row(&format!(
            "SELECT CONCAT(IFNULL(account, '-'), '/', email, '/', LEFT(password, 12)) \
             FROM lukseun.accounts WHERE unique_id = '{}'",
            known::DUPNAME_UID
        )),
        format!("-/{}/orig-scrypt$", known::DUPNAME_EMAIL)
    );

    // player1 is not half there: none of its rows but the colliding one we made.
    for table in [
        "players",
        "items",
        "roles",
        "family_members",
        "friends",
        "skills",
    ] {
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) FROM lukseun.{table} WHERE unique_id = '{player1}'")
            ),
            0,
            "{table} of the failed player"
        );
    }

    // What the known players hold.
    assert_eq!(
        row(&format!(
            "SELECT CONCAT(grp, ':', item_id, ':', qty) FROM lukseun.items \
             WHERE unique_id = '{}' AND grp = 3 AND item_id = 1",
            known::GUEST_UID
        )),
        format!("3:1:{}", known::GUEST_COINS)
    );
    assert_eq!(
        row(&format!(
            "SELECT password FROM lukseun.accounts WHERE unique_id = '{}'",
            known::ACCOUNT_UID
        )),
        format!("orig-scrypt${}${}", known::SALT, known::HASH)
    );
    assert_eq!(
        row(&format!(
            "SELECT email FROM lukseun.accounts WHERE unique_id = '{}'",
            known::ACCOUNT_UID
        )),
        "old@example.com"
    );
    assert_eq!(
        row(&format!(
            "SELECT CONCAT(f.name, '/', m.role) FROM lukseun.family_members m JOIN lukseun.families f \
             USING (world, fid) WHERE m.unique_id = '{}'",
            known::GUEST_UID
        )),
        format!("{}/10", known::FAMILY)
    );
    // Purchases and exchange codes (the one with an unreadable end is reported, so are
    // the order and the code too long for our columns).
    let orders = count(&db, "SELECT COUNT(*) FROM mall.mall") as u64 - 1;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM lukseun.purchases") as u64,
        orders
    );
    assert_eq!(
        row("SELECT GROUP_CONCAT(CONCAT(code, '=', remaining) ORDER BY code) FROM lukseun.exchange_codes"),
        "USEDUP=0,WELCOME2021=100"
    );
    // Timers and limits that outlive a day, and the running summoning store.
    let guest = known::GUEST_UID;
    assert_eq!(
        row(&format!("SELECT CONCAT(exp, '/', min_end, '/', IFNULL(max_end, '-')) FROM lukseun.vip WHERE unique_id = '{guest}'")),
        format!(
            "{}/{}/-",
            row(&format!("SELECT vipexp FROM s0.progress WHERE uid = '{guest}'")),
            migrate::map::original_time(known::VIP_MIN_END).unwrap()
        )
    );
    assert_eq!(
        row(&format!(
            "SELECT CONCAT(h.since, '/', f.join_after, '/', i.acp, '/', e.used) FROM lukseun.stage_hang_up h \
             JOIN lukseun.family_cooldowns f USING (world, unique_id) \
             JOIN lukseun.summon_integral i USING (world, unique_id) \
             JOIN lukseun.element_resets e USING (world, unique_id) WHERE h.unique_id = '{guest}'"
        )),
        format!(
            "{}/{}/400/1",
            migrate::map::original_time("2020-11-30 10:00:00").unwrap(),
            migrate::map::original_time("2099-01-01 00:00:00").unwrap()
        ),
        "hang-up since, join cooldown, integral step, element resets used (3 for life, 2 left)"
    );
    assert_eq!(
        row(&format!(
            "SELECT GROUP_CONCAT(CONCAT(pid, '=', mid, '/', wgt, '/', isb) ORDER BY pid) \
             FROM lukseun.summon_cells WHERE unique_id = '{guest}' AND cid = 5"
        )),
        "0=3:1:100/10/0,1=0:301:1/5/1,2=3:5:20/3/0"
    );
    assert_eq!(
        row(&format!(
            "SELECT CONCAT(d.refreshable, ':', GROUP_CONCAT(CONCAT(o.gid, '/', o.mid, '/', o.amt, '/', o.bought) ORDER BY o.pid)) \
             FROM lukseun.dark_market d JOIN lukseun.dark_market_offers o USING (world, unique_id) \
             WHERE d.unique_id = '{guest}' GROUP BY d.refreshable"
        )),
        "2:1/5/2000/0,0/302/30/1"
    );
    // World boss damage: best and total per player as the source's leaderboard had them.
    assert_eq!(
        row("SELECT COUNT(*), SUM(best), SUM(total) FROM lukseun.stage_boss_damage"),
        row(
            "SELECT COUNT(DISTINCT l.uid), SUM(IF(l.lid = 1, l.value, 0)), \
             SUM(IF(l.lid = 2, l.value, 0)) FROM s0.leaderboard l JOIN lukseun.players p \
             ON p.world = 's0' AND (l.uid COLLATE utf8mb4_bin = p.unique_id \
             OR l.uid COLLATE utf8mb4_bin = CONCAT(p.unique_id, '_s1')) \
             WHERE l.lid IN (1, 2) AND l.uid <> 'lukseunBOTH1_s1'"
        )
    );
    // Merged players carry their account's uid; the renamed name stays.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM lukseun.players WHERE gn LIKE '%\\_s1' AND unique_id NOT LIKE '%\\_s1'"),
        (per_world() / 4) as i64
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM lukseun.players WHERE gn = '{}'",
                known::MERGED_GN
            )
        ),
        0
    );
    let mails = mail_files(to.path());
    assert_eq!(mails.len() as u64, report.mails_converted);
    let guest_mail: Vec<&String> = mails
        .iter()
        .filter(|m| m.starts_with(&format!("s0/{}/", known::GUEST_UID)))
        .collect();
    assert_eq!(guest_mail.len(), 7, "{guest_mail:?}");
    assert!(guest_mail
        .iter()
        .any(|m| m.contains("/cur/") && m.ends_with(":2,S")));
    assert!(guest_mail.iter().any(|m| m.contains("/new/")));

    // Again: nothing changes.
    let before =
        db.sql("CHECKSUM TABLE lukseun.players, lukseun.items, lukseun.accounts, lukseun.friends");
    let again = run(&options(&db, &target, from.path(), to.path())).expect("second run");
    assert!(written(&again).values().all(|&n| n == 0), "{again}");
    assert_eq!(
        again.done_before,
        report.accounts_migrated
            + 1
            + report.families_migrated
            + report.players_migrated
            + orders
            + 2
    );
    assert_eq!(again.mails_done_before, report.mails_converted);
    assert_eq!(
        db.sql("CHECKSUM TABLE lukseun.players, lukseun.items, lukseun.accounts, lukseun.friends"),
        before
    );
    assert_eq!(mail_files(to.path()), mails);

    // Resume: the collision gone, and one player and one mail as if the run had stopped
    // before them, a third run writes exactly those.
    db.sql(&format!(
        "DELETE FROM lukseun.weapons WHERE unique_id = '{player1}'"
    ));
    let guest = known::GUEST_UID;
    db.sql(&format!(
        "DELETE FROM lukseun.migrate_done WHERE id = '{guest}' AND what = 'player';
         DELETE FROM lukseun.players WHERE unique_id = '{guest}';
         DELETE FROM lukseun.items WHERE unique_id = '{guest}';
         DELETE FROM lukseun.family_members WHERE unique_id = '{guest}';
         DELETE FROM lukseun.friends WHERE unique_id = '{guest}';"
    ));
    for table in [
        "weapons",
        "weapon_passives",
        "roles",
        "role_passives",
        "skills",
        "armors",
        "sciences",
        "elements",
        "stages",
        "check_ins",
        "achievements",
        "energy",
        "vip",
        "factories",
        "stage_boss_damage",
        "stage_hang_up",
        "family_cooldowns",
        "summon_integral",
        "element_resets",
        "summon_stores",
        "summon_cells",
        "dark_market",
        "dark_market_offers",
    ] {
        db.sql(&format!(
            "DELETE FROM lukseun.{table} WHERE unique_id = '{guest}'"
        ));
    }
    std::fs::remove_file(to.path().join(guest_mail[0])).unwrap();
    let resumed = run(&options(&db, &target, from.path(), to.path())).expect("resumed run");
    assert_eq!(resumed.players_migrated, 2, "{resumed}");
    assert_eq!(resumed.mails_converted, 1);
    assert_eq!(mail_files(to.path()), mails);
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM lukseun.players WHERE unique_id IN ('{guest}', '{player1}')"
            )
        ),
        2
    );
}

fn call(
    gate: std::net::SocketAddr,
    function: &str,
    data: Value,
    transcript: &mut Vec<String>,
) -> Value {
    let line = encode_request(World::Id("s0"), function, &data);
    let answer = call_once(gate, &line);
    transcript.push(format!(
        "> {}\n< {}",
        short_tokens(&line),
        short_tokens(&answer.to_string())
    ));
    answer
}

/// A guest's session in s0: `login_unique` with its device id, then `enter_world`.
fn session_of(gate: std::net::SocketAddr, uid: &str, transcript: &mut Vec<String>) -> String {
    let login = call(
        gate,
        "login_unique",
        json!({ "unique_id": uid }),
        transcript,
    );
    assert_eq!(status(&login), 0, "{login}");
    let token = login["data"]["token"].as_str().unwrap().to_string();
    let enter = call(gate, "enter_world", json!({ "token": token }), transcript);
    enter["data"]["session"]
        .as_str()
        .unwrap_or_else(|| panic!("{enter}"))
        .to_string()
}

/// Answers each request mail with `function`: the one from `accepted.0` is accepted (0,
/// the answer's `accepted.1` is `accepted.2`); every other one, carried as mail only, is
/// refused (99, invalid nonce).
fn respond_each(
    gate: std::net::SocketAddr,
    function: &str,
    token: &str,
    mails: &[&Value],
    accepted: (&str, &str, &str),
    transcript: &mut Vec<String>,
) {
    for mail in mails {
        let key = &mail["key"];
        let answer = call(
            gate,
            function,
            json!({"token": token, "key": key}),
            transcript,
        );
        if mail["from"] == accepted.0 {
            assert_eq!(status(&answer), 0, "{answer}");
            assert_eq!(answer["data"][accepted.1], accepted.2, "{answer}");
        } else {
            assert_eq!(status(&answer), 99, "{answer}");
        }
    }
}

/// A request refused with `code` because an earlier one of the sender's is still pending.
fn assert_still_pending(answer: &Value, code: i64) {
    assert_eq!(status(answer), code, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("still pending"), "{answer}");
}

/// The transcript with each JWT cut to its first 10 characters.
fn short_tokens(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        out.push_str(&rest[..at]);
        let token_len = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(rest.len() - at);
        out.push_str(&rest[at..at + token_len.min(10)]);
        out.push('…');
        rest = &rest[at + token_len..];
    }
    out.push_str(rest);
    out
}

#[test]
fn migrated_players_log_in_and_answer_as_before_through_the_gate() {
    let stack = teststack::Stack::start();
    let from = testkit::TempDir::new("orig-mail");
    generate(&stack.db, from.path());
    let mut o = options(
        &stack.db,
        &stack.db.url(),
        from.path(),
        stack.mail_dir.path(),
    );
    o.auth_url = Some(format!("http://{}", stack.auth.as_ref().unwrap().addr()));
    o.redis_url = Some(stack.redis.url());
    let report = run(&o).expect("migrate into the running system");
    eprintln!("{report}");
    assert!(report.counts("request_nonce").written > 0, "{report}");
    assert!(report.players_migrated > per_world() as u64);
    let gate = stack.gate_addr();
    let mut t = Vec::new();

    // The guest: its device id logs in to its account (0: known, not new).
    let login = call(
        gate,
        "login_unique",
        json!({"unique_id": known::GUEST_UID}),
        &mut t,
    );
    assert_eq!(status(&login), 0, "{login}");
    let token = login["data"]["token"].as_str().unwrap().to_string();
    let enter = call(gate, "enter_world", json!({"token": token}), &mut t);
    let session = enter["data"]["session"]
        .as_str()
        .unwrap_or_else(|| panic!("{enter}"))
        .to_string();
    let info = call(gate, "get_info_player", json!({"token": session}), &mut t);
    assert_eq!(status(&info), 0, "{info}");
    assert_eq!(info["data"]["gn"], known::GUEST_GN);
    assert_eq!(info["data"]["fn"], known::FAMILY);
    let items = call(gate, "get_all_resource", json!({"token": session}), &mut t);
    let held: Vec<(i64, i64)> = items["data"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{items}"))
        .iter()
        .map(|i| (i["iid"].as_i64().unwrap(), i["value"].as_i64().unwrap()))
        .collect();
    assert!(held.contains(&(1, known::GUEST_COINS)), "{items}");
    assert!(held.contains(&(5, known::GUEST_DIAMONDS)), "{items}");
    let weapons = call(gate, "get_all_weapon", json!({"token": session}), &mut t);
    assert_eq!(status(&weapons), 0, "{weapons}");
    let source_weapon = stack.db.sql(&format!(
        "SELECT CONCAT(wid, ':', star, ':', level) FROM s0.weapon WHERE uid = '{}' AND star > 0",
        known::GUEST_UID
    ));
    let shown: Vec<String> = weapons["data"]["weapons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{}:{}:{}", w["wid"], w["star"], w["level"]))
        .collect();
    assert!(
        shown.contains(&source_weapon.trim().to_string()),
        "{source_weapon} in {weapons}"
    );
    let vip = call(gate, "get_info_vip", json!({"token": session}), &mut t);
    assert_eq!(
        vip["data"]["min_card"],
        json!(true),
        "the month card runs on: {vip}"
    );
    assert_eq!(vip["data"]["max_card"], json!(false), "{vip}");
    let store = call(
        gate,
        "refresh_diamond_store",
        json!({"token": session}),
        &mut t,
    );
    // 1: the running store is shown (0 would be a new one), with its cells and the
    // integral step as the original had them.
    assert_eq!(status(&store), 1, "{store}");
    let cells: Vec<String> = store["data"]["refresh"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}/{}", c["mid"].as_str().unwrap(), c["isb"]))
        .collect();
    assert_eq!(cells, ["3:1:100/0", "0:301:1/1", "3:5:20/0"], "{store}");
    assert_eq!(store["data"]["constraint"]["acp"], json!(400), "{store}");
    let market = call(gate, "get_all_market", json!({"token": session}), &mut t);
    // 1: the standing market (0 would be a new one); a sold offer shows a negative amt.
    assert_eq!(status(&market), 1, "{market}");
    let offers: Vec<String> = market["data"]["dark_markets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}:{}:{}/{}", o["gid"], o["mid"], o["qty"], o["amt"]))
        .collect();
    assert_eq!(offers, ["1:5:1/2000", "0:302:10/-30"], "{market}");
    assert_eq!(market["data"]["refreshable"], json!(2), "{market}");
    let factory = call(gate, "refresh_factory", json!({"token": session}), &mut t);
    let total = stack.db.sql(&format!(
        "SELECT storage FROM s0.factory WHERE uid = '{}' AND fid = -1",
        known::GUEST_UID
    ));
    assert_eq!(
        factory["data"]["worker"]["total"].to_string(),
        total.trim(),
        "{factory}"
    );
    let family = call(gate, "get_all_family", json!({"token": session}), &mut t);
    assert_eq!(family["data"]["name"], known::FAMILY, "{family}");
    let members = family["data"]["members"]
        .as_array()
        .unwrap_or_else(|| panic!("{family}"));
    assert!(
        members.iter().any(|m| m["gn"] == known::ACCOUNT_GN),
        "{family}"
    );
    let friends = call(gate, "get_all_friend", json!({"token": session}), &mut t);
    assert!(
        friends["data"]["friends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["gn"] == known::ACCOUNT_GN),
        "{friends}"
    );
    let mail = call(gate, "get_all_mail", json!({"token": session}), &mut t);
    let list = mail["data"]["mail"]
        .as_array()
        .unwrap_or_else(|| panic!("{mail}"));
    let simple = list
        .iter()
        .find(|m| m["subj"] == known::MAIL_SUBJECT)
        .unwrap_or_else(|| panic!("{mail}"));
    assert_eq!(simple["body"], known::MAIL_BODY);
    assert_eq!(simple["from"], known::ACCOUNT_GN);
    let gift = list
        .iter()
        .find(|m| m["subj"] == known::GIFT_SUBJECT)
        .unwrap_or_else(|| panic!("{mail}"));
    assert_eq!(gift["read"], json!(1), "{gift}");
    // The unread gift is accepted once; the read one was accepted in the original.
    let unread = list
        .iter()
        .find(|m| m["subj"] == known::UNREAD_GIFT_SUBJECT)
        .unwrap_or_else(|| panic!("{mail}"));
    assert_eq!(unread["read"], json!(0), "{unread}");
    let (unread_key, read_key) = (unread["key"].clone(), gift["key"].clone());
    let accepted = call(
        gate,
        "accept_gifts",
        json!({"token": session, "gift": [unread_key]}),
        &mut t,
    );
    assert_eq!(status(&accepted), 0, "{accepted}");
    let items = call(gate, "get_all_resource", json!({"token": session}), &mut t);
    let coins = items["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["iid"] == 1)
        .unwrap()["value"]
        .clone();
    assert_eq!(
        coins,
        json!(known::GUEST_COINS + known::UNREAD_GIFT_COINS),
        "{items}"
    );
    let again = call(
        gate,
        "accept_gifts",
        json!({"token": session, "gift": [unread_key, read_key]}),
        &mut t,
    );
    let items = call(gate, "get_all_resource", json!({"token": session}), &mut t);
    let coins_after = items["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["iid"] == 1)
        .unwrap()["value"]
        .clone();
    assert_eq!(coins_after, coins, "nothing accepted twice: {again}");

    // An order the original credited is not credited again (an operator's credit here;
    // a player's receipt is refused the same way before the verifier is asked).
    let order_gn = stack.db.sql(
        "SELECT p.gn FROM mall.mall m JOIN lukseun.players p ON p.unique_id = m.uid COLLATE utf8mb4_bin \
         WHERE m.oid = 'GPA.0007-order'",
    );
    let replay = call(
        gate,
        "purchase_success",
        json!({"token": stack.admin_token(), "pid": "DIAMOND_MIN", "order_id": "GPA.0007-order",
               "channel": "google", "user_name": order_gn.trim(), "currency": "RMB"}),
        &mut t,
    );
    assert_eq!(status(&replay), 96, "{replay}");
    // The friend request's sender sees it pending: asking again after taking it back
    // answers 95, "still pending" (ours keeps one pending request per sender).
    let requester = session_of(gate, known::REQUESTER_UID, &mut t);
    let removed = call(
        gate,
        "remove_friend",
        json!({"token": requester, "gn_target": known::GUEST_GN}),
        &mut t,
    );
    assert_eq!(status(&removed), 0, "{removed}");
    let again = call(
        gate,
        "request_friend",
        json!({"token": requester, "gn_target": known::GUEST_GN}),
        &mut t,
    );
    assert_still_pending(&again, 95);
    // The pending friend request is accepted through its imported mail; a request mail
    // whose sender had asked for nothing is only mail.
    let requests: Vec<&Value> = list
        .iter()
        .filter(|m| m["subj"] == known::REQUEST_SUBJECT)
        .collect();
    assert_eq!(requests.len(), 2, "{mail}");
    let accepted = (known::REQUESTER_GN, "gn", known::REQUESTER_GN);
    respond_each(
        gate,
        "respond_friend",
        &session,
        &requests,
        accepted,
        &mut t,
    );
    let friends = call(gate, "get_all_friend", json!({"token": session}), &mut t);
    let requester = friends["data"]["friends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["gn"] == known::REQUESTER_GN)
        .unwrap_or_else(|| panic!("{friends}"));
    assert_ne!(requester["since"], "", "now a confirmed friend: {friends}");

    // The join request in the guest's mailbox (the guest owns the family): its applicant
    // sees it pending, the guest lets the applicant in, once.
    let applicant = session_of(gate, known::APPLICANT_UID, &mut t);
    let asked = call(
        gate,
        "request_join_family",
        json!({"token": applicant, "name": known::FAMILY}),
        &mut t,
    );
    assert_still_pending(&asked, 97);
    let shown_as = known::APPLICANT_GN
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let join = list
        .iter()
        .find(|m| m["subj"] == known::JOIN_REQUEST_SUBJECT && m["from"] == shown_as.as_str())
        .unwrap_or_else(|| panic!("{mail}"));
    // Not the applicant's to answer (the mail is in the guest's mailbox): refused, and
    // the guest's accept below still works.
    let not_theirs = call(
        gate,
        "respond_family",
        json!({"token": applicant, "key": join["key"]}),
        &mut t,
    );
    assert_eq!(status(&not_theirs), 99, "{not_theirs}");
    for expected in [0, 99] {
        let answer = call(
            gate,
            "respond_family",
            json!({"token": session, "key": join["key"]}),
            &mut t,
        );
        assert_eq!(status(&answer), expected, "{answer}");
    }
    let theirs = call(gate, "get_all_family", json!({"token": applicant}), &mut t);
    assert_eq!(theirs["data"]["name"], known::FAMILY, "{theirs}");
    // A join request of nobody is only mail.
    let nobody = list
        .iter()
        .find(|m| m["subj"] == known::JOIN_REQUEST_SUBJECT && m["from"] == "nobody at all")
        .unwrap_or_else(|| panic!("{mail}"));
    let refused = call(
        gate,
        "respond_family",
        json!({"token": session, "key": nobody["key"]}),
        &mut t,
    );
    assert_eq!(status(&refused), 99, "{refused}");

    // The invitation (read in the original, still pending): the family sees it pending
    // (90), the invitee accepts it, once.
    let invited = call(
        gate,
        "invite_user_family",
        json!({"token": session, "gn_target": known::INVITEE_GN}),
        &mut t,
    );
    assert_eq!(status(&invited), 90, "{invited}");
    let invitee = session_of(gate, known::INVITEE_UID, &mut t);
    let their_mail = call(gate, "get_all_mail", json!({"token": invitee}), &mut t);
    let invitations: Vec<&Value> = their_mail["data"]["mail"]
        .as_array()
        .unwrap_or_else(|| panic!("{their_mail}"))
        .iter()
        .filter(|m| m["subj"] == known::INVITATION_SUBJECT)
        .collect();
    assert_eq!(invitations.len(), 2, "{their_mail}");
    // The other is of the family without an owner: only mail.
    let accepted = (known::FAMILY, "name", known::FAMILY);
    respond_each(
        gate,
        "respond_family",
        &invitee,
        &invitations,
        accepted,
        &mut t,
    );
    let joined = call(gate, "get_all_family", json!({"token": invitee}), &mut t);
    assert_eq!(joined["data"]["name"], known::FAMILY, "{joined}");
    let members = joined["data"]["members"].as_array().unwrap();
    for gn in [known::APPLICANT_GN, known::INVITEE_GN] {
        assert!(members.iter().any(|m| m["gn"] == gn), "{gn}: {joined}");
    }
    // The account: its old password, then again (now against our hash).
    for _ in 0..2 {
        let login = call(
            gate,
            "login",
            json!({"identifier": "account", "value": known::ACCOUNT, "password": known::PASSWORD}),
            &mut t,
        );
        assert_eq!(status(&login), 0, "{login}");
        assert_eq!(login["data"]["unique_id"], known::ACCOUNT_UID);
    }
    let stored = stack.db.sql(&format!(
        "SELECT password FROM lukseun.accounts WHERE unique_id = '{}'",
        known::ACCOUNT_UID
    ));
    assert!(stored.starts_with("pbkdf2-sha256$"), "re-hashed: {stored}");
    let wrong = call(
        gate,
        "login",
        json!({"identifier": "email", "value": known::EMAIL, "password": "secret124"}),
        &mut t,
    );
    assert_eq!(status(&wrong), 1, "{wrong}");
    let by_email = call(
        gate,
        "login",
        json!({"identifier": "email", "value": known::EMAIL, "password": known::PASSWORD}),
        &mut t,
    );
    assert_eq!(status(&by_email), 0, "{by_email}");
    // An account whose name another account had keeps its password and logs in by email.
    let dup = call(
        gate,
        "login",
        json!({"identifier": "email", "value": known::DUPNAME_EMAIL, "password": known::PASSWORD}),
        &mut t,
    );
    assert_eq!(status(&dup), 0, "{dup}");
    assert_eq!(dup["data"]["unique_id"], known::DUPNAME_UID, "{dup}");
    // An account whose password came without salt is a guest again: its device id logs
    // in, binds a name and password anew, and those log in.
    let guest_again = call(
        gate,
        "login_unique",
        json!({"unique_id": known::NOSALT_UID}),
        &mut t,
    );
    assert_eq!(status(&guest_again), 0, "{guest_again}");
    let token = guest_again["data"]["token"].as_str().unwrap().to_string();
    let bound = call(
        gate,
        "bind_account",
        json!({"token": token, "account": "nosalt", "password": "a new secret"}),
        &mut t,
    );
    assert_eq!(status(&bound), 0, "{bound}");
    let rebound = call(
        gate,
        "bind_account",
        json!({"token": token, "account": "nosalt2", "password": "another"}),
        &mut t,
    );
    assert_eq!(status(&rebound), 96, "bound once: {rebound}");
    let relogin = call(
        gate,
        "login",
        json!({"identifier": "account", "value": "nosalt", "password": "a new secret"}),
        &mut t,
    );
    assert_eq!(relogin["data"]["unique_id"], known::NOSALT_UID, "{relogin}");
    eprintln!("transcript of migrated players:\n{}", t.join("\n"));
}

/// The target server dies in the middle of a run: the run stops with an error (it does
/// not go on reporting every later player as skipped), and the same command run again
/// finishes the job with exactly the rows of an uninterrupted run.
#[test]
fn a_run_whose_target_dies_stops_and_the_next_run_finishes_it() {
    let source = testkit::MariaDb::start();
    let mut target = testkit::MariaDb::start();
    let from = testkit::TempDir::new("orig-mail");
    let to = testkit::TempDir::new("our-mail");
    let generated = generate(&source, from.path());
    let url = target.url();
    let opts = options(&source, &url, from.path(), to.path());

    let runner = {
        let opts = opts.clone();
        std::thread::spawn(move || run(&opts))
    };
    // Once some players are in, freeze the server (the run waits on it), then kill it.
    let ledger = mysql::Opts::from_url(&url).unwrap();
    let mut watch = loop {
        if let Ok(c) = mysql::Conn::new(ledger.clone()) {
            break c;
        }
    };
    loop {
        let done: Option<i64> = mysql::prelude::Queryable::query_first(
            &mut watch,
            "SELECT COUNT(*) FROM migrate_done WHERE what = 'player'",
        )
        .unwrap_or(None);
        if done.unwrap_or(0) >= 20 {
            break;
        }
        assert!(
            !runner.is_finished(),
            "the run ended before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &target.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    target.kill();
    drop(watch);
    let interrupted = runner.join().unwrap();
    let error = interrupted.expect_err("the run stops when its target dies");
    eprintln!("interrupted run: {error}");

    target.restart();
    let done_before = count(
        &target,
        "SELECT COUNT(*) FROM lukseun.migrate_done WHERE what = 'player'",
    );
    assert!(done_before >= 20, "{done_before}");
    let resumed = run(&opts).expect("the resumed run");
    assert_eq!(
        resumed.players_migrated as i64 + done_before,
        (generated.players - 3) as i64,
        "{resumed}"
    );
    assert_eq!(
        count(&target, "SELECT COUNT(*) FROM lukseun.players"),
        (generated.players - 3) as i64
    );
    // Every player is whole: one players row, and its roles and factory with it.
    for table in ["roles", "factories", "skills"] {
        assert_eq!(
            count(&target, &format!("SELECT COUNT(*) FROM lukseun.{table}")),
            (generated.players - 3) as i64,
            "{table}"
        );
    }
    let again = run(&opts).expect("a third run");
    assert!(written(&again).values().all(|&n| n == 0), "{again}");
}
