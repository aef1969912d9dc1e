//! `shared::contract`: the job line (on NATS and down a worker link) and the worker's lines
//! (answers, taken notices, offers to take jobs) fed arbitrary bytes.
//!
//! Whatever arrives, parsing never panics, and a line that parses is written back
//! unchanged up to what the contract normalises (unknown header keys dropped, numbers and
//! addresses in their canonical text): encoding the parsed job and parsing it again gives
//! the same job, so gate and worker can never disagree on a job both of them accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contract::{
    encode_answer, encode_job, encode_link_job, encode_link_jobs, encode_taken, parse_job,
    parse_worker_line, WorkerLine,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(job) = parse_job(data) {
        let mut again = Vec::new();
        encode_job(&mut again, job.jid, &job.header, job.line);
        let reparsed = parse_job(&again).expect("an encoded job parses");
        assert_eq!(reparsed, job);
        // The request line is carried byte for byte.
        assert!(data.ends_with(job.line.as_bytes()));
        // Down a link the same line gets a line end, and reads back the same.
        let mut link = Vec::new();
        encode_link_job(&mut link, job.jid, &job.header, job.line);
        let body = link.strip_suffix(b"\r\n").expect("a link job ends in CRLF");
        assert_eq!(parse_job(body), Ok(job));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(parsed) = parse_worker_line(text) {
            let mut line = Vec::new();
            match parsed {
                WorkerLine::Answer(jid, response) => encode_answer(&mut line, jid, response),
                WorkerLine::Taken(jid) => encode_taken(&mut line, jid),
                WorkerLine::Jobs(window) => encode_link_jobs(&mut line, window),
            }
            let line = std::str::from_utf8(&line).unwrap();
            let body = line
                .strip_suffix("\r\n")
                .expect("a worker line ends in CRLF");
            assert_eq!(parse_worker_line(body), Ok(parsed));
        }
    }
});
