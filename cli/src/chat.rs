//! Terminal chat on an edge: typed lines go out as frames, received frames are printed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// A client frame of the edge protocol: the command left-padded with `0` to 10 characters.
pub fn frame(command: &str, payload: &str) -> String {
    format!("{command:0>10}{payload}\r\n")
}

/// What a typed line becomes: `/f text` family, `/quit` exit, anything else public.
pub fn typed_frame(line: &str) -> Option<String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line == "/quit" {
        return Some(frame("EXIT", ""));
    }
    if let Some(text) = line.strip_prefix("/f ") {
        return Some(frame("FAMILY", text));
    }
    if line.is_empty() {
        return None;
    }
    Some(frame("PUBLIC", line))
}

/// A server frame as a person reads it.
pub fn shown(frame: &str) -> String {
    let (command, payload) = frame.split_at(frame.len().min(10));
    match command {
        "0000PUBLIC" => format!("[public] {payload}"),
        "0000FAMILY" => format!("[family] {payload}"),
        "00000ERROR" => format!("[error] {payload}"),
        "00000000OK" => "[connected]".to_string(),
        _ => format!("[?] {frame}"),
    }
}

/// Registers with `nonce`, then relays stdin to the edge and the edge to stdout until either
/// side ends.
pub fn run(edge: &str, nonce: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(edge).map_err(|e| format!("edge {edge}: {e}"))?;
    stream
        .write_all(frame("REGISTER", nonce).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let first = line.trim_end();
    if first != "00000000OK" {
        return Err(format!("edge refused the login: {}", shown(first)));
    }
    println!(
        "{}  (type to talk, /f TEXT for family, /quit to leave)",
        shown(first)
    );
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for typed in stdin.lock().lines() {
            let Ok(typed) = typed else { break };
            let Some(out) = typed_frame(&typed) else {
                continue;
            };
            if stream.write_all(out.as_bytes()).is_err() || out.ends_with("EXIT\r\n") {
                break;
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Write);
    });
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => println!("{}", shown(line.trim_end())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_pad_the_command() {
        assert_eq!(frame("REGISTER", "n1"), "00REGISTERn1\r\n");
        assert_eq!(typed_frame("/quit").unwrap(), "000000EXIT\r\n");
        assert_eq!(typed_frame("/f hi").unwrap(), "0000FAMILYhi\r\n");
        assert_eq!(typed_frame("你好").unwrap(), "0000PUBLIC你好\r\n");
        assert_eq!(typed_frame(""), None);
    }

    #[test]
    fn server_frames_read_well() {
        assert_eq!(shown("0000PUBLICbob:hi"), "[public] bob:hi");
        assert_eq!(shown("00000ERRORrate limit"), "[error] rate limit");
        assert_eq!(shown("00000000OK"), "[connected]");
    }
}
