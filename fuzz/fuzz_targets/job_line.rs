//! `shared::contract`: the job line and the answer line fed arbitrary bytes.
//!
//! Whatever arrives, parsing never panics, and a line that parses is written back
//! unchanged up to what the contract normalises (unknown header keys dropped, numbers and
//! addresses in their canonical text): encoding the parsed job and parsing it again gives
//! the same job, so gate and worker can never disagree on a job both of them accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::{encode_answer, encode_job, parse_answer, parse_job};

fuzz_target!(|data: &[u8]| {
    if let Ok(job) = parse_job(data) {
        let mut again = Vec::new();
        encode_job(&mut again, job.jid, &job.header, job.line);
        let reparsed = parse_job(&again).expect("an encoded job parses");
        assert_eq!(reparsed, job);
        // The request line is carried byte for byte.
        assert!(data.ends_with(job.line.as_bytes()));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((jid, response)) = parse_answer(text) {
            let mut line = Vec::new();
            encode_answer(&mut line, jid, response);
            let line = std::str::from_utf8(&line).unwrap();
            let body = line.strip_suffix("\r\n").expect("an answer ends in CRLF");
            assert_eq!(parse_answer(body), Ok((jid, response)));
        }
    }
});
