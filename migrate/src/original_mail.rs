//! The original's mail files, read (and, for the test source, written): Python `mailbox`
//! messages whose headers are the game fields as set (`time`, `from`, `subj`, `type`,
//! `items`, `key`), with `from`, `subj` and the body percent-encoded, in
//! `<root>/.<world>/.<uid>/{new,cur}/<key>[:2,<flags>]`. Pure: no I/O.

use std::fmt;

use crate::map::{percent_decode, percent_encode};

/// One original mail, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalMail {
    /// `time` as written (`YYYY-MM-DD HH:MM:SS`, UTC+8), if any.
    pub time: Option<String>,
    pub kind: i64,
    pub from: String,
    pub subj: String,
    pub body: String,
    /// `<group>:<id>:<qty>` strings.
    pub items: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum MailParseError {
    NotUtf8,
    NoHeaderEnd,
    MissingType,
    BadType(String),
    /// A percent-encoded field whose escapes are broken or decode to invalid UTF-8.
    BrokenEncoding(&'static str),
}

impl fmt::Display for MailParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailParseError::NotUtf8 => write!(f, "file is not UTF-8"),
            MailParseError::NoHeaderEnd => write!(f, "no blank line after the headers"),
            MailParseError::MissingType => write!(f, "no type header"),
            MailParseError::BadType(t) => write!(f, "type {t:?} is not a number"),
            MailParseError::BrokenEncoding(field) => {
                write!(f, "{field} has broken percent-encoding")
            }
        }
    }
}

impl std::error::Error for MailParseError {}

/// Parses one mail file (LF or CRLF line ends; folded header lines joined).
pub fn parse(raw: &[u8]) -> Result<OriginalMail, MailParseError> {
    let text = std::str::from_utf8(raw).map_err(|_| MailParseError::NotUtf8)?;
    let text = text.replace("\r\n", "\n");
    let (head, body) = match text.split_once("\n\n") {
        Some(parts) => parts,
        // Headers only, ending in one newline: an empty body.
        None if text.ends_with('\n') => (&text[..text.len() - 1], ""),
        None => return Err(MailParseError::NoHeaderEnd),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line.trim_start());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let kind_text = field("type").ok_or(MailParseError::MissingType)?;
    let kind = kind_text
        .parse::<i64>()
        .map_err(|_| MailParseError::BadType(kind_text.to_string()))?;
    let decode = |name: &'static str, value: &str| {
        percent_decode(value).ok_or(MailParseError::BrokenEncoding(name))
    };
    let items = field("items")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(OriginalMail {
        time: field("time").map(str::to_string),
        kind,
        from: decode("from", field("from").unwrap_or(""))?,
        subj: decode("subj", field("subj").unwrap_or(""))?,
        body: decode("body", body.trim_end_matches('\n'))?,
        items,
    })
}

/// The file the original wrote for `mail` under `key` (the test source's generator).
pub fn render(mail: &OriginalMail, key: &str) -> String {
    let mut out = String::new();
    if let Some(time) = &mail.time {
        out.push_str(&format!("time: {time}\n"));
    }
    out.push_str(&format!("type: {}\n", mail.kind));
    out.push_str(&format!("from: {}\n", percent_encode(&mail.from)));
    out.push_str(&format!("subj: {}\n", percent_encode(&mail.subj)));
    if !mail.items.is_empty() {
        out.push_str(&format!("items: {}\n", mail.items.join(",")));
    }
    out.push_str(&format!("key: {key}\n\n"));
    out.push_str(&percent_encode(&mail.body));
    out
}

/// A Maildir file name split into key and flags: `<key>` (in `new/`) or
/// `<key>:2,<flags>`.
pub fn split_file_name(name: &str) -> (&str, &str) {
    match name.split_once(":2,") {
        Some((key, flags)) => (key, flags),
        None => (name.split(':').next().unwrap_or(name), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OriginalMail {
        OriginalMail {
            time: Some("2020-11-30 21:05:09".into()),
            kind: 1,
            from: "系统 'admin' \"x\\y\"".into(),
            subj: "礼物 🎁 100%".into(),
            body: "line one\nline two: 你好".into(),
            items: vec!["3:1:100".into(), "0:301:5".into()],
        }
    }

    #[test]
    fn files_round_trip_byte_for_byte() {
        let key = "1606741509.M123456P42Q3.host";
        let file = render(&sample(), key);
        assert_eq!(
            file,
            "time: 2020-11-30 21:05:09\ntype: 1\n\
             from: %E7%B3%BB%E7%BB%9F%20%27admin%27%20%22x%5Cy%22\n\
             subj: %E7%A4%BC%E7%89%A9%20%F0%9F%8E%81%20100%25\n\
             items: 3:1:100,0:301:5\nkey: 1606741509.M123456P42Q3.host\n\n\
             line%20one%0Aline%20two%3A%20%E4%BD%A0%E5%A5%BD"
        );
        assert_eq!(parse(file.as_bytes()).unwrap(), sample());
        assert_eq!(
            parse(file.replace('\n', "\r\n").as_bytes()).unwrap(),
            sample()
        );
    }

    #[test]
    fn python_folded_headers_and_missing_fields() {
        let file = "Time: 2020-01-01 00:00:00\ntype: 0\nsubj: a%20\n b\nkey: k\n\n";
        let mail = parse(file.as_bytes()).unwrap();
        assert_eq!((mail.subj.as_str(), mail.from.as_str()), ("a b", ""));
        assert_eq!(mail.body, "");
        assert!(mail.items.is_empty());
        assert_eq!(mail.time.as_deref(), Some("2020-01-01 00:00:00"));
        assert_eq!(parse(b"type: 2\n").unwrap().kind, 2);
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        assert_eq!(parse(b"from: x\n\nbody"), Err(MailParseError::MissingType));
        assert_eq!(
            parse(b"type: gift\n\n"),
            Err(MailParseError::BadType("gift".into()))
        );
        assert_eq!(
            parse(b"type: 0\nsubj: %E4%BD\n\n"),
            Err(MailParseError::BrokenEncoding("subj"))
        );
        assert_eq!(
            parse(b"type: 0\n\n%zz"),
            Err(MailParseError::BrokenEncoding("body"))
        );
        assert_eq!(parse(b"type: 0"), Err(MailParseError::NoHeaderEnd));
        assert_eq!(parse(b"\xff\xfe"), Err(MailParseError::NotUtf8));
    }

    #[test]
    fn file_names_give_key_and_flags() {
        assert_eq!(split_file_name("1.M2P3Q4.h"), ("1.M2P3Q4.h", ""));
        assert_eq!(split_file_name("1.M2P3Q4.h:2,RS"), ("1.M2P3Q4.h", "RS"));
        assert_eq!(split_file_name("1.M2P3Q4.h:1,x"), ("1.M2P3Q4.h", ""));
    }
}
