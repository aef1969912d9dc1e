//! `shared::resp`: the RESP2 replies the worker's token-cache feed reads from Redis
//! (shared::redis_tracking), and the commands it sends.
//!
//! Checks: a reply parsed from the input parses the same from exactly the bytes it took,
//! and every shorter cut of those bytes waits for more (`Ok(None)`), never errs or
//! answers early; a parsed reply written back in RESP2 parses to itself; the input split
//! on `0x00` and encoded as a command parses to an array of exactly those bulk strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::resp::{encode_command, parse, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((value, used))) = parse(data) {
        assert!(used > 0 && used <= data.len());
        let frame = &data[..used];
        assert_eq!(parse(frame), Ok(Some((value.clone(), used))));
        let step = (used / 64).max(1);
        for cut in (0..used).step_by(step) {
            assert_eq!(parse(&frame[..cut]), Ok(None), "cut at {cut} of {used}");
        }
        let written = write(&value);
        assert_eq!(parse(&written), Ok(Some((value, written.len()))));
    }
    let args: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let command = encode_command(&args);
    let bulks = args.iter().map(|a| Value::Bulk(a.to_vec())).collect();
    assert_eq!(
        parse(&command),
        Ok(Some((Value::Array(bulks), command.len())))
    );
});

/// A reply in RESP2 (a model writer: the parser's inverse, for the check above).
fn write(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put(value, &mut out);
    out
}

fn put(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Value::Error(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        Value::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Bulk(b) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Value::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                put(item, out);
            }
        }
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
    }
}
