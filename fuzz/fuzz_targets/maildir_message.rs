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
use mail::api::checked_mail;
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
    let items = if items.is_empty() {
        Vec::new()
    } else {
        items.split(',').map(str::to_string).collect()
    };
    // The mail as the API would store it (its display name's whitespace collapsed).
    let Ok(mail) = checked_mail(i64::from(kind.code()), from, subject, body, items) else {
        return;
    };
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

/// Whether the mail API would store `mail` as it is: its own field rules
/// ([`checked_mail`], what `/send` applies) answer the same mail.
fn acceptable(mail: &Mail) -> bool {
    let checked = checked_mail(
        i64::from(mail.kind.code()),
        mail.from.clone(),
        mail.subject.clone(),
        mail.body.clone(),
        mail.items.clone(),
    );
    checked.as_ref() == Ok(mail)
}
