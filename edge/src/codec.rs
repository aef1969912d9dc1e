//! The chat wire format: a 10-character command left-padded with `0`, the payload, `\r\n`.
//!
//! Client frames: `00REGISTER<nonce>`, `0000PUBLIC<text>`, `0000FAMILY<text>`, `000000EXIT`.
//! Server frames: `00000000OK`, `0000PUBLIC<gn>:<text>`, `0000FAMILY<gn>:<text>`,
//! `00000ERROR<reason>`. Line splitting and the UTF-8 check are `shared::framing`'s job;
//! this module turns one line (without its `\r\n`) into a frame and back.

use std::fmt;

/// The largest client line, without its `\r\n` (the contract's 4 KiB).
pub const MAX_FRAME: usize = 4 * 1024;

/// Every command is exactly this long.
pub const COMMAND_LEN: usize = 10;

const REGISTER: &str = "00REGISTER";
const PUBLIC: &str = "0000PUBLIC";
const FAMILY: &str = "0000FAMILY";
const EXIT: &str = "000000EXIT";
const OK: &str = "00000000OK";
const ERROR: &str = "00000ERROR";

/// The longest nonce we look up; worker nonces are far shorter.
pub const MAX_NONCE: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Register { nonce: String },
    Public { text: String },
    Family { text: String },
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The first 10 characters are not a known command (or the line is shorter).
    UnknownCommand,
    /// A nonce that is empty, too long, or not printable ASCII without spaces.
    BadNonce,
    /// `000000EXIT` followed by something.
    UnexpectedPayload,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::UnknownCommand => write!(f, "unknown command"),
            CodecError::BadNonce => write!(f, "bad nonce"),
            CodecError::UnexpectedPayload => write!(f, "unexpected payload"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Splits a line into its command and payload; `None` if the line is too short or the
/// 10th byte falls inside a multi-byte character (no command does).
fn split_command(line: &str) -> Option<(&str, &str)> {
    if line.len() < COMMAND_LEN || !line.is_char_boundary(COMMAND_LEN) {
        return None;
    }
    Some(line.split_at(COMMAND_LEN))
}

impl ClientFrame {
    /// Parses one line, `\r\n` already removed.
    pub fn parse(line: &str) -> Result<ClientFrame, CodecError> {
        let (command, payload) = split_command(line).ok_or(CodecError::UnknownCommand)?;
        match command {
            REGISTER => {
                if !valid_nonce(payload) {
                    return Err(CodecError::BadNonce);
                }
                Ok(ClientFrame::Register {
                    nonce: payload.to_string(),
                })
            }
            PUBLIC => Ok(ClientFrame::Public {
                text: payload.to_string(),
            }),
            FAMILY => Ok(ClientFrame::Family {
                text: payload.to_string(),
            }),
            EXIT if payload.is_empty() => Ok(ClientFrame::Exit),
            EXIT => Err(CodecError::UnexpectedPayload),
            _ => Err(CodecError::UnknownCommand),
        }
    }

    /// The line for this frame, with `\r\n`: what a client sends.
    pub fn encode(&self) -> Vec<u8> {
        let (command, payload) = match self {
            ClientFrame::Register { nonce } => (REGISTER, nonce.as_str()),
            ClientFrame::Public { text } => (PUBLIC, text.as_str()),
            ClientFrame::Family { text } => (FAMILY, text.as_str()),
            ClientFrame::Exit => (EXIT, ""),
        };
        line(command, payload)
    }
}

/// A nonce becomes part of a Redis key: printable ASCII, no spaces, bounded.
pub fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty() && nonce.len() <= MAX_NONCE && nonce.bytes().all(|b| b.is_ascii_graphic())
}

/// Which chat a relayed message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatKind {
    Public,
    Family,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// `00000000OK`: the REGISTER was accepted.
    Registered,
    /// A relayed message; `message` is `<gn>:<text>` exactly as carried on NATS.
    Chat {
        kind: ChatKind,
        message: String,
    },
    Error {
        reason: String,
    },
}

impl ServerFrame {
    pub fn error(reason: impl Into<String>) -> ServerFrame {
        ServerFrame::Error {
            reason: reason.into(),
        }
    }

    /// The line for this frame, with `\r\n`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ServerFrame::Registered => line(OK, ""),
            ServerFrame::Chat { kind, message } => chat_line(*kind, message.as_bytes()),
            ServerFrame::Error { reason } => line(ERROR, reason),
        }
    }

    /// Parses a server line (`\r\n` removed): what a client (or a test) does.
    pub fn parse(line: &str) -> Result<ServerFrame, CodecError> {
        let (command, payload) = split_command(line).ok_or(CodecError::UnknownCommand)?;
        let chat = |kind| ServerFrame::Chat {
            kind,
            message: payload.to_string(),
        };
        match command {
            OK if payload.is_empty() => Ok(ServerFrame::Registered),
            OK => Err(CodecError::UnexpectedPayload),
            PUBLIC => Ok(chat(ChatKind::Public)),
            FAMILY => Ok(chat(ChatKind::Family)),
            ERROR => Ok(ServerFrame::error(payload)),
            _ => Err(CodecError::UnknownCommand),
        }
    }
}

/// `0000PUBLIC<message>\r\n` or `0000FAMILY<message>\r\n`, built once per relayed message
/// and copied to every member.
pub fn chat_line(kind: ChatKind, message: &[u8]) -> Vec<u8> {
    let command = match kind {
        ChatKind::Public => PUBLIC,
        ChatKind::Family => FAMILY,
    };
    let mut out = Vec::with_capacity(COMMAND_LEN + message.len() + 2);
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
    out
}

fn line(command: &str, payload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(COMMAND_LEN + payload.len() + 2);
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The NATS payload for a chat message: `<gn>:<text>`.
pub fn chat_message(gn: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(gn.len() + 1 + text.len());
    out.extend_from_slice(gn.as_bytes());
    out.push(b':');
    out.extend_from_slice(text.as_bytes());
    out
}

/// A character chat text may not hold: the C0 controls except TAB, DEL and the C1
/// controls (`char::is_control` is exactly these plus TAB). A bare `\n` or `\r` ends a line
/// for readers that split on either (C# and Java `ReadLine`, our own CLI), so a relayed
/// text holding one could show a forged frame; ESC starts terminal sequences; NUL ends C
/// strings.
pub fn forbidden_in_text(c: char) -> bool {
    c != '\t' && c.is_control()
}

/// Chat text a client may send and an edge may relay: no [`forbidden_in_text`] character.
pub fn clean_text(text: &str) -> bool {
    !text.chars().any(forbidden_in_text)
}

/// A message from NATS is relayed only if it is UTF-8 `<gn>:<text>` with a valid game name
/// and clean text, the rule every edge applies to its own clients' frames: another
/// publisher (or an older edge) must not be able to inject frames into our clients.
pub fn relayable(message: &[u8]) -> bool {
    let Ok(message) = std::str::from_utf8(message) else {
        return false;
    };
    match message.split_once(':') {
        Some((gn, text)) => crate::login::valid_gn(gn) && clean_text(text),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_client_command() {
        assert_eq!(
            ClientFrame::parse("00REGISTERab12cd"),
            Ok(ClientFrame::Register {
                nonce: "ab12cd".into()
            })
        );
        assert_eq!(
            ClientFrame::parse("0000PUBLIC hello, world"),
            Ok(ClientFrame::Public {
                text: " hello, world".into()
            })
        );
        assert_eq!(
            ClientFrame::parse("0000FAMILYgrüße"),
            Ok(ClientFrame::Family {
                text: "grüße".into()
            })
        );
        assert_eq!(ClientFrame::parse("000000EXIT"), Ok(ClientFrame::Exit));
        assert_eq!(
            ClientFrame::parse("0000PUBLIC"),
            Ok(ClientFrame::Public {
                text: String::new()
            })
        );
    }

    #[test]
    fn unknown_or_short_commands_are_errors() {
        for bad in [
            "",
            "PUBLIC",
            "000PUBLIChi",
            "0000public hi",
            "00000000OK",
            "00000ERRORx",
            "REGISTER00abc",
            "0000PUBLIä",
            "ééééééé",
        ] {
            assert_eq!(
                ClientFrame::parse(bad),
                Err(CodecError::UnknownCommand),
                "{bad:?}"
            );
        }
        assert_eq!(
            ClientFrame::parse("000000EXITnow"),
            Err(CodecError::UnexpectedPayload)
        );
    }

    #[test]
    fn nonces_are_bounded_printable_ascii() {
        assert_eq!(ClientFrame::parse("00REGISTER"), Err(CodecError::BadNonce));
        assert_eq!(
            ClientFrame::parse("00REGISTERa b"),
            Err(CodecError::BadNonce)
        );
        assert_eq!(
            ClientFrame::parse("00REGISTERné"),
            Err(CodecError::BadNonce)
        );
        let long = format!("00REGISTER{}", "a".repeat(MAX_NONCE + 1));
        assert_eq!(ClientFrame::parse(&long), Err(CodecError::BadNonce));
        let longest = format!("00REGISTER{}", "a".repeat(MAX_NONCE));
        assert!(ClientFrame::parse(&longest).is_ok());
    }

    #[test]
    fn client_frames_round_trip() {
        for frame in [
            ClientFrame::Register { nonce: "n1".into() },
            ClientFrame::Public { text: "hi".into() },
            ClientFrame::Family { text: "yo".into() },
            ClientFrame::Exit,
        ] {
            let bytes = frame.encode();
            assert!(bytes.ends_with(b"\r\n"));
            let text = std::str::from_utf8(&bytes[..bytes.len() - 2]).unwrap();
            assert_eq!(ClientFrame::parse(text), Ok(frame));
        }
    }

    #[test]
    fn server_frames_encode_to_the_byte() {
        assert_eq!(ServerFrame::Registered.encode(), b"00000000OK\r\n");
        assert_eq!(
            ServerFrame::Chat {
                kind: ChatKind::Public,
                message: "ann:hi".into()
            }
            .encode(),
            b"0000PUBLICann:hi\r\n"
        );
        assert_eq!(
            chat_line(ChatKind::Family, b"bob:yo"),
            b"0000FAMILYbob:yo\r\n"
        );
        assert_eq!(
            ServerFrame::error("server shutting down").encode(),
            b"00000ERRORserver shutting down\r\n"
        );
        assert_eq!(
            ServerFrame::parse("0000FAMILYbob:yo"),
            Ok(ServerFrame::Chat {
                kind: ChatKind::Family,
                message: "bob:yo".into()
            })
        );
        assert_eq!(
            ServerFrame::parse("00000ERRORrate limit"),
            Ok(ServerFrame::error("rate limit"))
        );
        assert_eq!(
            ServerFrame::parse("00000000OK"),
            Ok(ServerFrame::Registered)
        );
    }

    #[test]
    fn chat_messages_are_gn_colon_text() {
        assert_eq!(chat_message("ann", "a:b"), b"ann:a:b");
        assert!(relayable(b"ann:hi"));
        assert!(relayable(b"ann:"));
        assert!(!relayable(b"no colon"));
        assert!(!relayable(b"ann:x\r\n0000PUBLICforged:y"));
        assert!(!relayable(b"ann:\xff"));
        assert!(!relayable(b":no name"));
        assert!(relayable(b"ann:tab\there"));
        for bad in [
            &b"ann:hi\n0000PUBLICsystem:x"[..],
            b"ann:hi\r0000PUBLICsystem:x",
            b"ann:\x1b[2Jcleared",
            b"ann:nul\x00",
            b"ann:del\x7f",
            "ann:nel\u{85}".as_bytes(),
            "ann:csi\u{9b}".as_bytes(),
        ] {
            assert!(!relayable(bad), "{bad:?}");
        }
    }

    #[test]
    fn control_characters_except_tab_are_forbidden_in_text() {
        let forbidden: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| forbidden_in_text(c))
            .map(u32::from)
            .collect();
        let expected: Vec<u32> = (0x00..=0x08)
            .chain(0x0A..=0x1F)
            .chain([0x7F])
            .chain(0x80..=0x9F)
            .collect();
        assert_eq!(forbidden, expected);
        assert!(clean_text("grüße\tand 😀, 0000PUBLIC"));
        assert!(clean_text(""));
        for bad in [
            "a\rb",
            "a\nb",
            "\r\n",
            "\u{1b}[31m",
            "\0",
            "\u{7f}",
            "\u{85}",
        ] {
            assert!(!clean_text(bad), "{bad:?}");
        }
    }
}
