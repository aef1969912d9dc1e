//! Pure mapping rules from the original's values to ours: no I/O, unit-tested. Each rule
//! that changes or refuses a value is listed in docs/migrate.md ("Bad rows").

use sha2::{Digest, Sha256};

/// Marker before an original password hash: `orig-scrypt$<salt>$<hash hex>` (the worker's
/// login verifies it once and stores ours).
pub const ORIGINAL_HASH_SCHEME: &str = "orig-scrypt";
/// Our columns' limits (worker/migrations): `unique_id` VARCHAR(64), `gn` VARCHAR(20),
/// `account` VARCHAR(32), `cid` CHAR(32).
pub const MAX_UID_CHARS: usize = 64;
pub const MAX_GN_CHARS: usize = 20;
pub const MAX_ACCOUNT_CHARS: usize = 32;
pub const MAX_CID_CHARS: usize = 32;
/// The original wrote its times in Asia/Shanghai (UTC+8, no daylight saving).
const ORIGINAL_UTC_OFFSET_SECS: i64 = 8 * 3600;

/// The original's `''` meant "not set"; ours is NULL.
pub fn blank_to_none(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// The stored form of the original's hash and salt, or why it cannot be kept. Both empty:
/// a guest without password (`Ok(None)`).
pub fn original_password(hash: &str, salt: &str) -> Result<Option<String>, &'static str> {
    match (hash.is_empty(), salt.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) | (false, true) => return Err("password hash or salt missing"),
        _ => {}
    }
    if hash.len() != 128 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("password hash is not 64 bytes of hex");
    }
    if salt.contains('$') || salt.chars().any(char::is_control) {
        return Err("salt holds '$' or control characters");
    }
    Ok(Some(format!(
        "{ORIGINAL_HASH_SCHEME}${salt}${}",
        hash.to_ascii_lowercase()
    )))
}

/// Our family id for the original's family `name` in `world`: 16 hex digits of a hash,
/// the same on every run (so a resumed run finds the family it made).
pub fn family_id(world: &str, name: &str) -> String {
    // The world's length first: no (world, name) pair hashes the text of another.
    let digest = Sha256::digest(format!("{}:{world}:{name}", world.len()).as_bytes());
    shared::ids::hex(&digest[..8])
}

/// A game name that fits ours: kept when it is 1..=20 characters without control
/// characters and `taken` says it is free; else `<up to 11 characters of it>~<8 hex of the
/// uid's hash>` (20 characters at most, unique per uid).
pub fn repaired_gn(gn: &str, uid: &str, taken: impl Fn(&str) -> bool) -> (String, bool) {
    let chars = gn.chars().count();
    let fits =
        (1..=MAX_GN_CHARS).contains(&chars) && !gn.chars().any(char::is_control) && gn.trim() == gn;
    if fits && !taken(gn) {
        return (gn.to_string(), false);
    }
    let stem: String = gn
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(11)
        .collect();
    let tag = &shared::ids::hex(&Sha256::digest(uid.as_bytes()))[..8];
    (format!("{stem}~{tag}"), true)
}

/// The uid a merged world's player has with us. The original's merge renamed players of
/// world `from` to `<uid>_<from>` in the target world's database; the account's uid is
/// the part before the suffix, when that is an account.
pub fn unmerged_uid(
    uid: &str,
    merged_from: &[String],
    is_account: impl Fn(&str) -> bool,
) -> String {
    if is_account(uid) {
        return uid.to_string();
    }
    for world in merged_from {
        if let Some(base) = uid.strip_suffix(&format!("_{world}")) {
            if is_account(base) {
                return base.to_string();
            }
        }
    }
    uid.to_string()
}

/// `YYYY-MM-DD` (the original's dates) checked, as SQL's DATE text.
pub fn sql_date(text: &str) -> Option<String> {
    let (y, m, d) = split_date(text.get(..10)?)?;
    if text.len() > 10 && !text[10..].starts_with([' ', 'T']) {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

fn split_date(text: &str) -> Option<(i64, i64, i64)> {
    let mut parts = text.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1970..=9999).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    if d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds of the original's `YYYY-MM-DD HH:MM:SS` (UTC+8); a date alone is its
/// midnight. Fractions of seconds (`.123456`) are dropped.
pub fn original_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (y, m, d) = split_date(text.get(..10)?)?;
    let mut secs = 0;
    if text.len() > 10 {
        let clock = text[10..].strip_prefix([' ', 'T'])?;
        let clock = clock.split('.').next()?;
        let mut parts = clock.split(':');
        let h: i64 = parts.next()?.parse().ok()?;
        let mi: i64 = parts.next()?.parse().ok()?;
        let s: i64 = parts.next().unwrap_or("0").parse().ok()?;
        if parts.next().is_some() || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0 {
            return None;
        }
        secs = h * 3600 + mi * 60 + s;
    }
    Some(shared::civil::days_from_civil(y, m, d) * 86_400 + secs - ORIGINAL_UTC_OFFSET_SECS)
}

/// The original's text of unix time `secs` (`YYYY-MM-DD HH:MM:SS`, UTC+8): what
/// [`original_time`] reads.
pub fn original_time_text(secs: i64) -> String {
    let local = secs + ORIGINAL_UTC_OFFSET_SECS;
    let (y, m, d) = shared::civil::civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Percent-decoding of the original's mail fields (Python's `quote(.., safe='')`): the
/// text, or `None` when an escape is malformed or the bytes are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encoding as the original wrote its mail fields (every byte but
/// `A-Z a-z 0-9 _ . - ~`): the generator's side of [`percent_decode`].
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_keep_the_original_hash_behind_the_marker() {
        let hex = "ab".repeat(64);
        assert_eq!(
            original_password(&hex, "0123").unwrap().unwrap(),
            format!("orig-scrypt$0123${hex}")
        );
        assert_eq!(
            original_password(&"AB".repeat(64), "9").unwrap().unwrap(),
            format!("orig-scrypt$9${hex}"),
            "hex lower-cased"
        );
        assert_eq!(original_password("", "").unwrap(), None);
        assert!(original_password(&hex, "").is_err());
        assert!(original_password("", "12").is_err());
        assert!(original_password("abc", "12").is_err());
        assert!(original_password(&"zz".repeat(64), "12").is_err());
        assert!(original_password(&hex, "1$2").is_err());
    }

    #[test]
    fn family_ids_are_stable_hex_and_per_world() {
        let a = family_id("s0", "龍の一族");
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, family_id("s0", "龍の一族"));
        assert_ne!(a, family_id("s1", "龍の一族"));
        assert_ne!(family_id("s0", "a\0b"), family_id("s0\0a", "b"));
    }

    #[test]
    fn game_names_are_kept_or_repaired_to_fit_and_be_unique() {
        let free = |_: &str| false;
        assert_eq!(repaired_gn("张三🐉", "u1", free), ("张三🐉".into(), false));
        let (long, repaired) = repaired_gn("abcdefghijklmnopqrstuvwxyz", "u1", free);
        assert!(repaired);
        assert_eq!(long.chars().count(), 20);
        assert!(long.starts_with("abcdefghijk~"));
        let (empty, repaired) = repaired_gn("", "u1", free);
        assert!(repaired && empty.starts_with('~') && empty.len() == 9);
        let taken = |n: &str| n == "dup";
        let (a, _) = repaired_gn("dup", "u1", taken);
        let (b, _) = repaired_gn("dup", "u2", taken);
        assert_ne!(a, b, "two players of one name get different names");
        assert!(repaired_gn("tab\there", "u1", free).1);
        assert!(repaired_gn(" lead", "u1", free).1);
        // 20 emoji fit (characters, not bytes)
        assert!(!repaired_gn(&"😀".repeat(20), "u", free).1);
        assert!(repaired_gn(&"😀".repeat(21), "u", free).1);
    }

    #[test]
    fn merged_uids_lose_their_world_suffix_when_that_is_an_account() {
        let accounts = ["abc", "x_y"];
        let is = |u: &str| accounts.contains(&u);
        let merged = vec!["s1".to_string()];
        assert_eq!(unmerged_uid("abc_s1", &merged, is), "abc");
        assert_eq!(unmerged_uid("abc", &merged, is), "abc");
        assert_eq!(
            unmerged_uid("x_y", &merged, is),
            "x_y",
            "an account as it is"
        );
        assert_eq!(
            unmerged_uid("zzz_s1", &merged, is),
            "zzz_s1",
            "no such account"
        );
        assert_eq!(
            unmerged_uid("abc_s2", &merged, is),
            "abc_s2",
            "s2 not merged"
        );
    }

    #[test]
    fn dates_and_times_of_the_original() {
        assert_eq!(sql_date("2020-02-29").as_deref(), Some("2020-02-29"));
        assert_eq!(sql_date("2020-2-9").as_deref(), None, "10 characters");
        assert_eq!(sql_date("2019-02-29"), None);
        assert_eq!(sql_date("2020-13-01"), None);
        assert_eq!(sql_date(""), None);
        assert_eq!(
            sql_date("2020-01-01 10:00:00").as_deref(),
            Some("2020-01-01")
        );
        assert_eq!(sql_date("2020-01-01x"), None);
        assert_eq!(original_time("1970-01-01 08:00:00"), Some(0));
        assert_eq!(original_time("2020-12-01 08:00:00"), Some(1_606_780_800));
        assert_eq!(
            original_time("2020-12-01 08:00:00.123456"),
            Some(1_606_780_800)
        );
        assert_eq!(original_time("2020-12-01"), Some(1_606_780_800 - 8 * 3600));
        assert_eq!(original_time("2020-12-01 24:00:00"), None);
        assert_eq!(original_time("yesterday"), None);
        // multi-byte text never panics
        assert_eq!(original_time("２０２０-12-01"), None);
        assert_eq!(sql_date("２０２０-12-01"), None);
    }

    #[test]
    fn original_time_texts_round_trip() {
        for secs in [
            0,
            1_606_780_800,
            1_606_780_800 + 86_399,
            4_102_444_800,
            951_782_400,
        ] {
            assert_eq!(
                original_time(&original_time_text(secs)),
                Some(secs),
                "{secs}"
            );
        }
        assert_eq!(original_time_text(1_606_780_800), "2020-12-01 08:00:00");
    }

    #[test]
    fn percent_coding_round_trips_and_refuses_broken_text() {
        for text in ["", "plain", "a b/c?d=e&f", "你好 🎁", "100%", "\"'\\\n"] {
            assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Some(text));
        }
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_decode("%E4%BD"), None, "cut UTF-8");
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("50%"), None);
        assert_eq!(percent_decode("%e4%bd%a0").as_deref(), Some("你"));
    }

    #[test]
    fn blanks_are_null() {
        assert_eq!(blank_to_none(Some("".into())), None);
        assert_eq!(blank_to_none(Some("  ".into())), None);
        assert_eq!(blank_to_none(None), None);
        assert_eq!(blank_to_none(Some("a".into())).as_deref(), Some("a"));
    }
}
