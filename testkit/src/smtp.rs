//! A real SMTP server for tests: `aiosmtpd` from Debian's `python3-aiosmtpd`, with its
//! `Mailbox` handler writing every accepted message into a Maildir, and a reader that waits
//! for those messages and decodes them (unfolded headers, RFC 2047 words, base64 bodies).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::{find_binary, probe, Server, TempDir};

/// A real `aiosmtpd` on a free loopback port, delivering into a Maildir of its own.
pub struct Smtp {
    pub port: u16,
    server: Server,
}

impl Smtp {
    pub fn start() -> Smtp {
        let server = Server::start("aiosmtpd", TempDir::new("smtp"), Self::command, |port| {
            probe(port, b"", b"220 ")
        });
        Smtp {
            port: server.port,
            server,
        }
    }

    fn command(dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(debian_python());
        // -n: stay the user we are (no setuid to nobody); the handler takes the Maildir.
        cmd.args(["-m", "aiosmtpd", "-n"])
            .args(["-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("Maildir"));
        cmd
    }

    /// `127.0.0.1:<port>`, as an SMTP client's server setting.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn maildir(&self) -> PathBuf {
        self.server.dir.path().join("Maildir")
    }

    pub fn pid(&self) -> u32 {
        self.server.process.pid()
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel, nothing answers.
    pub fn pause(&self) {
        self.server.process.signal(libc::SIGSTOP);
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.server.process.signal(libc::SIGCONT);
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let new = self.maildir().join("new");
        let mut files: Vec<(DeliveryKey, PathBuf)> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .map(|p| (delivery_key(&p), p))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let raw = std::fs::read(&path).expect("read a delivered message");
                Mail::parse(&raw, path)
            })
            .collect()
    }

    /// Waits until at least `n` messages were delivered and returns them all, oldest first.
    /// Panics after `timeout` with what did arrive and the server's log.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                let log = self.server.dir.path().join("aiosmtpd.log");
                panic!(
                    "{} of {n} messages delivered after {timeout:?}; server log:\n{}",
                    messages.len(),
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            sleep(Duration::from_millis(20));
        }
    }
}

/// Debian's own interpreter, where `python3-aiosmtpd` is installed; a `python3` earlier on
/// PATH (pyenv, a venv) would not have the module.
fn debian_python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.is_file() {
        system
    } else {
        find_binary("python3")
    }
}

/// Python's Maildir names files `<secs>.M<usecs>P<pid>Q<n>.<host>`: sort on the numbers,
/// then on the name.
type DeliveryKey = (u64, u64, u64, String);

fn delivery_key(path: &Path) -> DeliveryKey {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = name.splitn(3, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let unique = parts.next().unwrap_or("");
    let number_after = |tag: char| -> u64 {
        unique
            .split_once(tag)
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(u64::MAX)
    };
    (secs, number_after('M'), number_after('Q'), name)
}

/// One delivered message, decoded.
#[derive(Clone, Debug)]
pub struct Mail {
    /// Header fields in order, continuation lines unfolded, values as written (encoded
    /// words not decoded). aiosmtpd adds `X-Peer`, `X-MailFrom` and `X-RcptTo` (the
    /// envelope).
    pub headers: Vec<(String, String)>,
    /// The `Subject` with RFC 2047 words decoded.
    pub subject: String,
    /// The body after its `Content-Transfer-Encoding` (base64 or none), as UTF-8 (lossy),
    /// line endings as sent.
    pub body: String,
    /// The file as aiosmtpd wrote it.
    pub raw: Vec<u8>,
    pub path: PathBuf,
}

impl Mail {
    pub fn parse(raw: &[u8], path: PathBuf) -> Mail {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = split_head(&text);
        let headers = parse_headers(head);
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let subject = decode_words(find("Subject").unwrap_or(""));
        let body = match find("Content-Transfer-Encoding") {
            Some(cte) if cte.eq_ignore_ascii_case("base64") => {
                let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = STANDARD.decode(b64).expect("body is valid base64");
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => body.to_string(),
        };
        Mail {
            headers,
            subject,
            body,
            raw: raw.to_vec(),
            path,
        }
    }

    /// The first value of header `name` (any case), as written.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The header block and the body, split at the first empty line (CRLF or LF files alike).
fn split_head(text: &str) -> (&str, &str) {
    for separator in ["\r\n\r\n", "\n\n"] {
        if let Some(at) = text.find(separator) {
            return (&text[..at], &text[at + separator.len()..]);
        }
    }
    (text, "")
}

/// `Name: value` lines; a line starting with a space or tab continues the previous one.
fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    for (_, value) in &mut headers {
        *value = value.trim().to_string();
    }
    headers
}

/// Decodes RFC 2047 `=?charset?B|Q?text?=` words (UTF-8 and ASCII charsets); whitespace
/// between two encoded words is dropped, other text is kept as it is.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for (i, token) in value.split([' ', '\t']).enumerate() {
        if i > 0 {
            pending_space.push(' ');
        }
        if token.is_empty() {
            continue;
        }
        match decode_word(token) {
            Some(decoded) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(token);
                last_was_word = false;
            }
        }
        pending_space.clear();
    }
    out
}

fn decode_word(token: &str) -> Option<String> {
    let inner = token.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = if encoding.eq_ignore_ascii_case("B") {
        STANDARD.decode(text).ok()?
    } else if encoding.eq_ignore_ascii_case("Q") {
        let mut bytes = Vec::new();
        let mut it = text.bytes();
        while let Some(b) = it.next() {
            match b {
                b'_' => bytes.push(b' '),
                b'=' => {
                    let hex = [it.next()?, it.next()?];
                    let hex = std::str::from_utf8(&hex).ok()?;
                    bytes.push(u8::from_str_radix(hex, 16).ok()?);
                }
                _ => bytes.push(b),
            }
        }
        bytes
    } else {
        return None;
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;

    #[test]
    fn encoded_words_decode_and_join() {
        assert_eq!(decode_words("plain text"), "plain text");
        assert_eq!(decode_words("=?utf-8?B?6aqM6K+B56CB?="), "验证码");
        assert_eq!(
            decode_words("=?utf-8?B?6aqM?= =?UTF-8?b?6K+B56CB?= 123"),
            "验证码 123"
        );
        assert_eq!(decode_words("a =?utf-8?Q?caf=C3=A9_x?= b"), "a café x b");
        assert_eq!(decode_words("=?x?Z?abc?="), "=?x?Z?abc?=");
    }

    #[test]
    fn headers_unfold_and_bodies_decode() {
        let raw = b"Subject: =?utf-8?B?6aqM?=\n =?utf-8?B?6K+B56CB?=\nContent-Transfer-Encoding: base64\nX-Long: a\n\tb\n\naGVs\nbG8=\n";
        let mail = Mail::parse(raw, PathBuf::new());
        assert_eq!(mail.subject, "验证码");
        assert_eq!(mail.header("x-long"), Some("a\tb"));
        assert_eq!(mail.body, "hello");
    }

    /// A hand-written SMTP dialog against the real server: it accepts, stores in the
    /// Maildir, and `wait_for` finds the message with its envelope headers.
    #[test]
    fn aiosmtpd_stores_what_it_accepts() {
        let smtp = Smtp::start();
        let stream = TcpStream::connect(smtp.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "wanted {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect("220");
        for (command, code) in [
            ("EHLO test.invalid", "250"),
            ("MAIL FROM:<a@test.invalid>", "250"),
            ("RCPT TO:<b@test.invalid>", "250"),
            ("DATA", "354"),
            ("Subject: hi\r\n\r\nline one\r\n..dot\r\n.", "250"),
            ("QUIT", "221"),
        ] {
            write!(writer, "{command}\r\n").unwrap();
            expect(code);
        }
        let mail = smtp.wait_for(1, Duration::from_secs(10)).remove(0);
        assert_eq!(mail.subject, "hi");
        assert_eq!(mail.body.replace("\r\n", "\n"), "line one\n.dot\n");
        assert_eq!(mail.header("X-MailFrom"), Some("a@test.invalid"));
        assert_eq!(mail.header("X-RcptTo"), Some("b@test.invalid"));
        let pid = smtp.pid();
        drop(smtp);
        // SAFETY: signal 0 only asks whether the PID exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        assert!(!alive, "aiosmtpd {pid} still running after drop");
    }
}
