//! A stand-in gate that answers every request line at once with
//! `{"status":0,"message":"success","data":{"token":"t"}}` (enough for loadgen's logins), to
//! measure what the load generator itself costs per request with nothing else on the path
//! (docs/perf.md). One thread per connection; answers to the lines of one read go out in one
//! write. Not a gate: no functions, no tokens checked. Benchmarks only.
//!
//!   cargo run --release -p loadgen --example answer_server -- 127.0.0.1:18880

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

const ANSWER: &[u8] = b"{\"status\":0,\"message\":\"success\",\"data\":{\"token\":\"t\"}}\r\n";

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18880".into());
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    eprintln!("answer_server on {addr}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let Ok(mut writer) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut out = Vec::new();
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => out.extend_from_slice(ANSWER),
                }
                // Everything read so far is answered: write it in one go.
                if reader.buffer().is_empty() {
                    if writer.write_all(&out).is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        });
    }
}
