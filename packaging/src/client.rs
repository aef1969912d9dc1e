//! A game client's round through a running system, over the real wire protocols: two guests
//! log in through a gate, enter world `s0` and create players (a game call), chat between
//! them through an edge, and one mails the other. Used against the static binaries
//! (`tests/observability.rs`) and against the containers podman runs (`tests/podman.rs`).
//!
//! Every step is one transcript line (what was sent, what status came back), printed by the
//! tests for the note.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one answer may take: a freshly started worker under a loaded machine is slow.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// One client connection to a gate (one JSON request per line, one answer per line).
struct GateConn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl GateConn {
    fn connect(gate: SocketAddr) -> Result<GateConn, String> {
        let stream = TcpStream::connect_timeout(&gate, Duration::from_secs(10))
            .map_err(|e| format!("gate {gate}: {e}"))?;
        stream
            .set_read_timeout(Some(ANSWER_WAIT))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(GateConn { stream, reader })
    }

    /// One request, its answer. A -2 (the gate's "timed out, try again") is retried a few
    /// times, as a client does; the caller sees the last answer.
    fn call(&mut self, function: &str, data: Value) -> Result<Value, String> {
        let line = json!({"world": "s0", "function": function, "data": data}).to_string();
        let mut answer = Value::Null;
        for _ in 0..4 {
            self.stream
                .write_all(format!("{line}\r\n").as_bytes())
                .map_err(|e| format!("{function}: send: {e}"))?;
            let mut text = String::new();
            self.reader
                .read_line(&mut text)
                .map_err(|e| format!("{function}: no answer: {e}"))?;
            answer = serde_json::from_str(text.trim_end())
                .map_err(|e| format!("{function}: answer {text:?}: {e}"))?;
            if answer["status"] != -2 {
                break;
            }
        }
        Ok(answer)
    }
}

/// An edge connection that completed `00REGISTER`.
struct ChatConn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

/// A client frame: the command left-padded with `0` to 10 characters.
fn frame(command: &str, payload: &str) -> String {
    format!("{command:0>10}{payload}\r\n")
}

impl ChatConn {
    fn register(edge: SocketAddr, nonce: &str) -> Result<(ChatConn, String), String> {
        let mut stream = TcpStream::connect_timeout(&edge, Duration::from_secs(10))
            .map_err(|e| format!("edge {edge}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(frame("REGISTER", nonce).as_bytes())
            .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| format!("edge: no answer to REGISTER: {e}"))?;
        Ok((ChatConn { stream, reader }, first.trim_end().to_string()))
    }

    /// The next frame, or None when none came within the read timeout.
    fn next(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line.trim_end().to_string()),
            _ => None,
        }
    }
}

/// A guest with a player in `s0`.
struct Player {
    gate: GateConn,
    session: String,
    gn: String,
}

fn status(answer: &Value) -> i64 {
    answer["status"].as_i64().unwrap_or(i64::MIN)
}

/// Logs a new guest in (`login_unique`, `enter_world`) and creates its player.
fn new_player(
    gate: SocketAddr,
    device: &str,
    gn: &str,
    transcript: &mut Vec<String>,
) -> Result<Player, String> {
    let mut conn = GateConn::connect(gate)?;
    let login = conn.call("login_unique", json!({"unique_id": device}))?;
    transcript.push(format!("{gn}: login_unique -> {}", status(&login)));
    // 1: a new account, 0: this device's account (a retried attempt may have made it).
    if !matches!(status(&login), 0 | 1) {
        return Err(format!("login_unique answered {login}"));
    }
    let account = login["data"]["token"]
        .as_str()
        .ok_or(format!("login_unique gave no token: {login}"))?
        .to_string();
    let entered = conn.call("enter_world", json!({"token": account}))?;
    transcript.push(format!("{gn}: enter_world -> {}", status(&entered)));
    let session = entered["data"]["token"]
        .as_str()
        .ok_or(format!("enter_world gave no token: {entered}"))?
        .to_string();
    let created = conn.call(
        "create_player",
        json!({"token": session, "gn": gn, "icon": 1}),
    )?;
    transcript.push(format!("{gn}: create_player -> {}", status(&created)));
    if status(&created) != 0 {
        return Err(format!("create_player answered {created}"));
    }
    Ok(Player {
        gate: conn,
        session,
        gn: gn.to_string(),
    })
}

impl Player {
    fn call(
        &mut self,
        function: &str,
        mut data: Value,
        t: &mut Vec<String>,
    ) -> Result<Value, String> {
        data["token"] = Value::from(self.session.clone());
        let answer = self.gate.call(function, data)?;
        t.push(format!("{}: {function} -> {}", self.gn, status(&answer)));
        Ok(answer)
    }

    fn chat(&mut self, edge: SocketAddr, t: &mut Vec<String>) -> Result<ChatConn, String> {
        let answer = self.call("get_login_token_chat", json!({}), t)?;
        let nonce = answer["data"]["token"]
            .as_str()
            .ok_or(format!("get_login_token_chat answered {answer}"))?;
        let (conn, first) = ChatConn::register(edge, nonce)?;
        t.push(format!("{}: edge 00REGISTER -> {first}", self.gn));
        if first != "00000000OK" {
            return Err(format!("the edge refused {}: {first}", self.gn));
        }
        Ok(conn)
    }
}

/// Plays the round; `tag` makes the device ids and player names unique per run. Returns the
/// transcript, or what went wrong with the transcript so far.
pub fn play(gate: SocketAddr, edge: SocketAddr, tag: &str) -> Result<Vec<String>, String> {
    let mut t = Vec::new();
    let result = play_into(gate, edge, tag, &mut t);
    match result {
        Ok(()) => Ok(t),
        Err(e) => Err(format!("{e}\ntranscript so far:\n  {}", t.join("\n  "))),
    }
}

fn play_into(
    gate: SocketAddr,
    edge: SocketAddr,
    tag: &str,
    t: &mut Vec<String>,
) -> Result<(), String> {
    let mut ann = new_player(gate, &format!("{tag}-device-a"), &format!("{tag}_ann"), t)?;
    let mut bob = new_player(gate, &format!("{tag}-device-b"), &format!("{tag}_bob"), t)?;

    // Chat: both on the edge, Ann says hello in public, Bob hears it (resent a few times:
    // Bob's subscription may land just after Ann's first message).
    let mut ann_chat = ann.chat(edge, t)?;
    let mut bob_chat = bob.chat(edge, t)?;
    let text = format!("hello from {}", ann.gn);
    let expected = format!("0000PUBLIC{}:{text}", ann.gn);
    let deadline = Instant::now() + Duration::from_secs(30);
    'heard: loop {
        ann_chat
            .stream
            .write_all(frame("PUBLIC", &text).as_bytes())
            .map_err(|e| format!("chat send: {e}"))?;
        while let Some(got) = bob_chat.next() {
            if got == expected {
                t.push(format!("{}: edge hears {got}", bob.gn));
                break 'heard;
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{} never heard {expected}", bob.gn));
        }
    }
    let _ = ann_chat.stream.write_all(frame("EXIT", "").as_bytes());
    let _ = bob_chat.stream.write_all(frame("EXIT", "").as_bytes());

    // Mail: Ann writes, Bob finds it among his new mail (through the mail service).
    let sent = ann.call(
        "send_mail",
        json!({"gn_target": bob.gn, "subj": "hi", "body": "a mail through the system"}),
        t,
    )?;
    if status(&sent) != 0 {
        return Err(format!("send_mail answered {sent}"));
    }
    let new_mail = bob.call("get_new_mail", json!({}), t)?;
    if status(&new_mail) != 0 || !new_mail.to_string().contains("a mail through the system") {
        return Err(format!("get_new_mail answered {new_mail}"));
    }
    t.push(format!("{}: the mail from {} is there", bob.gn, ann.gn));
    Ok(())
}
