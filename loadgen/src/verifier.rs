//! A purchase verifier stand-in for benchmarks (`loadgen --serve-verifier <port>`): it
//! accepts every receipt, as the worker's contract asks an accepting verifier to answer
//! (`worker/src/modules/mall/verifier.rs`): a `POST` whose JSON body names an `order_id`
//! and a `pid` gets `200 {"accepted":true,"order_id":..,"pid":..}` naming the same ones.
//! It checks nothing with any store, so it is for load runs only: a worker pointed at it
//! credits every purchase a client claims.
//!
//! An optional delay before each answer plays a slow store, to see what slow
//! verifications do to the rest of the worker's work.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use shared::http::{HttpServer, Options, Request, Response};
use shared::metrics::Registry;

/// Requests answered at once. A verification holds one while the delay runs, so this is
/// more than the job threads of several workers (32 each by default): the stand-in is
/// never the queue.
pub const THREADS: usize = 256;

/// The answer to one verification request.
pub fn answer(request: &Request) -> Response {
    if request.method != "POST" {
        return Response::json(405, &json!({"error": "POST a receipt"}))
            .with_header("Allow", "POST");
    }
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    match (field("order_id"), field("pid")) {
        (Some(order_id), Some(pid)) => Response::json(
            200,
            &json!({"accepted": true, "order_id": order_id, "pid": pid}),
        ),
        _ => Response::json(
            400,
            &json!({"error": "expected a JSON object with string order_id and pid"}),
        ),
    }
}

/// The running stand-in.
pub struct Verifier {
    server: HttpServer,
    answered: Arc<AtomicU64>,
}

impl Verifier {
    /// Serves on `bind` (`host:port`; port 0 picks one), waiting `delay` before each answer.
    pub fn start(bind: &str, delay: Duration) -> io::Result<Verifier> {
        let answered = Arc::new(AtomicU64::new(0));
        let count = answered.clone();
        let handler = Arc::new(move |request: &Request| {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let response = answer(request);
            if response.status == 200 {
                count.fetch_add(1, Ordering::Relaxed);
            }
            response
        });
        let options = Options {
            name: "verifier",
            threads: THREADS,
            ..Options::default()
        };
        let server = HttpServer::start(bind, options, handler, &Registry::new())?;
        Ok(Verifier { server, answered })
    }

    /// `http://<addr>/verify`, for `--purchase-verifier-url` (any path is served).
    pub fn url(&self) -> String {
        format!("http://{}/verify", self.server.addr())
    }

    /// Receipts accepted so far.
    pub fn accepted(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    pub fn shutdown(self) {
        self.server.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/verify".into(),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn body(response: &Response) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn every_receipt_is_accepted_naming_its_order_and_product() {
        let r = answer(&post(
            r#"{"order_id":"lg-1-0","pid":"DIAMOND_SMALL","channel":"loadgen","currency":"RMB",
                "price":7,"world":"s0","unique_id":"u","gn":"g"}"#,
        ));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, Some("application/json"));
        assert_eq!(
            body(&r),
            json!({"accepted": true, "order_id": "lg-1-0", "pid": "DIAMOND_SMALL"})
        );
    }

    #[test]
    fn what_is_not_a_receipt_is_refused() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"order_id":"A"}"#,
            r#"{"order_id":1,"pid":"P"}"#,
        ] {
            assert_eq!(answer(&post(bad)).status, 400, "{bad}");
        }
        let mut get = post("");
        get.method = "GET".into();
        let r = answer(&get);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("POST"));
    }

    /// The worker's own verifier client, over HTTP, takes the answer as an acceptance.
    #[test]
    fn the_workers_client_is_accepted_after_the_delay() {
        use worker::modules::mall::verifier::{verify, Receipt, Verdict, VerifierSettings};
        let v = Verifier::start("127.0.0.1:0", Duration::from_millis(200)).unwrap();
        let settings = VerifierSettings {
            url: v.url(),
            timeout: Duration::from_secs(5),
            ..VerifierSettings::default()
        };
        let receipt = Receipt {
            order_id: "lg-abc-7",
            pid: "DIAMOND_SMALL",
            channel: "loadgen",
            currency: "RMB",
            price: 7,
            world: "s0",
            unique_id: "u",
            gn: "lg_cafe",
            receipt: None,
        };
        let started = std::time::Instant::now();
        assert_eq!(verify(&settings, &receipt), Verdict::Accepted);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(v.accepted(), 1);
        v.shutdown();
    }
}
