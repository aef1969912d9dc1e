//! The test source: the original's databases ([`SOURCE_SCHEMA`], our own SQL of its
//! tables) filled with players that use every table the migration reads, odd values
//! included, and an original-format Maildir store. Deterministic: the same size gives the
//! same rows. Used by this crate's tests; `lukseun-migrate --generate` is not offered (an
//! operator has a real source).
//!
//! World `s1` of the source was merged into `s0` the original's way (its players renamed
//! `<uid>_s1`, `<gn>_s1`, moved into database `s0`), so `s0` holds both.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use mysql::prelude::Queryable;
use mysql::{Conn, Params, Value as SqlValue};

use crate::original_mail::{self, OriginalMail};

/// The original's tables as SQL; `{db}` is a world database.
pub const SOURCE_SCHEMA: &str = include_str!("source_schema.sql");

/// The database holding the worlds after the merge, and the world merged into it.
pub const WORLD_DB: &str = "s0";
pub const MERGED_WORLD: &str = "s1";

/// Players the end-to-end test logs in as.
pub mod known {
    /// A guest: logs in with its device id.
    pub const GUEST_UID: &str = "lukseunG1606800000M0P1";
    pub const GUEST_GN: &str = "游客一号🐉";
    /// An account with a password (hash made by the original's scrypt call in Python).
    pub const ACCOUNT_UID: &str = "lukseun1606800000M1P7";
    pub const ACCOUNT: &str = "oldtimer";
    pub const PASSWORD: &str = "secret123";
    pub const SALT: &str =
        "0815493816012838011904372185412773929036493816527103845938163047502910384756";
    pub const HASH: &str = "5e08ba89050b3d246bbd07232709c046efccce253c74ce51aa6b13b88ae2bcde3f7200f81764c9ad7caf47371ffee545f1ad7fc2d30e504af749bbeba35b279c";
    pub const ACCOUNT_GN: &str = "O'Brien \"\\\"";
    pub const EMAIL: &str = "Old@Example.com";
    pub const FAMILY: &str = "龍の一族 'x'";
    /// The guest's coins (item 3:1) and diamonds (3:5).
    pub const GUEST_COINS: i64 = 12_345;
    pub const GUEST_DIAMONDS: i64 = 678;
    /// The end of the guest's small VIP month card (UTC+8).
    pub const VIP_MIN_END: &str = "2099-06-01 12:00:00";
    /// The guest's mail: a simple one (unread) and a read gift.
    pub const MAIL_SUBJECT: &str = "你好 'friend' \"100%\" \\o/ 🎁";
    pub const MAIL_BODY: &str = "line one\nline two: ½ € 😀";
    pub const GIFT_SUBJECT: &str = "SYSTEM_REWARD";
    /// An unread gift (not accepted in the original) of 100 coins.
    pub const UNREAD_GIFT_SUBJECT: &str = "未领取的礼物";
    pub const UNREAD_GIFT_COINS: i64 = 100;
    /// A friend request to the guest, still pending (its mail unread), and its sender.
    pub const REQUEST_SUBJECT: &str = "friend request";
    pub const REQUESTER_GN: &str = "two families";
    pub const REQUESTER_UID: &str = "lukseunTWOFAM";
    /// A player in no family with a pending invitation from [`FAMILY`] (its mail read).
    pub const INVITEE_UID: &str = "lukseunINVITEE";
    pub const INVITEE_GN: &str = "被邀请的 invitee";
    /// A player in no family whose join request to [`FAMILY`] waits in the guest's
    /// mailbox (the guest owns the family).
    pub const APPLICANT_UID: &str = "lukseunAPPLICANT";
    pub const APPLICANT_GN: &str = "申请人  applicant";
    /// The original's subjects of a family invitation and a join request.
    pub const INVITATION_SUBJECT: &str = "FAMILY_INVITATION";
    pub const JOIN_REQUEST_SUBJECT: &str = "FAMILY_REQUEST";
    /// An account whose password came without salt: a guest with us, its device id logs
    /// in and binds anew.
    pub const NOSALT_UID: &str = "lukseunNOSALT";
    /// An account whose name another account has (case differs): it logs in by email.
    pub const DUPNAME_UID: &str = "lukseunDUPNAME";
    pub const DUPNAME_EMAIL: &str = "dupname@example.com";
    /// An account whose cid (`<uid>#c`, as every generated account's) the test gives one
    /// of ours first.
    pub const DUPCID_UID: &str = "lukseunZDUPCID";
    /// A player of the merged world whose account also has a player in s0.
    pub const MERGED_GN: &str = "merged_s1";
    /// A player already in our target before the migration holds this name; the source
    /// player of that name is renamed.
    pub const TAKEN_GN: &str = "TakenName";
}

/// What the generator wrote.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub accounts: u64,
    pub players: u64,
    /// Rows per source table.
    pub rows: BTreeMap<&'static str, u64>,
    pub mails: u64,
}

impl Generated {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// Creates the account database `user` and the world database [`WORLD_DB`] with the
/// original's tables.
pub fn create_schema(conn: &mut Conn) -> mysql::Result<()> {
    conn.query_drop("CREATE DATABASE IF NOT EXISTS `user`")?;
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{WORLD_DB}`"))?;
    conn.query_drop("CREATE DATABASE IF NOT EXISTS `mall`")?;
    conn.query_drop("CREATE DATABASE IF NOT EXISTS `exchange`")?;
    for statement in SOURCE_SCHEMA.split(";\n") {
        let sql: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if sql.trim().is_empty() {
            continue;
        }
        conn.query_drop(sql.replace("{db}", WORLD_DB))?;
    }
    Ok(())
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n.max(1)) as i64
    }
}

struct Writer<'c> {
    conn: &'c mut Conn,
    out: Generated,
    pending: BTreeMap<&'static str, (String, Vec<Params>)>,
}

impl Writer<'_> {
    fn row(&mut self, table: &'static str, columns: &str, values: Vec<SqlValue>) {
        let entry = self.pending.entry(table).or_insert_with(|| {
            let marks = vec!["?"; columns.split(',').count()].join(", ");
            let db = match table {
                "info" => "user",
                "mall" => "mall",
                "exchange" => "exchange",
                _ => WORLD_DB,
            };
            (
                format!("INSERT INTO `{db}`.`{table}` ({columns}) VALUES ({marks})"),
                Vec::new(),
            )
        });
        entry.1.push(Params::Positional(values));
        *self.out.rows.entry(table).or_default() += 1;
    }

    fn flush(&mut self) -> mysql::Result<()> {
        // Parents first: the source's foreign keys hold for the regular rows.
        let order = ["info", "family", "player", "progress"];
        let mut tables: Vec<&'static str> = self.pending.keys().copied().collect();
        tables.sort_by_key(|t| order.iter().position(|o| o == t).unwrap_or(order.len()));
        for table in tables {
            let (sql, params) = self.pending.remove(table).expect("listed");
            self.conn.exec_batch(sql, params)?;
        }
        Ok(())
    }
}

fn v<T: Into<SqlValue>>(x: T) -> SqlValue {
    x.into()
}

/// Odd names of the kinds players chose (and the original stored as sent).
const ODD_NAMES: [&str; 8] = [
    "张伟",
    "🐉🔥",
    "O'Neil",
    "back\\slash",
    "\"quoted\"",
    "Ünïcödé",
    "%41%42",
    "名前 with space",
];

/// Fills the source with `per_world` regular players of s0, a quarter as many merged from
/// s1, the known and the odd ones; writes their mail under `maildir`.
pub fn fill(conn: &mut Conn, per_world: usize, maildir: &Path) -> io::Result<Generated> {
    let sql = |e: mysql::Error| io::Error::other(e.to_string());
    let mut w = Writer {
        conn,
        out: Generated::default(),
        pending: BTreeMap::new(),
    };
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut mails: Vec<(String, String, OriginalMail, bool, &str)> = Vec::new();

    // Families.
    let families = [
        known::FAMILY,
        "Ｆａｍｉｌｙ２",
        "back\\slash \"fam\"",
        "solo",
    ];
    for (i, name) in families.iter().enumerate() {
        w.row(
            "family",
            "name, icon, exp, notice, board",
            vec![
                v(*name),
                v(i as i64),
                v(100 * i as i64),
                v("公告: 'welcome' \\ \"all\" 🎉"),
                v(""),
            ],
        );
        w.row(
            "familyhistory",
            "name, date, msg",
            vec![v(*name), v("2020-11-30 12:00:00"), v("fm_1:founder")],
        );
    }
    w.row(
        "familyhistory",
        "name, date, msg",
        vec![v(families[1]), v("not a date"), v("fm_2:x")],
    );

    // The known players.
    account(&mut w, known::GUEST_UID, "", "", "", "", "");
    player(
        &mut w,
        &mut rng,
        known::GUEST_UID,
        known::GUEST_GN,
        Some(known::FAMILY),
        Some("3"),
    );
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v(known::GUEST_UID), v(known::FAMILY), v(10)],
    );
    // Timers and limits that outlive a day (times are UTC+8), a running diamond store, a
    // dark market refreshed a minute ago (so its offers still stand when the test looks).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let market_refreshed = crate::map::original_time_text(now - 60);
    for (tid, time) in [
        (17, known::VIP_MIN_END),
        (23, "2099-01-01 00:00:00"),
        (41, "2020-11-30 10:00:00"),
        (27, "2099-01-01 00:00:00"),
        (5, market_refreshed.as_str()),
        (12, "2020-11-30 09:00:00"),
    ] {
        w.row(
            "timer",
            "uid, tid, time",
            vec![v(known::GUEST_UID), v(tid), v(time)],
        );
    }
    for (lid, value) in [(13, 400), (23, 2), (9, 3), (1, 2)] {
        w.row(
            "limits",
            "uid, lid, value",
            vec![v(known::GUEST_UID), v(lid), v(value)],
        );
    }
    for (pid, mid, wgt, isb) in [
        (0, "3:1:100", 10, 0),
        (1, "0:301:1", 5, 1),
        (2, "3:5:20", 3, 0),
    ] {
        w.row(
            "summon",
            "uid, cid, pid, mid, wgt, isb",
            vec![v(known::GUEST_UID), v(5), v(pid), v(mid), v(wgt), v(isb)],
        );
    }
    // Dark market: a skill for coins, weapon segments for diamonds (sold: amt < 0).
    for (pid, gid, mid, qty, cid, amt) in [(0, 1, 5, 1, 1, 2000), (1, 0, 302, 10, 5, -30)] {
        w.row(
            "darkmarket",
            "uid, pid, gid, mid, qty, cid, amt",
            vec![
                v(known::GUEST_UID),
                v(pid),
                v(gid),
                v(mid),
                v(qty),
                v(cid),
                v(amt),
            ],
        );
    }
    for (iid, value) in [(1, known::GUEST_COINS), (5, known::GUEST_DIAMONDS)] {
        w.row(
            "item",
            "uid, iid, value",
            vec![v(known::GUEST_UID), v(iid), v(value)],
        );
    }
    account(
        &mut w,
        known::ACCOUNT_UID,
        known::ACCOUNT,
        known::HASH,
        known::SALT,
        known::EMAIL,
        "13800000000",
    );
    player(
        &mut w,
        &mut rng,
        known::ACCOUNT_UID,
        known::ACCOUNT_GN,
        Some(known::FAMILY),
        None,
    );
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v(known::ACCOUNT_UID), v(known::FAMILY), v(0)],
    );
    for (a, b) in [
        (known::GUEST_UID, known::ACCOUNT_UID),
        (known::ACCOUNT_UID, known::GUEST_UID),
    ] {
        w.row(
            "friend",
            "uid, fid, since, recover, isre",
            vec![v(a), v(b), v("2020-11-01"), v("2020-11-30"), v(1)],
        );
    }
    let gift = OriginalMail {
        time: Some("2020-11-30 21:05:09".into()),
        kind: 1,
        from: "system".into(),
        subj: known::GIFT_SUBJECT.into(),
        body: "GIFT_1".into(),
        items: vec!["3:1:100".into(), "3:5:10".into()],
    };
    let simple = OriginalMail {
        time: Some("2020-12-01 08:00:00".into()),
        kind: 0,
        from: known::ACCOUNT_GN.into(),
        subj: known::MAIL_SUBJECT.into(),
        body: known::MAIL_BODY.into(),
        items: vec![],
    };
    let unread_gift = OriginalMail {
        subj: known::UNREAD_GIFT_SUBJECT.into(),
        items: vec![format!("3:1:{}", known::UNREAD_GIFT_COINS)],
        ..gift.clone()
    };
    mails.push((WORLD_DB.into(), known::GUEST_UID.into(), gift, true, "S"));
    mails.push((
        WORLD_DB.into(),
        known::GUEST_UID.into(),
        unread_gift,
        true,
        "",
    ));
    mails.push((WORLD_DB.into(), known::GUEST_UID.into(), simple, false, ""));

    // Regular players of s0 and of the merged s1.
    let merged = per_world / 4;
    for n in 0..per_world + merged {
        let in_s1 = n >= per_world;
        let base = format!(
            "lukseun{}M{}P{}",
            1_600_000_000 + n,
            n * 7 % 1_000_000,
            100 + n % 50
        );
        let name = match n % 10 {
            0 => format!("{}{n}", ODD_NAMES[(n / 10) % ODD_NAMES.len()]),
            _ => format!("player{n}"),
        };
        let (uid, gn) = if in_s1 {
            (
                format!("{base}_{MERGED_WORLD}"),
                format!("{name}_{MERGED_WORLD}"),
            )
        } else {
            (base.clone(), name)
        };
        let (acct, email) = if n % 3 == 0 {
            (format!("acct{n}"), format!("p{n}@example.com"))
        } else {
            (String::new(), String::new())
        };
        // Passwords of regular accounts: the known hash, so any may log in.
        let (hash, salt) = if acct.is_empty() {
            ("", "")
        } else {
            (known::HASH, known::SALT)
        };
        account(&mut w, &base, &acct, hash, salt, &email, "");
        let family = match n % 5 {
            0 => Some(families[1]),
            1 => Some(families[2]),
            _ => None,
        };
        let icon = match n % 4 {
            0 => None,
            1 => Some("abc"),
            _ => Some("7"),
        };
        player(&mut w, &mut rng, &uid, &gn, family, icon);
        if let Some(f) = family {
            w.row(
                "familyrole",
                "uid, name, role",
                vec![v(uid.as_str()), v(f), v(rng.below(3) * 4)],
            );
        }
        if n > 0 && n % 2 == 0 {
            let friend = format!(
                "lukseun{}M{}P{}",
                1_600_000_000 + n - 1,
                (n - 1) * 7 % 1_000_000,
                100 + (n - 1) % 50
            );
            let friend = if n > per_world {
                format!("{friend}_{MERGED_WORLD}")
            } else {
                friend
            };
            let since = if n % 4 == 0 { "" } else { "2020-10-10" };
            w.row(
                "friend",
                "uid, fid, since, recover, isre",
                vec![v(uid.as_str()), v(friend.as_str()), v(since), v(""), v(0)],
            );
        }
        if n % 3 == 0 {
            let mail = OriginalMail {
                time: Some(format!("2020-11-{:02} 10:00:00", 1 + n % 28)),
                kind: (n % 2) as i64,
                from: format!("sender {n} 🐉"),
                subj: format!("subject {n} '\"\\%"),
                body: format!("body {n}\n你好"),
                items: if n % 2 == 1 {
                    vec![format!("3:1:{}", n + 1)]
                } else {
                    vec![]
                },
            };
            let world = if in_s1 { MERGED_WORLD } else { WORLD_DB };
            mails.push((
                world.into(),
                uid.clone(),
                mail,
                n % 6 == 0,
                if n % 6 == 0 { "S" } else { "" },
            ));
        }
    }

    // Purchases (every seventh player bought diamonds) and exchange codes.
    for n in (0..per_world).step_by(7) {
        let uid = format!(
            "lukseun{}M{}P{}",
            1_600_000_000 + n,
            n * 7 % 1_000_000,
            100 + n % 50
        );
        w.row(
            "mall",
            "oid, world, uid, username, currency, cqty, mid, mqty, channel, time, repeatable, receive",
            vec![
                v(format!("GPA.{n:04}-order")),
                v(WORLD_DB),
                v(uid),
                v(format!("player{n}")),
                v("RMB"),
                v(7),
                v("5"),
                v(100),
                v("google"),
                v("2020-11-20 10:00:00"),
                v("y"),
                v(1),
            ],
        );
    }
    for (eid, pid, etime, receive) in [
        ("WELCOME2021", "DIAMOND_MIN", "2099-01-01 00:00:00", 100),
        ("USEDUP", "DIAMOND_MIN", "2099-01-01 00:00:00", 0),
        ("BADTIME", "DIAMOND_MIN", "soon", 5),
    ] {
        w.row(
            "exchange",
            "gid, eid, pid, etime, receive",
            vec![v("lukseun"), v(eid), v(pid), v(etime), v(receive)],
        );
    }

    // The odd ones.
    // The account of the merged player below also has a player in s0 (the base uid).
    let both = "lukseunBOTH1";
    account(&mut w, both, "", "", "", "", "");
    player(&mut w, &mut rng, both, "both_native", None, None);
    player(
        &mut w,
        &mut rng,
        &format!("{both}_{MERGED_WORLD}"),
        known::MERGED_GN,
        None,
        None,
    );
    // Empty and over-long game names; a name taken in our target already.
    for (uid, gn) in [
        ("lukseunEMPTYGN", ""),
        ("lukseunLONGGN", "abcdefghijklmnopqrstuvwxyz012345"),
        ("lukseunTAKEN", known::TAKEN_GN),
    ] {
        account(&mut w, uid, "", "", "", "", "");
        player(&mut w, &mut rng, uid, gn, None, None);
    }
    // A uid too long for ours (its player goes with it), a player without an account.
    let long_uid = format!("lukseun{}", "L".repeat(70));
    account(&mut w, &long_uid, "", "", "", "", "");
    player(&mut w, &mut rng, &long_uid, "longuid", None, None);
    player(
        &mut w,
        &mut rng,
        "lukseunNOACCOUNT",
        "noaccount",
        None,
        None,
    );
    // A password without salt; an email another account has (case differs).
    account(&mut w, "lukseunNOSALT", "nosalt", known::HASH, "", "", "");
    account(
        &mut w,
        "lukseunDUPMAIL",
        "dupmail",
        "",
        "",
        "old@example.com",
        "",
    );
    // Player odd rows: unknown item, a quantity over the max, unknown weapon, a passive of
    // a weapon not owned, a bad check-in date, a fid without role row, two families.
    let odd = "lukseunODD";
    account(&mut w, odd, "", "", "", "", "");
    player(&mut w, &mut rng, odd, "odd 'one'", Some(families[3]), None);
    w.row("item", "uid, iid, value", vec![v(odd), v(99_999), v(5)]);
    w.row("item", "uid, iid, value", vec![v(odd), v(10), v(5_000)]);
    w.row(
        "weapon",
        "uid, wid, star, level, skillpoint, segment",
        vec![v(odd), v(999), v(1), v(1), v(0), v(0)],
    );
    w.row(
        "weaponpassive",
        "uid, wid, pid, level",
        vec![v(odd), v(310), v(1), v(2)],
    );
    w.row(
        "check_in",
        "uid, date, reward",
        vec![v(odd), v("yesterday"), v(1)],
    );
    w.row(
        "factory",
        "uid, fid, level, workers, storage",
        vec![v(odd), v(2), v(1), v(9), v(0)],
    );
    w.row(
        "leaderboard",
        "uid, lid, stage, value",
        vec![v(odd), v(7), v(3000), v(1)],
    );
    w.row("timer", "uid, tid, time", vec![v(odd), v(18), v("someday")]);
    w.row(
        "timer",
        "uid, tid, time",
        vec![v(odd), v(28), v("2020-01-01 00:00:00")],
    );
    w.row("limits", "uid, lid, value", vec![v(odd), v(13), v(123)]);
    w.row(
        "darkmarket",
        "uid, pid, gid, mid, qty, cid, amt",
        vec![v(odd), v(0), v(3), v(1), v(1), v(5), v(10)],
    );
    w.row(
        "summon",
        "uid, cid, pid, mid, wgt, isb",
        vec![v(odd), v(1), v(0), v("3:1:5"), v(1), v(0)],
    );
    let two = "lukseunTWOFAM";
    w.row(
        "friend",
        "uid, fid, since, recover, isre",
        vec![v(two), v(known::GUEST_UID), v(""), v(""), v(0)],
    );
    let request = |from: &str| OriginalMail {
        time: Some("2020-11-30 20:00:00".into()),
        kind: 2,
        from: from.into(),
        subj: known::REQUEST_SUBJECT.into(),
        body: format!("{from} would like to be your friend"),
        items: vec![],
    };
    mails.push((
        WORLD_DB.into(),
        known::GUEST_UID.into(),
        request(known::REQUESTER_GN),
        false,
        "",
    ));
    // A request mail whose sender asked for nothing (no pending row): mail only.
    mails.push((
        WORLD_DB.into(),
        known::GUEST_UID.into(),
        request("stranger"),
        false,
        "",
    ));
    account(&mut w, two, "", "", "", "", "");
    player(
        &mut w,
        &mut rng,
        two,
        "two families",
        Some(families[1]),
        None,
    );
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v(two), v(families[1]), v(0)],
    );
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v(two), v(families[2]), v(4)],
    );
    // Family requests: an invitation from the guest's family (read: still pending, the
    // original deleted an answered one) and a join request to the guest (its owner); and
    // ones that cannot be made acceptable: a join request of nobody, one to a player in
    // no family, an invitation of a family with no owner, an unknown subject.
    for (uid, gn) in [
        (known::INVITEE_UID, known::INVITEE_GN),
        (known::APPLICANT_UID, known::APPLICANT_GN),
    ] {
        account(&mut w, uid, "", "", "", "", "");
        player(&mut w, &mut rng, uid, gn, None, None);
    }
    let family_mail = |from: &str, subj: &str| OriginalMail {
        time: Some("2020-11-30 19:00:00".into()),
        kind: 3,
        from: from.into(),
        subj: subj.into(),
        body: String::new(),
        items: vec![],
    };
    for (to, from, subj, read) in [
        (
            known::INVITEE_UID,
            known::FAMILY,
            known::INVITATION_SUBJECT,
            true,
        ),
        (
            known::GUEST_UID,
            known::APPLICANT_GN,
            known::JOIN_REQUEST_SUBJECT,
            false,
        ),
        (
            known::GUEST_UID,
            "nobody at all",
            known::JOIN_REQUEST_SUBJECT,
            false,
        ),
        (
            known::INVITEE_UID,
            known::APPLICANT_GN,
            known::JOIN_REQUEST_SUBJECT,
            false,
        ),
        (
            known::INVITEE_UID,
            families[1],
            known::INVITATION_SUBJECT,
            false,
        ),
        (known::INVITEE_UID, known::FAMILY, "FAMILY_WHATEVER", false),
    ] {
        mails.push((
            WORLD_DB.into(),
            to.into(),
            family_mail(from, subj),
            read,
            if read { "S" } else { "" },
        ));
    }

    // Accounts the rules repair or refuse: an empty unique_id; a salt without password; a
    // hash that is no hex; an account name (case differs) and a phone number another
    // account has; a cid the test gives an account of ours before the run.
    account(&mut w, "", "", "", "", "", "");
    account(&mut w, "lukseunNOHASH", "", "", "123", "", "");
    account(
        &mut w,
        "lukseunBADHASH",
        "badhash",
        &"zz".repeat(64),
        "1",
        "",
        "",
    );
    account(
        &mut w,
        known::DUPNAME_UID,
        "OldTimer",
        known::HASH,
        known::SALT,
        known::DUPNAME_EMAIL,
        "",
    );
    account(&mut w, "lukseunDUPPHONE", "", "", "", "", "13800000000");
    account(&mut w, known::DUPCID_UID, "", "", "", "", "");
    // Game names with a control character and with outer spaces; the second has a dark
    // market offer in a currency we do not know (its market is made anew).
    for (uid, gn) in [
        ("lukseunTABGN", "tab\there"),
        ("lukseunSPACEGN", " spaced "),
    ] {
        account(&mut w, uid, "", "", "", "", "");
        player(&mut w, &mut rng, uid, gn, None, None);
    }
    w.row(
        "timer",
        "uid, tid, time",
        vec![v("lukseunSPACEGN"), v(5), v(market_refreshed.as_str())],
    );
    w.row(
        "darkmarket",
        "uid, pid, gid, mid, qty, cid, amt",
        vec![v("lukseunSPACEGN"), v(0), v(3), v(1), v(1), v(999), v(10)],
    );
    // A uid our mail store cannot name (its player comes, its mailbox does not).
    account(&mut w, "lukseun#ODDUID", "", "", "", "", "");
    player(&mut w, &mut rng, "lukseun#ODDUID", "odd uid", None, None);
    mails.push((
        WORLD_DB.into(),
        "lukseun#ODDUID".into(),
        family_mail("someone", "hello"),
        false,
        "",
    ));
    // More odd rows of the odd player: an unknown role, a passive of a role not owned, an
    // unknown factory, a stage kind out of range, a friend `since` that is no date, a
    // running gift store with a cell we do not know; an unread gift whose items do not
    // parse; a mail over our subject limit and one that is not UTF-8 (below).
    let odd_rows: [(&str, &str, Vec<SqlValue>); 7] = [
        (
            "role",
            "uid, rid, star, level, skillpoint, segment",
            vec![v(odd), v(999), v(1), v(1), v(0), v(0)],
        ),
        (
            "rolepassive",
            "uid, rid, pid, level",
            vec![v(odd), v(401), v(101), v(1)],
        ),
        (
            "factory",
            "uid, fid, level, workers, storage",
            vec![v(odd), v(9), v(1), v(0), v(0)],
        ),
        ("stages", "uid, sid, stage", vec![v(odd), v(300), v(1)]),
        (
            "friend",
            "uid, fid, since, recover, isre",
            vec![v(odd), v(known::ACCOUNT_UID), v("sometime"), v(""), v(1)],
        ),
        (
            "timer",
            "uid, tid, time",
            vec![v(odd), v(29), v("2099-01-01 00:00:00")],
        ),
        (
            "summon",
            "uid, cid, pid, mid, wgt, isb",
            vec![v(odd), v(16), v(0), v("3:99999:1"), v(1), v(0)],
        ),
    ];
    for (table, columns, values) in odd_rows {
        w.row(table, columns, values);
    }
    mails.push((
        WORLD_DB.into(),
        odd.into(),
        OriginalMail {
            time: None,
            kind: 1,
            from: "system".into(),
            subj: "gift of odd items".into(),
            body: String::new(),
            items: vec!["3:coins:1".into()],
        },
        false,
        "",
    ));
    mails.push((
        WORLD_DB.into(),
        odd.into(),
        OriginalMail {
            time: None,
            kind: 0,
            from: "long".into(),
            subj: "s".repeat(201),
            body: String::new(),
            items: vec![],
        },
        false,
        "",
    ));
    // Orders and codes with a value longer than our column.
    w.row(
        "mall",
        "oid, world, uid, username, currency, cqty, mid, mqty, channel, time, repeatable, receive",
        vec![
            v("GPA.LONG-order"),
            v(WORLD_DB),
            v(odd),
            v("odd"),
            v("RMB"),
            v(7),
            v("5".repeat(65)),
            v(100),
            v("google"),
            v("2020-11-20 10:00:00"),
            v("y"),
            v(1),
        ],
    );
    w.row(
        "exchange",
        "gid, eid, pid, etime, receive",
        vec![
            v("lukseun"),
            v("L".repeat(65)),
            v("DIAMOND_MIN"),
            v("2099-01-01 00:00:00"),
            v(1),
        ],
    );
    w.flush().map_err(sql)?;

    // Rows a restored dump may hold although the original's foreign keys forbid them.
    w.conn
        .query_drop("SET SESSION foreign_key_checks = 0")
        .map_err(sql)?;
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v(odd), v("no such family"), v(0)],
    );
    w.row(
        "familyrole",
        "uid, name, role",
        vec![v("lukseunGHOST"), v(families[0]), v(0)],
    );
    w.row(
        "friend",
        "uid, fid, since, recover, isre",
        vec![v(odd), v("lukseunGHOST"), v("2020-01-01"), v(""), v(0)],
    );
    w.row(
        "item",
        "uid, iid, value",
        vec![v("lukseunGHOST"), v(1), v(1)],
    );
    w.row(
        "familyhistory",
        "name, date, msg",
        vec![v("a family gone"), v("2020-11-30 12:00:00"), v("fm_3:x")],
    );
    w.flush().map_err(sql)?;
    // Negative quantities and an account name over 32 characters (then its password has
    // no name to log in with): the original's columns are unsigned and its names 24
    // characters, but a copy restored through another tool may have other types.
    for alter in [
        "ALTER TABLE `user`.`info` MODIFY `account` VARCHAR(64) NOT NULL DEFAULT ''",
        "ALTER TABLE `{db}`.`item` MODIFY `value` INT NOT NULL DEFAULT 0",
        "ALTER TABLE `{db}`.`armor` MODIFY `quantity` INT DEFAULT 0",
        "ALTER TABLE `{db}`.`weapon` MODIFY `segment` INT NOT NULL DEFAULT 0",
    ] {
        w.conn
            .query_drop(alter.replace("{db}", WORLD_DB))
            .map_err(sql)?;
    }
    account(
        &mut w,
        "lukseunLONGACCT",
        &"a".repeat(33),
        known::HASH,
        known::SALT,
        "",
        "",
    );
    w.row("item", "uid, iid, value", vec![v(odd), v(2), v(-5)]);
    w.row(
        "armor",
        "uid, aid, level, quantity",
        vec![v(odd), v(4), v(12), v(-1)],
    );
    w.row(
        "weapon",
        "uid, wid, star, level, skillpoint, segment",
        vec![v(odd), v(405), v(0), v(1), v(0), v(-3)],
    );
    w.flush().map_err(sql)?;
    w.conn
        .query_drop("SET SESSION foreign_key_checks = 1")
        .map_err(sql)?;

    // Mail: the players' and the odd files.
    let mut count = 0u64;
    for (world, uid, mail, in_cur, flags) in &mails {
        count += 1;
        let key = format!(
            "{}.M{}P4242Q{count}.orighost",
            1_606_700_000 + count,
            count * 13 % 1_000_000
        );
        write_original_mail(
            maildir,
            world,
            uid,
            &key,
            *in_cur,
            flags,
            original_mail::render(mail, &key).as_bytes(),
        )?;
    }
    let broken: [(&str, &[u8]); 5] = [
        (
            "1606799001.M1P1Q1.orighost",
            b"type: 0\nfrom: a\nsubj: %E4%BD\n\nbody",
        ),
        ("1606799002.M1P1Q2.orighost", b"from: a\nsubj: b\n\nno type"),
        (
            "1606799003.M1P1Q3.orighost",
            b"type: 7\nfrom: a\nsubj: b\n\nunknown type",
        ),
        (
            "not a key",
            b"type: 0\nfrom: \nsubj: odd%20name\n\nempty sender",
        ),
        (
            "1606799004.M1P1Q4.orighost",
            b"type: 0\nfrom: \xff\xfe\nsubj: b\n\nnot UTF-8",
        ),
    ];
    for (key, raw) in broken {
        count += 1;
        write_original_mail(maildir, WORLD_DB, odd, key, false, "", raw)?;
    }
    count += 1;
    write_original_mail(
        maildir,
        WORLD_DB,
        "lukseunNOBODY",
        "1606799009.M1P1Q9.orighost",
        false,
        "",
        b"type: 0\nfrom: a\nsubj: b\n\nto nobody",
    )?;

    let mut out = std::mem::take(&mut w.out);
    out.accounts = out.rows.get("info").copied().unwrap_or(0);
    out.players = out.rows.get("player").copied().unwrap_or(0);
    out.mails = count;
    Ok(out)
}

fn account(
    w: &mut Writer,
    uid: &str,
    acct: &str,
    hash: &str,
    salt: &str,
    email: &str,
    phone: &str,
) {
    w.row(
        "info",
        "unique_id, cuid, password, account, email, phone_number, salt",
        vec![
            v(uid),
            v(format!("{uid}#c")),
            v(hash),
            v(acct),
            v(email),
            v(phone),
            v(salt),
        ],
    );
}

/// A player with a row in most per-player tables, values drawn from `rng`.
fn player(
    w: &mut Writer,
    rng: &mut Rng,
    uid: &str,
    gn: &str,
    family: Option<&str>,
    icon: Option<&str>,
) {
    w.row(
        "player",
        "uid, gn, fid, icon, intro",
        vec![
            v(uid),
            v(gn),
            family.map_or(SqlValue::NULL, v),
            icon.map_or(SqlValue::NULL, v),
            v("自我介绍 'hi' \\ 🙂"),
        ],
    );
    let exp = rng.below(50_000);
    // Players of the family requests are past the family level (18) whatever was drawn.
    let exp = if [known::INVITEE_UID, known::APPLICANT_UID].contains(&uid) {
        40_000
    } else {
        exp
    };
    let energy = if rng.below(3) == 0 {
        SqlValue::NULL
    } else {
        v(rng.below(130))
    };
    w.row(
        "progress",
        "uid, energy, exp, vipexp, rid, wid",
        vec![v(uid), energy, v(exp), v(rng.below(500)), v(402), v(301)],
    );
    // The known guest's coins and diamonds are set by the caller.
    let drawn: &[i64] = if uid == known::GUEST_UID {
        &[9]
    } else {
        &[1, 5, 9]
    };
    for &iid in drawn {
        w.row(
            "item",
            "uid, iid, value",
            vec![v(uid), v(iid), v(rng.below(100_000))],
        );
    }
    let wid = [301, 302, 303, 401][rng.below(4) as usize];
    w.row(
        "weapon",
        "uid, wid, star, level, skillpoint, segment",
        vec![
            v(uid),
            v(wid),
            v(1 + rng.below(3)),
            v(1 + rng.below(50)),
            v(rng.below(5)),
            v(rng.below(30)),
        ],
    );
    w.row(
        "weapon",
        "uid, wid, star, level, skillpoint, segment",
        vec![v(uid), v(310), v(0), v(1), v(0), v(rng.below(9))],
    );
    w.row(
        "weaponpassive",
        "uid, wid, pid, level",
        vec![v(uid), v(wid), v(1 + rng.below(4)), v(rng.below(5))],
    );
    w.row(
        "role",
        "uid, rid, star, level, skillpoint, segment",
        vec![
            v(uid),
            v(402),
            v(1),
            v(1 + rng.below(40)),
            v(0),
            v(rng.below(20)),
        ],
    );
    w.row(
        "rolepassive",
        "uid, rid, pid, level",
        vec![v(uid), v(402), v(101 + rng.below(10)), v(1)],
    );
    w.row(
        "skill",
        "uid, sid, level",
        vec![v(uid), v(1 + rng.below(30)), v(1 + rng.below(10))],
    );
    w.row(
        "armor",
        "uid, aid, level, quantity",
        vec![
            v(uid),
            v(1 + rng.below(4)),
            v(1 + rng.below(11)),
            v(rng.below(9)),
        ],
    );
    w.row(
        "sciences",
        "uid, ssa, level",
        vec![v(uid), v(65_536), v(1 + rng.below(5))],
    );
    w.row(
        "elements",
        "uid, eid, val",
        vec![v(uid), v(1 + rng.below(6)), v(rng.below(10))],
    );
    w.row(
        "stages",
        "uid, sid, stage",
        vec![v(uid), v(0), v(1 + rng.below(200))],
    );
    w.row(
        "check_in",
        "uid, date, reward",
        vec![v(uid), v(format!("2020-11-{:02}", 1 + rng.below(28))), v(1)],
    );
    // Factory: -1 holds the unassigned workers and the total, -2 the wishing pool.
    let food_workers = rng.below(3);
    for (fid, level, workers, storage) in [
        (-1, 1, 1, 1 + food_workers + 1),
        (-2, 1 + rng.below(3), 0, 0),
        (0, 1 + rng.below(3), food_workers, rng.below(500)),
        (1, 1, 0, rng.below(500)),
        (3, 1, 0, rng.below(5)),
    ] {
        w.row(
            "factory",
            "uid, fid, level, workers, storage",
            vec![v(uid), v(fid), v(level), v(workers), v(storage)],
        );
    }
    if rng.below(5) == 0 {
        let best = 1 + rng.below(10_000);
        for (lid, value) in [(1, best), (2, best * (1 + rng.below(4)))] {
            w.row(
                "leaderboard",
                "uid, lid, stage, value",
                vec![v(uid), v(lid), v(3000), v(value)],
            );
        }
    }
    w.row(
        "achievement",
        "uid, aid, value, reward",
        vec![
            v(uid),
            v(1 + rng.below(20)),
            v(rng.below(50)),
            SqlValue::NULL,
        ],
    );
}

/// One file of the original's store: `<root>/.<world>/.<uid>/{new,cur}/<key>[:2,<flags>]`.
fn write_original_mail(
    root: &Path,
    world: &str,
    uid: &str,
    key: &str,
    in_cur: bool,
    flags: &str,
    raw: &[u8],
) -> io::Result<()> {
    let dir = root.join(format!(".{world}")).join(format!(".{uid}"));
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let path = if in_cur {
        dir.join("cur").join(format!("{key}:2,{flags}"))
    } else {
        dir.join("new").join(key)
    };
    fs::write(path, raw)
}
