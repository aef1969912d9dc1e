//! The gate: clients send request lines on port 8880, the gate publishes each as a job on
//! NATS `jobs`, workers send answers back on port 8201, and each client gets its answers
//! in request order. See docs/gate.md for operation and docs/PROTOCOL.md for the contract.
//!
//! Pure, unit-tested parts: [`answer_queue`], [`timer_queue`], [`job_id`], [`options`]; the
//! job and answer lines are the contract's ([`shared::contract`]). Network parts: [`event_loop`] (sockets) with
//! [`client_conn`] (one client's buffers and limits), [`fair_share`] (per-address limits, the
//! answer memory budget), [`dispatch`] (Redis + NATS),
//! [`registration`] (`gates.id.<gid>`), and [`service`] (the running gate: start, stop).

#![forbid(unsafe_code)]

pub mod answer_queue;
pub mod client_conn;
pub mod dispatch;
pub mod event_loop;
pub mod fair_share;
pub mod gate_metrics;
pub mod job_id;
pub mod options;
pub mod registration;
pub mod service;
pub mod timer_queue;
pub mod worker_link;

pub use options::{Options, SPEC};
pub use service::{Gate, StartError};
