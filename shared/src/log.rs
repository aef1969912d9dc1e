//! Structured logging: one logfmt line per event on stdout.
//!
//! `ts=2026-11-27T11:43:03.123Z level=info svc=gate msg=listening addr=0.0.0.0:8880`
//!
//! Use the macros: `shared::info!("listening", addr = addr, gid = 3);`.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

static SERVICE: OnceLock<String> = OnceLock::new();
static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Names the service in every line and sets the lowest level written.
pub fn init(service: &str, level: Level) {
    let _ = SERVICE.set(service.to_string());
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// Writes one event. Prefer the macros, which skip formatting for disabled levels.
pub fn emit(level: Level, msg: &str, fields: &[(&str, &dyn Display)]) {
    let line = format_line(now_millis(), level, msg, fields);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn format_line(millis: u64, level: Level, msg: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = String::with_capacity(128);
    line.push_str("ts=");
    push_timestamp(&mut line, millis);
    line.push_str(" level=");
    line.push_str(level.as_str());
    if let Some(svc) = SERVICE.get() {
        line.push_str(" svc=");
        push_value(&mut line, svc);
    }
    line.push_str(" msg=");
    push_value(&mut line, msg);
    let mut value = String::new();
    for (key, v) in fields {
        value.clear();
        let _ = write!(value, "{v}");
        line.push(' ');
        line.push_str(key);
        line.push('=');
        push_value(&mut line, &value);
    }
    line.push('\n');
    line
}

/// Quotes values that contain spaces, quotes, `=` or control characters, so every line
/// stays one parseable logfmt record whatever a client sent.
fn push_value(line: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{{{:x}}}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, from the civil-date algorithm (no time crate needed).
fn push_timestamp(line: &mut String, millis: u64) {
    let secs = millis / 1000;
    let (year, month, day) = crate::civil::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let _ = write!(
        line,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        millis % 1000
    );
}

#[macro_export]
macro_rules! log_at {
    ($level:expr, $msg:expr $(, $key:ident = $value:expr)* $(,)?) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, $msg, &[$((stringify!($key), &$value as &dyn ::std::fmt::Display)),*]);
        }
    };
}

#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Debug, $($t)*) };
}

#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Info, $($t)*) };
}

#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Warn, $($t)*) };
}

#[macro_export]
macro_rules! error {
    ($($t:tt)*) => { $crate::log_at!($crate::log::Level::Error, $($t)*) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_logfmt_with_quoted_values() {
        let line = format_line(
            1_795_780_983_123,
            Level::Warn,
            "bad line",
            &[("peer", &"127.0.0.1:5"), ("reason", &"not \"utf-8\"\n")],
        );
        assert_eq!(
            line,
            "ts=2026-11-27T12:03:03.123Z level=warn msg=\"bad line\" peer=127.0.0.1:5 reason=\"not \\\"utf-8\\\"\\n\"\n"
        );
    }

    #[test]
    fn empty_values_are_quoted() {
        let line = format_line(0, Level::Info, "x", &[("k", &"")]);
        assert!(line.ends_with("k=\"\"\n"), "{line}");
    }
}
