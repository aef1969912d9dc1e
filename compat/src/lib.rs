//! A client of our own that speaks exactly as the original game's clients did, and a walker
//! that checks every answer against a table of what the original's code answered: the
//! envelope, the status and each documented `data` field with its JSON type.
//!
//! The original's clients (Python) sent `json.dumps(...)` with its default separators
//! (`", "` and `": "`, non-ASCII escaped as `\uXXXX`), one request per TCP connection, the
//! line ended by `\r\n`, and `world` as the documents wrote it (the integer `0`) or as the
//! simulator did (the string `"s0"`). [`encode_request`] writes exactly that; [`call_once`]
//! sends it the same way. The tables live in `tests/`, one per module
//! (docs/compatibility.md).

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Long enough for a worker round trip on a busy 2-core machine; a hang still fails.
pub const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// How a request names its world: the documents' integer or the simulator's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `"world": 0`: an index into the worlds list, as every module document writes it.
    Index(i64),
    /// `"world": "s0"`: the world id, as the original's simulator sent it.
    Id(&'static str),
}

impl World {
    fn encoded(self) -> String {
        match self {
            World::Index(i) => i.to_string(),
            World::Id(id) => py_dumps(&Value::from(id)),
        }
    }
}

/// JSON as Python's `json.dumps(v)` wrote it with its defaults: `", "` between items,
/// `": "` after keys, every non-ASCII character escaped (`\uXXXX`, surrogate pairs above
/// U+FFFF). Object keys come in the order the [`Value`] holds them.
pub fn py_dumps(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&v.to_string()),
        Value::String(s) => write_py_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(item, out);
            }
            out.push('}');
        }
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One request line (without its `\r\n`), keys in the original clients' order:
/// `{"world": …, "function": …, "data": {…}}`.
pub fn encode_request(world: World, function: &str, data: &Value) -> String {
    format!(
        "{{\"world\": {}, \"function\": {}, \"data\": {}}}",
        world.encoded(),
        py_dumps(&Value::from(function)),
        py_dumps(data)
    )
}

/// Connects, sends `line` + `\r\n`, reads one answer line, closes: the original clients'
/// one request per connection. Panics (with the line) if no JSON answer comes in time.
pub fn call_once(addr: SocketAddr, line: &str) -> Value {
    let mut stream = TcpStream::connect(addr).expect("connect to the gate");
    stream.set_nodelay(true).expect("nodelay");
    let mut bytes = line.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    stream.write_all(&bytes).expect("send the request");
    let deadline = Instant::now() + ANSWER_WAIT;
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    let answer = loop {
        if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&got[..end]).into_owned();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no answer within {ANSWER_WAIT:?} to {line}"
        );
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(500))))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => panic!("the gate closed without an answer to {line}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the answer to {line}: {e}"),
        }
    };
    drop(stream);
    serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("answer {answer:?} to {line} is not JSON: {e}"))
}

/// A JSON type a documented field must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Str,
    /// A JSON number (the original's ints).
    Num,
    Obj,
    Arr,
    Bool,
    /// Present, of any type (the original echoed such values as sent).
    Any,
}

impl Ty {
    pub fn matches(self, v: &Value) -> bool {
        match self {
            Ty::Str => v.is_string(),
            Ty::Num => v.is_number(),
            Ty::Obj => v.is_object(),
            Ty::Arr => v.is_array(),
            Ty::Bool => v.is_boolean(),
            Ty::Any => true,
        }
    }
}

/// One row of a module's table: what the original answered to one case of one function.
///
/// `fields` are paths into the answer's `data`: `a.b` a nested key; `a[]` every element of
/// the array `a`, which must not be empty; `a[*]` every element, possibly none; `*` every
/// value of an object. The fields are checked when the status is a success status of the
/// row (the first of `statuses`, or any when `fields_on_any` is set).
#[derive(Debug)]
pub struct Expect {
    /// The name a walk uses for this row: the function's name for its main case, else a
    /// short description ("register: account taken").
    pub case: &'static str,
    pub function: &'static str,
    pub statuses: &'static [i64],
    pub fields: &'static [(&'static str, Ty)],
}

/// A table row with the given case name and function.
pub const fn row(
    case: &'static str,
    function: &'static str,
    statuses: &'static [i64],
    fields: &'static [(&'static str, Ty)],
) -> Expect {
    Expect {
        case,
        function,
        statuses,
        fields,
    }
}

/// The values at `path` inside `v` (see [`Expect`]), or what is missing.
pub fn resolve<'v>(v: &'v Value, path: &str) -> Result<Vec<&'v Value>, String> {
    let mut current = vec![v];
    let mut walked = String::new();
    for seg in path.split('.') {
        let (name, each) = if let Some(n) = seg.strip_suffix("[]") {
            (n, Some(true))
        } else if let Some(n) = seg.strip_suffix("[*]") {
            (n, Some(false))
        } else {
            (seg, None)
        };
        let mut next = Vec::new();
        for value in current {
            // `*` is every value of an object; a name is one field.
            let inners: Vec<&Value> = if name == "*" {
                match value.as_object() {
                    Some(map) => map.values().collect(),
                    None => return Err(format!("`{walked}` is not an object: {value}")),
                }
            } else {
                match value.get(name) {
                    Some(inner) => vec![inner],
                    None => {
                        return Err(format!(
                            "`{}` is missing",
                            if walked.is_empty() {
                                name.to_string()
                            } else {
                                format!("{walked}.{name}")
                            }
                        ))
                    }
                }
            };
            for inner in inners {
                match each {
                    None => next.push(inner),
                    Some(non_empty) => {
                        let items = inner.as_array().ok_or_else(|| {
                            format!("`{walked}{}{name}` is not an array: {inner}", dot(&walked))
                        })?;
                        if non_empty && items.is_empty() {
                            return Err(format!(
                                "`{walked}{}{name}` is empty (the walk expects entries)",
                                dot(&walked)
                            ));
                        }
                        next.extend(items.iter());
                    }
                }
            }
        }
        walked = if walked.is_empty() {
            seg.to_string()
        } else {
            format!("{walked}.{seg}")
        };
        current = next;
    }
    Ok(current)
}

fn dot(walked: &str) -> &'static str {
    if walked.is_empty() {
        ""
    } else {
        "."
    }
}

/// What a walk counted.
#[derive(Debug, Default)]
pub struct Tally {
    pub functions: BTreeSet<&'static str>,
    pub fields: usize,
    pub statuses: usize,
}

/// Walks one module's table against a running system: every call goes through
/// [`call_once`], the world alternating between `0` and `"s0"`. Mismatches are collected,
/// not fatal, so one run lists every difference; [`Walker::finish`] prints the tally and
/// fails the test if there was any.
pub struct Walker {
    pub addr: SocketAddr,
    module: &'static str,
    table: &'static [Expect],
    turn: usize,
    pub tally: Tally,
    failures: Vec<String>,
}

impl Walker {
    pub fn new(addr: SocketAddr, module: &'static str, table: &'static [Expect]) -> Walker {
        for (i, e) in table.iter().enumerate() {
            assert!(
                !e.statuses.is_empty(),
                "{module}: `{}` has no status",
                e.case
            );
            assert!(
                table[i + 1..].iter().all(|o| o.case != e.case),
                "{module}: case `{}` twice",
                e.case
            );
        }
        Walker {
            addr,
            module,
            table,
            turn: 0,
            tally: Tally::default(),
            failures: Vec::new(),
        }
    }

    /// The next world form: `0`, `"s0"`, `0`, …
    pub fn next_world(&mut self) -> World {
        self.turn += 1;
        if self.turn % 2 == 1 {
            World::Index(0)
        } else {
            World::Id("s0")
        }
    }

    /// Runs table row `case` with `token` (none when empty) added to `data`, in the next
    /// world form; checks it and returns the answer.
    pub fn call(&mut self, case: &str, token: &str, data: Value) -> Value {
        let world = self.next_world();
        self.call_in(world, case, token, data)
    }

    /// As [`Walker::call`], in the given world form.
    pub fn call_in(&mut self, world: World, case: &str, token: &str, data: Value) -> Value {
        let row = self
            .table
            .iter()
            .find(|e| e.case == case)
            .unwrap_or_else(|| panic!("{}: no table row `{case}`", self.module));
        let line = encode_request(world, row.function, &with_token(data, token));
        let answer = call_once(self.addr, &line);
        self.tally.functions.insert(row.function);
        self.check(row, &line, &answer);
        answer
    }

    fn check(&mut self, row: &Expect, line: &str, answer: &Value) {
        let mut problems = envelope_problems(answer);
        if let Some(status) = answer.get("status").and_then(Value::as_i64) {
            self.tally.statuses += 1;
            if !row.statuses.contains(&status) {
                problems.push(format!(
                    "status {status}, expected {:?} (fields not checked)",
                    row.statuses
                ));
            } else if status == row.statuses[0] {
                let data = &answer["data"];
                for (path, ty) in row.fields {
                    self.tally.fields += 1;
                    problems.extend(field_problem(data, path, *ty));
                }
            }
        }
        problems.dedup();
        for p in problems {
            self.fail(format!(
                "{}: {p}\n      sent {line}\n      got  {answer}",
                row.case
            ));
        }
    }

    /// Checks one more field of an answer's `data` (for fields a table cannot name, e.g.
    /// keys that are game names).
    pub fn field(&mut self, case: &str, answer: &Value, path: &str, ty: Ty) {
        self.tally.fields += 1;
        if let Some(p) = field_problem(&answer["data"], path, ty) {
            self.fail(format!("{case}: {p}\n      got  {answer}"));
        }
    }

    /// Records a failed expectation unless `ok`.
    pub fn expect(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.fail(what.into());
        }
    }

    /// Records a failed setup step (e.g. a refused [`grant`]) and goes on.
    pub fn setup(&mut self, step: Result<(), String>) {
        if let Err(e) = step {
            self.fail(e);
        }
    }

    /// Unwraps a value the walk needs for its next steps, recording its absence.
    pub fn need<T>(&mut self, value: Option<T>, what: &str) -> Option<T> {
        if value.is_none() {
            self.fail(format!(
                "{what}: not found, the steps that need it are skipped"
            ));
        }
        value
    }

    fn fail(&mut self, what: String) {
        eprintln!("[compat {}] MISMATCH {what}", self.module);
        self.failures.push(what);
    }

    /// A request outside the table (setup), in world `"s0"`, unchecked.
    pub fn raw(&self, function: &str, token: &str, data: Value) -> Value {
        let line = encode_request(World::Id("s0"), function, &with_token(data, token));
        call_once(self.addr, &line)
    }

    /// Prints the tally (shown with `--nocapture`) and fails with every mismatch.
    pub fn finish(self) {
        println!(
            "compat {}: {} functions walked, {} fields checked, {} statuses checked, {} mismatches",
            self.module,
            self.tally.functions.len(),
            self.tally.fields,
            self.tally.statuses,
            self.failures.len()
        );
        println!(
            "compat {} functions: {}",
            self.module,
            self.tally
                .functions
                .iter()
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !self.failures.is_empty() {
            panic!(
                "{} answers differ from the original's ({}):\n  - {}",
                self.module,
                self.failures.len(),
                self.failures.join("\n  - ")
            );
        }
    }
}

fn with_token(mut data: Value, token: &str) -> Value {
    if !token.is_empty() {
        data["token"] = Value::from(token);
    }
    data
}

/// What is wrong with the envelope: `status` an integer, `message` a string, `data` an
/// object (also on errors).
pub fn envelope_problems(answer: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if !answer.is_object() {
        return vec![format!("the answer is not an object: {answer}")];
    }
    if !answer.get("status").is_some_and(Value::is_i64) {
        problems.push("envelope: `status` is not an integer".into());
    }
    if !answer.get("message").is_some_and(Value::is_string) {
        problems.push("envelope: `message` is not a string".into());
    }
    if !answer.get("data").is_some_and(Value::is_object) {
        problems.push("envelope: `data` is not an object".into());
    }
    problems
}

/// What is wrong with `path` in `data`, if anything.
pub fn field_problem(data: &Value, path: &str, ty: Ty) -> Option<String> {
    match resolve(data, path) {
        Err(e) => Some(format!("data: {e}")),
        Ok(values) => values
            .iter()
            .find(|v| !ty.matches(v))
            .map(|v| format!("data: `{path}` should be {ty:?}, is {v}")),
    }
}

/// The status of an answer (panics without one).
pub fn status(answer: &Value) -> i64 {
    answer["status"]
        .as_i64()
        .unwrap_or_else(|| panic!("answer without an integer status: {answer}"))
}

/// A string at `path` of an answer's `data`; panics (the walk cannot go on) without one.
pub fn take_str(answer: &Value, path: &str) -> String {
    match resolve(&answer["data"], path) {
        Ok(v) if v.len() == 1 && v[0].is_string() => v[0].as_str().unwrap().to_string(),
        other => panic!("the walk needs a string at data.{path}: {other:?} in {answer}"),
    }
}

/// A mail's type as a number: the original's documents show it as a string `"1"`, its
/// code and our API as the number; setup accepts both, the mail table checks the number.
pub fn mail_type(mail: &Value) -> Option<i64> {
    match &mail["type"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A player made for a walk.
#[derive(Clone, Debug)]
pub struct Player {
    pub unique_id: String,
    /// The account token (login_unique's `data.token`).
    pub account: String,
    /// The session token (enter_world's `data.session`).
    pub session: String,
    pub gn: String,
}

/// A random suffix for names and device ids.
pub fn fresh(prefix: &str) -> String {
    format!("{prefix}{}", shared::ids::random_hex(5))
}

/// Setup, not a check: a guest login, enter_world and create_player as the original's
/// simulator did them. Tolerant where the module under test is another one: status 0 or 1
/// for the login, 0 or 98 for enter_world, and the session in `data.session` or, as our
/// worker answered before issue 12, `data.token`. The account and player tables check
/// these functions strictly.
pub fn new_player(addr: SocketAddr, prefix: &str) -> Player {
    let unique_id = fresh(&format!("{prefix}-dev-"));
    let login = call_once(
        addr,
        &encode_request(
            World::Id("s0"),
            "login_unique",
            &json!({"unique_id": unique_id}),
        ),
    );
    assert!(
        matches!(status(&login), 0 | 1),
        "setup login_unique: {login}"
    );
    let account = take_str(&login, "token");
    let enter = call_once(
        addr,
        &encode_request(World::Id("s0"), "enter_world", &json!({"token": account})),
    );
    assert!(
        matches!(status(&enter), 0 | 98),
        "setup enter_world: {enter}"
    );
    let session = enter["data"]["session"]
        .as_str()
        .or_else(|| enter["data"]["token"].as_str())
        .unwrap_or_else(|| panic!("setup enter_world: no session in {enter}"))
        .to_string();
    let gn = fresh(prefix);
    let created = call_once(
        addr,
        &encode_request(
            World::Id("s0"),
            "create_player",
            &json!({"token": session, "gn": gn, "icon": 1}),
        ),
    );
    assert_eq!(status(&created), 0, "setup create_player: {created}");
    Player {
        unique_id,
        account,
        session,
        gn,
    }
}

/// Setup: an admin grants `items` to the player named `gn` (our admin-only
/// `add_resources`; the original let every player grant itself anything). `Err` with the
/// answer when refused (e.g. an item id our items.json does not know yet), for the walk to
/// record and go on.
pub fn grant(addr: SocketAddr, admin: &str, gn: &str, items: &[&str]) -> Result<(), String> {
    let answer = call_once(
        addr,
        &encode_request(
            World::Id("s0"),
            "add_resources",
            &json!({"token": admin, "gn_target": gn, "items": items}),
        ),
    );
    if status(&answer) == 0 {
        Ok(())
    } else {
        Err(format!("setup: add_resources {items:?} refused: {answer}"))
    }
}

/// Setup: spends every diamond the player has by renaming it (100 diamonds each) until a
/// rename is refused; for the cases that need a player without diamonds.
pub fn drain_diamonds(addr: SocketAddr, player: &mut Player) {
    for _ in 0..1000 {
        let gn = fresh("drained");
        let answer = call_once(
            addr,
            &encode_request(
                World::Id("s0"),
                "change_player_name",
                &json!({"token": player.session, "gn": gn}),
            ),
        );
        if status(&answer) != 0 {
            return;
        }
        player.gn = gn;
    }
    panic!("setup: still diamonds after 1000 renames");
}

/// Setup: raises a player to `level` with `exp` experience straight in the database
/// (the original's players got there by playing stages, which we do not have). Sets
/// whichever of `level`/`exp` the `players` and `progress` tables have.
pub fn raise_level(db: &testkit::MariaDb, gn: &str, level: i64, exp: i64) {
    let db_name = testkit::MARIADB_DATABASE;
    let quoted = gn.replace('\\', "\\\\").replace('\'', "\\'");
    let uid = db.sql(&format!(
        "SELECT unique_id FROM {db_name}.players WHERE gn = '{quoted}'"
    ));
    let uid = uid.trim().replace('\\', "\\\\").replace('\'', "\\'");
    assert!(!uid.is_empty(), "setup: no player {gn}");
    let columns = db.sql(&format!(
        "SELECT table_name, column_name FROM information_schema.columns \
         WHERE table_schema = '{db_name}' AND table_name IN ('players', 'progress') \
         AND column_name IN ('level', 'exp')"
    ));
    for line in columns.lines() {
        let Some((table, column)) = line.split_once('\t') else {
            continue;
        };
        let value = if column == "level" { level } else { exp };
        db.sql(&format!(
            "UPDATE {db_name}.{table} SET {column} = {value} WHERE unique_id = '{uid}'"
        ));
    }
}

/// Setup: the mails of a player (get_all_mail, unchecked).
pub fn all_mail(addr: SocketAddr, session: &str) -> Vec<Value> {
    let answer = call_once(
        addr,
        &encode_request(World::Id("s0"), "get_all_mail", &json!({"token": session})),
    );
    assert_eq!(status(&answer), 0, "setup get_all_mail: {answer}");
    answer["data"]["mail"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Setup: the key of the newest mail of `kind` (a number 0-3) from `from`, if any.
pub fn mail_key_from(addr: SocketAddr, session: &str, kind: i64, from: &str) -> Option<String> {
    all_mail(addr, session)
        .iter()
        .find(|m| mail_type(m) == Some(kind) && m["from"].as_str() == Some(from))
        .and_then(|m| m["key"].as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_byte_for_byte_what_the_original_clients_sent() {
        let line = encode_request(
            World::Index(0),
            "login_unique",
            &json!({"unique_id": "4f6e0d1c"}),
        );
        assert_eq!(
            line,
            r#"{"world": 0, "function": "login_unique", "data": {"unique_id": "4f6e0d1c"}}"#
        );
        let line = encode_request(
            World::Id("s0"),
            "send_mail",
            &json!({"body": "h\u{e9}\u{1f600}\n", "gift": [1, true, null], "token": "t"}),
        );
        assert_eq!(
            line,
            r#"{"world": "s0", "function": "send_mail", "data": {"body": "h\u00e9\ud83d\ude00\n", "gift": [1, true, null], "token": "t"}}"#
        );
        // Still JSON that any parser reads back.
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["data"]["body"], "h\u{e9}\u{1f600}\n");
    }

    #[test]
    fn paths_reach_nested_fields_and_each_element() {
        let keyed = json!({"success": {"k1": [{"gid": 3}], "k2": [{"gid": 0}, {"gid": 1}]}});
        assert_eq!(resolve(&keyed, "success.*[].gid").unwrap().len(), 3);
        assert!(resolve(&json!({"success": {"k": 5}}), "success.*[].gid").is_err());
        let data = json!({"a": {"b": 1}, "l": [{"k": "x"}, {"k": "y"}], "e": [], "o": {"1": [2]}});
        assert_eq!(resolve(&data, "a.b").unwrap(), vec![&json!(1)]);
        assert_eq!(resolve(&data, "l[].k").unwrap().len(), 2);
        assert!(resolve(&data, "e[]").is_err(), "[] wants entries");
        assert!(resolve(&data, "e[*].k").unwrap().is_empty());
        assert_eq!(resolve(&data, "o.*").unwrap(), vec![&json!([2])]);
        assert!(field_problem(&data, "l[].k", Ty::Num).is_some());
        assert!(field_problem(&data, "l[].k", Ty::Str).is_none());
        assert!(field_problem(&data, "missing", Ty::Any).is_some());
    }

    #[test]
    fn the_envelope_needs_an_object_data_also_on_errors() {
        assert!(envelope_problems(&json!({"status": 97, "message": "m", "data": {}})).is_empty());
        assert_eq!(
            envelope_problems(&json!({"status": "0", "message": 1, "data": []})).len(),
            3
        );
    }
}
