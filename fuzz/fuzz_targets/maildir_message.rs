//! `mail::message::parse` on arbitrary bytes (a Maildir file may be damaged or planted), and
//! `render` -> `parse` round trips for mails that pass the mail API's field rules.
//!
//! Input: the whole input is parsed as a message file; it is also split on NUL into kind,
//! from, subject, items (comma-separated) and body for the round trip. The kind part is a
//! type number as the API takes it (`0`..`3`), or one of the names files written before
//! the numbers hold (`gift`, `family_invite`, ...); anything else, like a mail that breaks
//! the API's rules, is skipped: the service never renders one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail::api::{MAX_BODY_BYTES, MAX_FROM_CHARS, MAX_ITEMS, MAX_SUBJECT_CHARS};
use mail::message::{parse, render, rfc5322_date, Mail, MailType};

/// A key in the form the store makes them.
const KEY: &str = "1795866545.M123456P42Q7.fuzzhost";

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        // Whatever parsed and could have been sent through the API renders back the same.
        if acceptable(&message.mail) {
            let again = parse(render(&message.key, 0, &message.mail).as_bytes())
                .expect("a rendered message parses");
            assert_eq!(again.mail, message.mail);
            assert_eq!(again.key, message.key);
        }
    }
    round_trip(data);
});

fn round_trip(data: &[u8]) {
    let mut parts = data.splitn(5, |&b| b == 0);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (kind, from, subject, items, body) = (text(), text(), text(), text(), text());
    let kind = match kind.parse::<i64>() {
        Ok(code) => MailType::from_code(code),
        Err(_) => MailType::from_name(&kind),
    };
    let Some(kind) = kind else {
        return;
    };
    let mail = Mail {
        kind,
        // The API stores the display name with its whitespace collapsed.
        from: from.split_whitespace().collect::<Vec<_>>().join(" "),
        subject,
        body,
        items: if items.is_empty() {
            Vec::new()
        } else {
            items.split(',').map(str::to_string).collect()
        },
    };
    if !acceptable(&mail) {
        return;
    }
    let unix_secs = data.iter().fold(0u64, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 253_402_300_800; // before year 10000, so the date stays four digits
    let rendered = render(KEY, unix_secs, &mail);
    assert!(rendered.is_ascii(), "render produced non-ASCII");
    let message = parse(rendered.as_bytes()).unwrap_or_else(|e| panic!("{e}: {rendered}"));
    assert_eq!(message.key, KEY);
    assert_eq!(message.date, rfc5322_date(unix_secs));
    assert_eq!(
        message.mail, mail,
        "round trip changed the mail:\n{rendered}"
    );
}

/// The mail API's field rules (mail::api::check_mail, which is private), restated; any
/// `MailType` is one the API takes.
fn acceptable(mail: &Mail) -> bool {
    let from_ok = !mail.from.trim().is_empty()
        && mail.from.chars().count() <= MAX_FROM_CHARS
        && mail.from == mail.from.split_whitespace().collect::<Vec<_>>().join(" ");
    let no_control =
        !mail.from.chars().any(char::is_control) && !mail.subject.chars().any(char::is_control);
    from_ok
        && no_control
        && mail.subject.chars().count() <= MAX_SUBJECT_CHARS
        && mail.body.len() <= MAX_BODY_BYTES
        && !mail.body.contains('\0')
        && mail.items.len() <= MAX_ITEMS
        && mail.items.iter().all(|item| is_item(item))
}

fn is_item(item: &str) -> bool {
    let parts: Vec<&str> = item.split(':').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 32
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        })
}
