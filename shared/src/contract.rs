//! The gate–worker contract, spelled once: job ids, NATS subjects, Redis keys and their
//! lifetimes, and the two lines that cross between gate and worker.
//!
//! - Job (gate -> NATS `jobs` -> one worker of queue group `workers`):
//!   `<jid>[ <key>=<value>]*~<request line>`. The header fields are project additions;
//!   a header of the job id alone is the seed contract's `<jid>~<line>`.
//!   - `g=<gid>`: the gate that waits for the answer (decimal).
//!   - `t=<ms>`: milliseconds left, when the job was published, before the gate answers the
//!     client -2. A budget, not a wall-clock time, so gate and worker clocks need not agree;
//!     the worker's deadline is the time it received the job plus the budget.
//!   - `c=<ip>`: the client's address as the gate saw it (IPv4 or IPv6 text).
//!   - `l=1`: the gate sends jobs down proven worker links (below): a worker may offer
//!     to take them on its link to this gate. Only `1` is defined.
//!
//!   Keys a reader does not know are skipped, so a gate can carry a new field before
//!   every worker reads it; a known key with a bad value is an error.
//! - Answer (worker -> the gate's worker port): `<jid>~<response JSON>\r\n`.
//! - Taken notice (worker -> the gate's worker port, project addition): `+<jid>\r\n`,
//!   sent when a job thread takes a job whose header names its gate (`g=`), before it
//!   runs. The gate then knows which link holds the job, and answers -2 for every job a
//!   link holds as soon as that link closes (a killed worker) instead of at the job
//!   timeout. Only gates that name themselves in the job get notices, so a seed-contract
//!   gate never reads one.
//!
//! - Link jobs (project addition): a worker that read `l=1` in a job of gate `g` says, on
//!   its link to that gate right after the opening, `jobs <n>\r\n`: it takes up to `n`
//!   jobs at once on this link. The gate then writes job lines, the same line as on NATS
//!   followed by `\r\n`, down that link, at most `n` held by it at a time (answered or
//!   taken ones count), and publishes on NATS as before when no link has room. `jobs 0`
//!   (a stopping worker) means no more: the gate sends nothing further and shuts its
//!   sending side, so the worker's end of stream says every job sent is in hand. A gate
//!   sends link jobs only on links that proved the link secret; a seed-contract gate
//!   never writes `l=`, so it never reads a `jobs` line, and a seed-contract worker never
//!   writes one, so it never gets a job on its link.
//!
//! Both lines split on the first `~`: the request and the response may hold `~`, the
//! header never does.
//!
//! The worker link's opening (project addition), when the gate holds a link secret: at
//! accept the gate sends `challenge <nonce>\r\n` (32 random bytes, 64 lowercase hex);
//! the worker's first line is `proof <mac>\r\n`, `mac` = lowercase hex of
//! HMAC-SHA256(secret, [`LINK_PROOF_LABEL`] || nonce as sent). Only then does the gate
//! read answer lines; a wrong, malformed or late proof closes the link. The nonce is
//! fresh per connection, so a proof seen on the wire opens no other link.
//!
//! The chat side, shared by worker and edge:
//! - Chat channels: `chat.<world>.public` and `chat.<world>.family.<fid>` (edge to edge).
//! - Chat events (worker -> every edge): subject `chat.events`, one [`ChatEvent`] line per
//!   message, published after the game function's transaction committed:
//!   `left <world> <pid> <fid>` (the player left or was removed from family `fid`),
//!   `disbanded <world> <fid>` (the family is gone), `renamed <world> <pid> <gn>` (the
//!   player's name is now `gn`, the rest of the line). `pid` is the chat id of the login
//!   nonce. Single spaces separate the fields; a reader skips kinds it does not know.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The NATS subject every job goes to.
pub const JOBS_SUBJECT: &str = "jobs";
/// The queue group of the workers: NATS hands each job to one of them.
pub const WORKERS_QUEUE: &str = "workers";
/// Seconds `gate.job.<jid>` lives (the seed contract's `EX 10`).
pub const JOB_KEY_TTL_SECS: u64 = 10;
/// Seconds `gates.id.<gid>` lives without a refresh (the seed contract's `EX 10`).
pub const GATE_KEY_TTL_SECS: u64 = 10;
/// Seconds a chat login nonce stays redeemable (the seed contract's `EX 120`).
pub const CHAT_LOGIN_TTL_SECS: u64 = 120;

const JOB_KEY_PREFIX: &str = "gate.job.";
const GATE_KEY_PREFIX: &str = "gates.id.";
const CHAT_LOGIN_PREFIX: &str = "chat.logintokens.";

/// The NATS subject of [`ChatEvent`]s: the worker publishes, every edge subscribes.
pub const CHAT_EVENTS_SUBJECT: &str = "chat.events";

/// `chat.<world>.public`: a world's public chat channel.
pub fn chat_public_subject(world: &str) -> String {
    format!("chat.{world}.public")
}

/// `chat.<world>.family.<fid>`: a family's chat channel.
pub fn chat_family_subject(world: &str, fid: &str) -> String {
    format!("chat.{world}.family.{fid}")
}

/// A change of a player's chat identity, from the worker to every edge, which applies it
/// to the player's open chat connections (see the module header for the line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    /// Player `pid` is no longer in family `fid` (left, or removed). Naming the family
    /// keeps the event harmless if it arrives after the player joined another one.
    Left {
        world: String,
        pid: String,
        fid: String,
    },
    /// Family `fid` is gone: its channel ends for every member.
    Disbanded { world: String, fid: String },
    /// Player `pid` is now called `gn`.
    Renamed {
        world: String,
        pid: String,
        gn: String,
    },
}

/// Why a chat event line was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEventError {
    NotUtf8,
    /// A kind this reader does not know (a newer worker): skipped, not an attack.
    UnknownKind(String),
    /// A known kind with missing, empty or extra fields; holds at most 40 characters.
    Malformed(String),
}

impl fmt::Display for ChatEventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatEventError::NotUtf8 => write!(f, "chat event is not UTF-8"),
            ChatEventError::UnknownKind(kind) => write!(f, "unknown chat event {kind:?}"),
            ChatEventError::Malformed(line) => write!(f, "malformed chat event {line:?}"),
        }
    }
}

impl std::error::Error for ChatEventError {}

impl ChatEvent {
    /// The NATS payload.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ChatEvent::Left { world, pid, fid } => format!("left {world} {pid} {fid}"),
            ChatEvent::Disbanded { world, fid } => format!("disbanded {world} {fid}"),
            ChatEvent::Renamed { world, pid, gn } => format!("renamed {world} {pid} {gn}"),
        }
        .into_bytes()
    }

    /// Reads a payload. World, pid and fid are single non-empty tokens without spaces;
    /// the name of `renamed` is everything after its third space and must not be empty.
    pub fn parse(payload: &[u8]) -> Result<ChatEvent, ChatEventError> {
        let text = std::str::from_utf8(payload).map_err(|_| ChatEventError::NotUtf8)?;
        let bad = || ChatEventError::Malformed(short(text));
        let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
        let tokens = |n: usize| -> Result<Vec<String>, ChatEventError> {
            let parts: Vec<&str> = rest.split(' ').collect();
            if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
                return Err(bad());
            }
            Ok(parts.into_iter().map(str::to_string).collect())
        };
        match kind {
            "left" => {
                let mut t = tokens(3)?.into_iter();
                let (world, pid, fid) = (t.next(), t.next(), t.next());
                Ok(ChatEvent::Left {
                    world: world.ok_or_else(bad)?,
                    pid: pid.ok_or_else(bad)?,
                    fid: fid.ok_or_else(bad)?,
                })
            }
            "disbanded" => {
                let mut t = tokens(2)?.into_iter();
                let (world, fid) = (t.next(), t.next());
                Ok(ChatEvent::Disbanded {
                    world: world.ok_or_else(bad)?,
                    fid: fid.ok_or_else(bad)?,
                })
            }
            "renamed" => {
                let mut parts = rest.splitn(3, ' ');
                let mut next = || parts.next().filter(|p| !p.is_empty()).map(str::to_string);
                let (world, pid, gn) = (next(), next(), next());
                Ok(ChatEvent::Renamed {
                    world: world.ok_or_else(bad)?,
                    pid: pid.ok_or_else(bad)?,
                    gn: gn.ok_or_else(bad)?,
                })
            }
            other => Err(ChatEventError::UnknownKind(short(other))),
        }
    }
}

/// `gate.job.<jid>`: the id of the gate waiting for the job.
pub fn job_key(jid: JobId) -> String {
    format!("{JOB_KEY_PREFIX}{jid}")
}

/// `gates.id.<gid>`: the `ip:port` where workers answer a gate's jobs.
pub fn gate_key(gid: u32) -> String {
    format!("{GATE_KEY_PREFIX}{gid}")
}

/// `chat.logintokens.<nonce>`: the hash a chat login token names.
pub fn chat_login_key(nonce: &str) -> String {
    format!("{CHAT_LOGIN_PREFIX}{nonce}")
}

/// A job id: 128 random bits, 32 lowercase hex characters on the wire. A number inside,
/// so tables hash and compare a `u128`, not a string, on every request and answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobId(u128);

/// Wire length of a job id.
pub const JOB_ID_LEN: usize = 32;

impl JobId {
    pub fn from_bytes(bytes: [u8; 16]) -> JobId {
        JobId(u128::from_be_bytes(bytes))
    }

    /// A fresh random id.
    pub fn random() -> JobId {
        let mut bytes = [0u8; 16];
        crate::ids::fill_random(&mut bytes);
        JobId::from_bytes(bytes)
    }

    /// Exactly 32 lowercase hex characters; anything else is not a job id.
    pub fn parse(text: &str) -> Option<JobId> {
        if text.len() != JOB_ID_LEN {
            return None;
        }
        let mut value: u128 = 0;
        for b in text.bytes() {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            value = (value << 4) | u128::from(digit);
        }
        Some(JobId(value))
    }

    /// The wire form, without allocating.
    pub fn write_hex(self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for shift in (0..32).rev() {
            out.push(HEX[((self.0 >> (shift * 4)) & 0xf) as usize]);
        }
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// What a job carries besides its id and request line. Every field is optional on the
/// wire: a seed-contract gate sends none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobHeader {
    /// The gate waiting for the answer.
    pub gate: Option<u32>,
    /// Milliseconds left before that gate answers -2.
    pub budget_ms: Option<u64>,
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The gate sends jobs over worker links that offer to take them (`l=1`).
    pub link_jobs: bool,
}

/// A job as it arrives: borrowed from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job<'a> {
    pub jid: JobId,
    pub header: JobHeader,
    pub line: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    NotUtf8,
    /// No `~` after the job id (and header).
    NoSeparator,
    /// The text before the header or the `~` is not 32 lowercase hex characters; holds at
    /// most 40 characters of it, so a log line stays short whatever was sent.
    BadJobId(String),
    /// A header field the contract knows, with a value it cannot read, or a field that is
    /// not `key=value`.
    BadField(String),
    /// An answer line with nothing after the `~`.
    EmptyResponse,
    /// A `jobs` line whose count is not a decimal number up to [`LINK_WINDOW_MAX`].
    BadWindow(String),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NotUtf8 => write!(f, "line is not UTF-8"),
            LineError::NoSeparator => write!(f, "line has no `~` after the job id"),
            LineError::BadJobId(jid) => {
                write!(f, "job id {jid:?} is not 32 lowercase hex characters")
            }
            LineError::BadField(field) => write!(f, "job header field {field:?} is unreadable"),
            LineError::EmptyResponse => write!(f, "answer line has an empty response"),
            LineError::BadWindow(text) => write!(f, "jobs line count {text:?} is unreadable"),
        }
    }
}

impl std::error::Error for LineError {}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Appends the job's NATS payload to `out`.
pub fn encode_job(out: &mut Vec<u8>, jid: JobId, header: &JobHeader, line: &str) {
    use std::io::Write;
    jid.write_hex(out);
    if let Some(gid) = header.gate {
        let _ = write!(out, " g={gid}");
    }
    if let Some(ms) = header.budget_ms {
        let _ = write!(out, " t={ms}");
    }
    if let Some(ip) = header.client {
        let _ = write!(out, " c={ip}");
    }
    if header.link_jobs {
        out.extend_from_slice(b" l=1");
    }
    out.push(b'~');
    out.extend_from_slice(line.as_bytes());
}

/// Appends a job as the gate writes it down a worker link: the NATS payload and `\r\n`.
/// The request line never holds `\r\n` (the client framing ends it there).
pub fn encode_link_job(out: &mut Vec<u8>, jid: JobId, header: &JobHeader, line: &str) {
    encode_job(out, jid, header, line);
    out.extend_from_slice(b"\r\n");
}

/// Reads a job payload.
pub fn parse_job(payload: &[u8]) -> Result<Job<'_>, LineError> {
    let text = std::str::from_utf8(payload).map_err(|_| LineError::NotUtf8)?;
    let (head, line) = text.split_once('~').ok_or(LineError::NoSeparator)?;
    let mut fields = head.split(' ');
    let jid_text = fields.next().unwrap_or_default();
    let jid = JobId::parse(jid_text).ok_or_else(|| LineError::BadJobId(short(jid_text)))?;
    let mut header = JobHeader::default();
    for field in fields {
        let bad = || LineError::BadField(short(field));
        let (key, value) = field.split_once('=').ok_or_else(bad)?;
        match key {
            "g" => header.gate = Some(value.parse().map_err(|_| bad())?),
            "t" => header.budget_ms = Some(value.parse().map_err(|_| bad())?),
            "c" => header.client = Some(value.parse().map_err(|_| bad())?),
            "l" if value == "1" => header.link_jobs = true,
            "l" => return Err(bad()),
            _ => {}
        }
    }
    Ok(Job { jid, header, line })
}

/// Appends the answer line for `jid`, `\r\n` included.
pub fn encode_answer(out: &mut Vec<u8>, jid: JobId, response: &str) {
    jid.write_hex(out);
    out.push(b'~');
    out.extend_from_slice(response.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// First byte of a taken notice; an answer line starts with a hex digit.
const TAKEN_MARK: u8 = b'+';

/// Appends the taken notice for `jid`, `\r\n` included.
pub fn encode_taken(out: &mut Vec<u8>, jid: JobId) {
    out.push(TAKEN_MARK);
    jid.write_hex(out);
    out.extend_from_slice(b"\r\n");
}

/// First word of a worker's offer to take jobs on its link; an answer line starts with a
/// hex digit and `j` is not one.
const JOBS_WORD: &str = "jobs ";
/// Most jobs a worker can ask to hold at once on one link; a gate reads a larger count
/// as an error rather than trusting a peer with an unbounded window.
pub const LINK_WINDOW_MAX: u32 = 4096;

/// Appends the worker's offer `jobs <window>\r\n` (0: send no more), `\r\n` included.
pub fn encode_link_jobs(out: &mut Vec<u8>, window: u32) {
    use std::io::Write;
    let _ = write!(out, "{JOBS_WORD}{window}\r\n");
}

/// A line from a worker, as the gate reads it (without `\r\n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerLine<'a> {
    /// The job's answer, forwarded as it is.
    Answer(JobId, &'a str),
    /// The worker took the job and is running it.
    Taken(JobId),
    /// The worker takes up to this many jobs at once on this link (0: no more).
    Jobs(u32),
}

/// Reads a line from a worker: an answer, a taken notice or an offer to take jobs.
pub fn parse_worker_line(line: &str) -> Result<WorkerLine<'_>, LineError> {
    if let Some(jid_text) = line.strip_prefix(TAKEN_MARK as char) {
        return JobId::parse(jid_text)
            .map(WorkerLine::Taken)
            .ok_or_else(|| LineError::BadJobId(short(jid_text)));
    }
    if let Some(count) = line.strip_prefix(JOBS_WORD) {
        return parse_window(count).map(WorkerLine::Jobs);
    }
    parse_answer(line).map(|(jid, response)| WorkerLine::Answer(jid, response))
}

/// 1 to 4 plain decimal digits (no sign, no spaces), at most [`LINK_WINDOW_MAX`].
fn parse_window(text: &str) -> Result<u32, LineError> {
    let bad = || LineError::BadWindow(short(text));
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u32 = text.parse().map_err(|_| bad())?;
    if n > LINK_WINDOW_MAX {
        return Err(bad());
    }
    Ok(n)
}

/// An answer line as the gate reads it (the framing already removed `\r\n`). The response
/// is forwarded as it is: the gate never parses the JSON.
pub fn parse_answer(line: &str) -> Result<(JobId, &str), LineError> {
    let (jid_text, response) = line.split_once('~').ok_or(LineError::NoSeparator)?;
    let jid = JobId::parse(jid_text).ok_or_else(|| LineError::BadJobId(short(jid_text)))?;
    if response.is_empty() {
        return Err(LineError::EmptyResponse);
    }
    Ok((jid, response))
}

/// What the worker's MAC covers before the nonce: a proof for this link means nothing
/// to any other HMAC user of the same secret.
pub const LINK_PROOF_LABEL: &[u8] = b"lukseun worker link v1\n";
/// How long the gate waits for a connecting worker's proof before closing the link.
pub const LINK_PROOF_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes of a challenge nonce.
pub const LINK_NONCE_LEN: usize = 32;
/// Longest opening line either side accepts (`challenge ` or `proof ` + 64 hex + CRLF,
/// with room): a peer that sends more without a line end is not a worker.
pub const LINK_LINE_MAX: usize = 128;
/// Shortest link secret a service accepts: shorter ones are guessable.
pub const LINK_SECRET_MIN_LEN: usize = 16;

const CHALLENGE_WORD: &str = "challenge ";
const PROOF_WORD: &str = "proof ";

/// The shared secret of gates and workers (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSecret(Vec<u8>);

impl LinkSecret {
    /// `None` for an empty text (no secret: the link is not challenged); an error for a
    /// secret shorter than [`LINK_SECRET_MIN_LEN`] bytes.
    pub fn from_config(text: &str) -> Result<Option<LinkSecret>, LinkProofError> {
        match text.len() {
            0 => Ok(None),
            n if n < LINK_SECRET_MIN_LEN => Err(LinkProofError::SecretTooShort(n)),
            _ => Ok(Some(LinkSecret(text.as_bytes().to_vec()))),
        }
    }

    fn mac(&self, nonce: &LinkNonce) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(LINK_PROOF_LABEL);
        mac.update(nonce.hex().as_bytes());
        mac
    }
}

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkSecret(<{} bytes>)", self.0.len())
    }
}

/// A challenge nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkNonce([u8; LINK_NONCE_LEN]);

impl LinkNonce {
    pub fn random() -> LinkNonce {
        let mut bytes = [0u8; LINK_NONCE_LEN];
        crate::ids::fill_random(&mut bytes);
        LinkNonce(bytes)
    }

    pub fn from_bytes(bytes: [u8; LINK_NONCE_LEN]) -> LinkNonce {
        LinkNonce(bytes)
    }

    fn hex(&self) -> String {
        hex_lower(&self.0)
    }
}

/// Why a link's opening failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkProofError {
    /// The configured secret is shorter than [`LINK_SECRET_MIN_LEN`] bytes.
    SecretTooShort(usize),
    /// Not `challenge <64 hex>` / `proof <64 hex>`; holds at most 40 characters of it.
    Malformed(String),
    /// A well-formed proof made with another secret (or for another nonce).
    WrongProof,
}

impl fmt::Display for LinkProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkProofError::SecretTooShort(n) => write!(
                f,
                "link secret has {n} bytes, fewer than {LINK_SECRET_MIN_LEN}"
            ),
            LinkProofError::Malformed(line) => write!(f, "malformed link opening {line:?}"),
            LinkProofError::WrongProof => write!(f, "link proof does not match the secret"),
        }
    }
}

impl std::error::Error for LinkProofError {}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Exactly 64 lowercase hex characters into 32 bytes.
fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Appends the gate's challenge line, `\r\n` included.
pub fn encode_link_challenge(out: &mut Vec<u8>, nonce: &LinkNonce) {
    out.extend_from_slice(CHALLENGE_WORD.as_bytes());
    out.extend_from_slice(nonce.hex().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Reads the gate's challenge line (without its line end).
pub fn parse_link_challenge(line: &str) -> Result<LinkNonce, LinkProofError> {
    line.strip_prefix(CHALLENGE_WORD)
        .and_then(parse_hex32)
        .map(LinkNonce)
        .ok_or_else(|| LinkProofError::Malformed(short(line)))
}

/// Appends the worker's proof line for `nonce`, `\r\n` included.
pub fn encode_link_proof(out: &mut Vec<u8>, secret: &LinkSecret, nonce: &LinkNonce) {
    let mac = secret.mac(nonce).finalize().into_bytes();
    out.extend_from_slice(PROOF_WORD.as_bytes());
    out.extend_from_slice(hex_lower(&mac).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Checks a worker's proof line (without its line end) against the nonce sent; the
/// comparison takes the same time wherever the MACs differ.
pub fn verify_link_proof(
    secret: &LinkSecret,
    nonce: &LinkNonce,
    line: &str,
) -> Result<(), LinkProofError> {
    let mac = line
        .strip_prefix(PROOF_WORD)
        .and_then(parse_hex32)
        .ok_or_else(|| LinkProofError::Malformed(short(line)))?;
    secret
        .mac(nonce)
        .verify_slice(&mac)
        .map_err(|_| LinkProofError::WrongProof)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JID: &str = "0123456789abcdef0123456789abcdef";
    const PROOF_VECTOR: &str = "a444a111c7547e716cd0cb9a58360223ef080d55b3fd708129015f63413a08f0";

    fn secret(text: &str) -> LinkSecret {
        LinkSecret::from_config(text).unwrap().unwrap()
    }

    #[test]
    fn link_opening_byte_for_byte() {
        let nonce = LinkNonce::from_bytes([0xab; 32]);
        let mut challenge = Vec::new();
        encode_link_challenge(&mut challenge, &nonce);
        assert_eq!(
            challenge,
            format!("challenge {}\r\n", "ab".repeat(32)).as_bytes()
        );
        let text = std::str::from_utf8(&challenge).unwrap().trim_end();
        assert_eq!(parse_link_challenge(text), Ok(nonce));

        // HMAC-SHA256("0123456789abcdef", "lukseun worker link v1\n" + "ab"*32), computed
        // independently: python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef",
        // b"lukseun worker link v1\n"+b"ab"*32, hashlib.sha256).hexdigest())'
        let key = secret("0123456789abcdef");
        let mut proof = Vec::new();
        encode_link_proof(&mut proof, &key, &nonce);
        assert_eq!(proof, format!("proof {PROOF_VECTOR}\r\n").as_bytes());
        let text = std::str::from_utf8(&proof).unwrap().trim_end();
        assert_eq!(verify_link_proof(&key, &nonce, text), Ok(()));
    }

    #[test]
    fn link_proofs_fail_for_another_secret_nonce_or_shape() {
        let key = secret("0123456789abcdef");
        let nonce = LinkNonce::random();
        assert_ne!(nonce, LinkNonce::random());
        let mut proof = Vec::new();
        encode_link_proof(&mut proof, &key, &nonce);
        let good = std::str::from_utf8(&proof).unwrap().trim_end().to_string();
        assert_eq!(
            verify_link_proof(&secret("0123456789abcdeF"), &nonce, &good),
            Err(LinkProofError::WrongProof)
        );
        assert_eq!(
            verify_link_proof(&key, &LinkNonce::random(), &good),
            Err(LinkProofError::WrongProof)
        );
        let upper = format!("proof {}", good["proof ".len()..].to_uppercase());
        let one_short = &good[..good.len() - 1];
        let answer_line = format!("{JID}~{{\"status\":0}}");
        for bad in [
            "",
            "proof",
            "proof ",
            upper.as_str(),
            one_short,
            &format!("{good}0"),
            &format!(" {good}"),
            answer_line.as_str(),
        ] {
            assert!(
                matches!(
                    verify_link_proof(&key, &nonce, bad),
                    Err(LinkProofError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        for bad in ["challenge ", "challenge 00", "CHALLENGE 00", "proof 00"] {
            assert!(parse_link_challenge(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn link_secrets_are_empty_or_long_enough_and_never_printed() {
        assert_eq!(LinkSecret::from_config(""), Ok(None));
        assert_eq!(
            LinkSecret::from_config("short"),
            Err(LinkProofError::SecretTooShort(5))
        );
        let key = secret("0123456789abcdef-and-more");
        assert!(!format!("{key:?}").contains("0123"));
    }

    fn jid() -> JobId {
        JobId::parse(JID).unwrap()
    }

    #[test]
    fn job_ids_are_32_lowercase_hex_both_ways() {
        let id = JobId::random();
        let text = id.to_string();
        assert_eq!(text.len(), JOB_ID_LEN);
        assert_eq!(JobId::parse(&text), Some(id));
        let mut hex = Vec::new();
        id.write_hex(&mut hex);
        assert_eq!(hex, text.as_bytes());
        assert_ne!(JobId::random(), id);
        assert_eq!(JobId(1).to_string(), format!("{}1", "0".repeat(31)));
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",   // 31
            "0123456789abcdef0123456789abcdef0", // 33
            "0123456789ABCDEF0123456789abcdef",  // upper case
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcde ",
            "+123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(JobId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_are_spelled_as_the_contract_says() {
        assert_eq!(job_key(jid()), format!("gate.job.{JID}"));
        assert_eq!(gate_key(7), "gates.id.7");
        assert_eq!(chat_login_key("n1"), "chat.logintokens.n1");
        assert_eq!(chat_public_subject("s0"), "chat.s0.public");
        assert_eq!(chat_family_subject("s0", "f7"), "chat.s0.family.f7");
        assert_eq!(CHAT_EVENTS_SUBJECT, "chat.events");
    }

    #[test]
    fn chat_events_byte_for_byte_and_back() {
        let cases = [
            (
                ChatEvent::Left {
                    world: "s0".into(),
                    pid: "ab12".into(),
                    fid: "f00d".into(),
                },
                "left s0 ab12 f00d",
            ),
            (
                ChatEvent::Disbanded {
                    world: "s1".into(),
                    fid: "f00d".into(),
                },
                "disbanded s1 f00d",
            ),
            (
                ChatEvent::Renamed {
                    world: "s0".into(),
                    pid: "ab12".into(),
                    gn: "Ann Lee 😀".into(),
                },
                "renamed s0 ab12 Ann Lee 😀",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(event.encode(), line.as_bytes());
            assert_eq!(ChatEvent::parse(line.as_bytes()), Ok(event));
        }
    }

    #[test]
    fn broken_chat_events_are_refused() {
        assert_eq!(ChatEvent::parse(b"\xffleft"), Err(ChatEventError::NotUtf8));
        assert_eq!(
            ChatEvent::parse(b"joined s0 p f"),
            Err(ChatEventError::UnknownKind("joined".into()))
        );
        assert_eq!(
            ChatEvent::parse(b""),
            Err(ChatEventError::UnknownKind(String::new()))
        );
        for bad in [
            "left s0 p",
            "left s0 p f extra",
            "left s0  f",
            "left s0 p f ",
            "left",
            "disbanded s0",
            "disbanded s0 f x",
            "disbanded  f",
            "renamed s0 p",
            "renamed s0 p ",
            "renamed  p gn",
        ] {
            assert!(
                matches!(
                    ChatEvent::parse(bad.as_bytes()),
                    Err(ChatEventError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_job_with_every_field_byte_for_byte() {
        let header = JobHeader {
            gate: Some(3),
            budget_ms: Some(9998),
            client: Some("203.0.113.9".parse().unwrap()),
            link_jobs: true,
        };
        let mut out = Vec::new();
        encode_job(&mut out, jid(), &header, "{\"function\":\"x~y\"}");
        assert_eq!(
            out,
            format!("{JID} g=3 t=9998 c=203.0.113.9 l=1~{{\"function\":\"x~y\"}}").as_bytes()
        );
        let job = parse_job(&out).unwrap();
        assert_eq!(job.jid, jid());
        assert_eq!(job.header, header);
        assert_eq!(job.line, "{\"function\":\"x~y\"}");
    }

    #[test]
    fn a_seed_contract_job_has_an_empty_header() {
        let mut out = Vec::new();
        encode_job(&mut out, jid(), &JobHeader::default(), "{}");
        assert_eq!(out, format!("{JID}~{{}}").as_bytes());
        let payload = format!("{JID}~");
        let job = parse_job(payload.as_bytes()).unwrap();
        assert_eq!(job.header, JobHeader::default());
        assert_eq!(job.line, "");
    }

    #[test]
    fn ipv6_clients_round_trip() {
        let header = JobHeader {
            client: Some("2001:db8::1".parse().unwrap()),
            ..JobHeader::default()
        };
        let mut out = Vec::new();
        encode_job(&mut out, jid(), &header, "l");
        assert_eq!(out, format!("{JID} c=2001:db8::1~l").as_bytes());
        assert_eq!(parse_job(&out).unwrap().header, header);
    }

    #[test]
    fn unknown_header_keys_are_skipped_known_ones_must_read() {
        let payload = format!("{JID} z=what g=2~l");
        let job = parse_job(payload.as_bytes()).unwrap();
        assert_eq!(job.header.gate, Some(2));
        for bad in [
            "g=x",
            "g=-1",
            "t=1.5",
            "c=300.1.1.1",
            "nokey",
            "g=",
            "l=0",
            "l=2",
            "l=",
        ] {
            let payload = format!("{JID} {bad}~l");
            assert!(
                matches!(parse_job(payload.as_bytes()), Err(LineError::BadField(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn broken_jobs_are_refused() {
        assert_eq!(parse_job(b"\xff\xfe~x"), Err(LineError::NotUtf8));
        assert_eq!(parse_job(JID.as_bytes()), Err(LineError::NoSeparator));
        assert_eq!(parse_job(b"~x"), Err(LineError::BadJobId(String::new())));
        assert!(matches!(parse_job(b"abc~x"), Err(LineError::BadJobId(_))));
        let long = format!("{}~x", "a".repeat(100));
        match parse_job(long.as_bytes()) {
            Err(LineError::BadJobId(shown)) => assert_eq!(shown.len(), 40),
            other => panic!("{other:?}"),
        }
        // Two spaces: an empty field is not `key=value`.
        assert!(matches!(
            parse_job(format!("{JID}  g=1~l").as_bytes()),
            Err(LineError::BadField(_))
        ));
    }

    #[test]
    fn answers_byte_for_byte_and_back() {
        let mut out = Vec::new();
        encode_answer(&mut out, jid(), "{\"status\":0,\"message\":\"a~b\"}");
        assert_eq!(
            out,
            format!("{JID}~{{\"status\":0,\"message\":\"a~b\"}}\r\n").as_bytes()
        );
        let text = std::str::from_utf8(&out).unwrap().trim_end();
        assert_eq!(
            parse_answer(text),
            Ok((jid(), "{\"status\":0,\"message\":\"a~b\"}"))
        );
    }

    #[test]
    fn broken_answers_are_refused() {
        assert_eq!(parse_answer("no separator"), Err(LineError::NoSeparator));
        assert_eq!(parse_answer("~{}"), Err(LineError::BadJobId(String::new())));
        assert!(matches!(
            parse_answer("00112233445566778899AABBCCDDEEFF~{}"),
            Err(LineError::BadJobId(_))
        ));
        assert!(matches!(
            parse_answer(&format!("{JID}0~{{}}")),
            Err(LineError::BadJobId(_))
        ));
        assert_eq!(
            parse_answer(&format!("{JID}~")),
            Err(LineError::EmptyResponse)
        );
    }

    #[test]
    fn link_jobs_are_the_nats_line_and_a_line_end() {
        let header = JobHeader {
            gate: Some(0),
            budget_ms: Some(10),
            client: None,
            link_jobs: true,
        };
        let mut out = Vec::new();
        encode_link_job(&mut out, jid(), &header, "{\"a\":\"\\r\\n\"}");
        assert_eq!(
            out,
            format!("{JID} g=0 t=10 l=1~{{\"a\":\"\\r\\n\"}}\r\n").as_bytes()
        );
        let job = parse_job(out.strip_suffix(b"\r\n").unwrap()).unwrap();
        assert_eq!(job.header, header);
    }

    #[test]
    fn job_offers_byte_for_byte_and_bounded() {
        for (window, line) in [
            (32, "jobs 32\r\n"),
            (0, "jobs 0\r\n"),
            (4096, "jobs 4096\r\n"),
        ] {
            let mut out = Vec::new();
            encode_link_jobs(&mut out, window);
            assert_eq!(out, line.as_bytes());
            let text = std::str::from_utf8(&out).unwrap().trim_end();
            assert_eq!(parse_worker_line(text), Ok(WorkerLine::Jobs(window)));
        }
        for bad in [
            "jobs ",
            "jobs -1",
            "jobs +1",
            "jobs 4097",
            "jobs 99999999999",
            "jobs 1 ",
            "jobs  1",
            "jobs 0x10",
            "jobs 1.0",
            "jobs ١",
        ] {
            assert!(
                matches!(parse_worker_line(bad), Err(LineError::BadWindow(_))),
                "{bad:?}"
            );
        }
        // Not an offer at all: read as an answer line, which it is not either.
        assert_eq!(parse_worker_line("jobs"), Err(LineError::NoSeparator));
        assert!(parse_worker_line("JOBS 1").is_err());
    }

    #[test]
    fn taken_notices_round_trip_beside_answers() {
        let mut out = Vec::new();
        encode_taken(&mut out, jid());
        assert_eq!(out, format!("+{JID}\r\n").as_bytes());
        let line = std::str::from_utf8(&out).unwrap().trim_end();
        assert_eq!(parse_worker_line(line), Ok(WorkerLine::Taken(jid())));
        let answer = format!("{JID}~{{\"status\":0}}");
        assert_eq!(
            parse_worker_line(&answer),
            Ok(WorkerLine::Answer(jid(), "{\"status\":0}"))
        );
        assert_eq!(
            parse_worker_line("+0123"),
            Err(LineError::BadJobId("0123".into()))
        );
        assert_eq!(
            parse_worker_line(&format!("+{JID}~{{}}")),
            Err(LineError::BadJobId(short(&format!("{JID}~{{}}")))),
            "a notice carries nothing after the id"
        );
        assert_eq!(
            parse_worker_line("+"),
            Err(LineError::BadJobId(String::new()))
        );
    }
}
