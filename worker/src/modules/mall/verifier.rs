//! The purchase verifier: the HTTP endpoint `--purchase-verifier-url` names, which checks
//! a store receipt (with the store, or with the payment provider's server-side record)
//! and says whether the worker may credit it. This file is the contract's one home in
//! code; docs/worker.md ("Purchases") describes it for the people who write verifiers.
//!
//! Request: `POST <url>` with `Content-Type: application/json`:
//! `{"order_id", "pid", "channel", "currency", "price", "world", "unique_id", "gn"}`, and
//! `"receipt"` when the client sent one (passed on unchanged).
//!
//! Answer: a 2xx with a JSON object. `{"accepted": true, "order_id": <the same>, "pid":
//! <the same>}` accepts; `{"accepted": false, ...}` (an optional `"reason"` is logged)
//! refuses, and so does an acceptance naming another order or product. Anything else
//! (no answer within the timeout, a refused connection, a non-2xx status, a body that is
//! not such an object) means the verifier could not say: nothing is credited and the
//! client may try again.
//!
//! The verifier may be asked about one order more than once (a retry after a timeout, or
//! concurrent replays): it answers whether the receipt is genuine; the worker alone makes
//! sure an order is credited once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

/// The connect timeout of a verification when the `Options` do not say otherwise; the
/// whole exchange gets twice that, 6 s, which ends before the gate's 10 s job timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Verifications one worker runs at once when the `Options` do not say otherwise: a
/// quarter of the default 32 job threads.
pub const DEFAULT_IN_FLIGHT: usize = 8;
/// The most of a verifier's answer that is read.
const MAX_ANSWER: u64 = 64 * 1024;

/// Where purchases are verified. Built by [`crate::Options::purchase_verifier`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierSettings {
    /// `http://...` URL receipts are POSTed to; empty = not configured.
    pub url: String,
    /// Connect timeout; the whole exchange gets twice that.
    pub timeout: Duration,
    /// How many verifications may wait on the verifier at once.
    pub in_flight: InFlight,
}

impl Default for VerifierSettings {
    /// Not configured.
    fn default() -> VerifierSettings {
        VerifierSettings {
            url: String::new(),
            timeout: DEFAULT_TIMEOUT,
            in_flight: InFlight::new(DEFAULT_IN_FLIGHT),
        }
    }
}

/// A cap on the verifications running at once in one worker. A verification holds the
/// job thread that asked while the verifier thinks; without a cap a slow verifier held
/// every thread and every player of the worker waited behind the purchases (measured:
/// bystanders' p50 2 ms -> 1.6 s with 64 buyers and a 1 s verifier). Over the cap a
/// purchase answers "try again later" at once. Clones share one count.
#[derive(Clone, Debug)]
pub struct InFlight {
    max: usize,
    running: Arc<AtomicUsize>,
}

impl InFlight {
    pub fn new(max: usize) -> InFlight {
        InFlight {
            max,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A place among the running verifications, given back when the guard drops; `None`
    /// when all `max` are taken.
    pub fn enter(&self) -> Option<InFlightGuard> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlightGuard(self.running.clone()))
    }

    /// Verifications running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

/// Two caps are equal when they allow as many: settings compare by configuration.
impl PartialEq for InFlight {
    fn eq(&self, other: &InFlight) -> bool {
        self.max == other.max
    }
}

impl Eq for InFlight {}

/// A running verification's place; dropping it frees the place.
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl VerifierSettings {
    pub fn configured(&self) -> bool {
        !self.url.is_empty()
    }
}

/// What is sent about one purchase.
#[derive(Clone, Debug)]
pub struct Receipt<'a> {
    pub order_id: &'a str,
    pub pid: &'a str,
    pub channel: &'a str,
    pub currency: &'a str,
    /// The product's price in `currency` (mall.json).
    pub price: u64,
    pub world: &'a str,
    pub unique_id: &'a str,
    pub gn: &'a str,
    /// The store's receipt as the client sent it, if it sent one.
    pub receipt: Option<&'a str>,
}

impl Receipt<'_> {
    /// The request body.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "order_id": self.order_id,
            "pid": self.pid,
            "channel": self.channel,
            "currency": self.currency,
            "price": self.price,
            "world": self.world,
            "unique_id": self.unique_id,
            "gn": self.gn,
        });
        if let Some(receipt) = self.receipt {
            body["receipt"] = Value::from(receipt);
        }
        body
    }
}

/// The verifier's word on a receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An explicit acceptance of this order and product: credit it.
    Accepted,
    /// An explicit refusal (or an acceptance of something else); the text is for the log.
    Refused(String),
    /// No usable answer (not configured, unreachable, timed out, non-2xx, not the
    /// contract's JSON); the text is for the log. Nothing is credited; a retry may pass.
    Unavailable(String),
}

/// Reads a verifier's answer (status and body) for `receipt`.
pub fn judge(receipt: &Receipt, status: u16, body: &str) -> Verdict {
    if !(200..300).contains(&status) {
        return Verdict::Unavailable(format!("answered {status}: {:.200}", body.trim()));
    }
    let answer: Value = match serde_json::from_str(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Verdict::Unavailable(format!(
                "answered {status} without a JSON object: {:.200}",
                body.trim()
            ))
        }
    };
    match answer.get("accepted") {
        Some(Value::Bool(true)) => {
            let same =
                |field: &str, ours: &str| answer.get(field).and_then(Value::as_str) == Some(ours);
            if same("order_id", receipt.order_id) && same("pid", receipt.pid) {
                Verdict::Accepted
            } else {
                Verdict::Refused(format!(
                    "accepted another order or product: {:.200}",
                    answer.to_string()
                ))
            }
        }
        Some(Value::Bool(false)) => Verdict::Refused(format!(
            "refused: {:.200}",
            answer
                .get("reason")
                .map(Value::to_string)
                .unwrap_or_default()
        )),
        _ => Verdict::Unavailable(format!(
            "answer without a boolean `accepted`: {:.200}",
            answer.to_string()
        )),
    }
}

/// Asks the verifier about `receipt`. Blocks for at most twice the settings' timeout;
/// answers `Unavailable` at once when the cap of verifications at once is reached.
pub fn verify(settings: &VerifierSettings, receipt: &Receipt) -> Verdict {
    if !settings.configured() {
        return Verdict::Unavailable("no purchase verifier configured".into());
    }
    let Some(_place) = settings.in_flight.enter() else {
        return Verdict::Unavailable(format!(
            "{} verifications already waiting on the verifier",
            settings.in_flight.max
        ));
    };
    let agent = crate::notify::hook_agent(settings.timeout);
    let url = &settings.url;
    let mut response = match agent.post(url).send_json(receipt.to_json()) {
        Ok(response) => response,
        Err(e) => return Verdict::Unavailable(format!("{url}: {e}")),
    };
    let status = response.status().as_u16();
    match response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
    {
        Ok(body) => judge(receipt, status, &body),
        Err(e) => Verdict::Unavailable(format!("{url}: answer unreadable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_places_and_gives_them_back() {
        let cap = InFlight::new(2);
        let shared = cap.clone();
        let a = cap.enter().expect("first place");
        let b = shared.enter().expect("second place");
        assert!(cap.enter().is_none(), "clones share one count");
        assert_eq!(cap.running(), 2);
        drop(a);
        let c = cap.enter().expect("a place freed");
        drop((b, c));
        assert_eq!(shared.running(), 0);
        assert!(InFlight::new(0).enter().is_none());
    }

    fn receipt() -> Receipt<'static> {
        Receipt {
            order_id: "A-1",
            pid: "DIAMOND_MIN",
            channel: "apple",
            currency: "RMB",
            price: 7,
            world: "s0",
            unique_id: "u",
            gn: "Bob",
            receipt: None,
        }
    }

    #[test]
    fn only_an_explicit_acceptance_of_this_order_and_product_accepts() {
        let r = receipt();
        let ok = r#"{"accepted":true,"order_id":"A-1","pid":"DIAMOND_MIN"}"#;
        assert_eq!(judge(&r, 200, ok), Verdict::Accepted);
        assert_eq!(judge(&r, 204, ok), Verdict::Accepted);
        for refused in [
            r#"{"accepted":false,"order_id":"A-1","pid":"DIAMOND_MIN","reason":"forged"}"#,
            r#"{"accepted":false}"#,
            r#"{"accepted":true,"order_id":"A-2","pid":"DIAMOND_MIN"}"#,
            r#"{"accepted":true,"order_id":"A-1","pid":"DIAMOND_BAG"}"#,
            r#"{"accepted":true}"#,
            r#"{"accepted":true,"order_id":1,"pid":"DIAMOND_MIN"}"#,
        ] {
            assert!(
                matches!(judge(&r, 200, refused), Verdict::Refused(_)),
                "{refused}"
            );
        }
        for unusable in [
            (500, ok),
            (404, ok),
            (302, ok),
            (200, ""),
            (200, "accepted"),
            (200, "true"),
            (200, r#"[{"accepted":true}]"#),
            (
                200,
                r#"{"accepted":"true","order_id":"A-1","pid":"DIAMOND_MIN"}"#,
            ),
            (200, r#"{"ok":true}"#),
        ] {
            assert!(
                matches!(judge(&r, unusable.0, unusable.1), Verdict::Unavailable(_)),
                "{unusable:?}"
            );
        }
    }

    #[test]
    fn the_receipt_goes_along_only_when_sent() {
        let mut r = receipt();
        assert!(r.to_json().get("receipt").is_none());
        r.receipt = Some("MIIT...");
        let body = r.to_json();
        assert_eq!(body["receipt"], "MIIT...");
        assert_eq!(body["order_id"], "A-1");
        assert_eq!(body["price"], 7);
        assert_eq!(body["gn"], "Bob");
    }

    #[test]
    fn not_configured_is_unavailable_without_a_request() {
        assert!(matches!(
            verify(&VerifierSettings::default(), &receipt()),
            Verdict::Unavailable(_)
        ));
    }
}
