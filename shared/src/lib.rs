//! Code every Lukseun service uses. Each module has one job; protocol code is pure and
//! unit-tested, the parts that touch the network are thin.

pub mod admin;
pub mod civil;
pub mod contract;
pub mod envelope;
pub mod fd_limit;
pub mod flags;
pub mod framing;
pub mod gate_client;
pub mod grants;
pub mod http;
pub mod ids;
pub mod log;
pub mod mail_key;
pub mod mail_type;
pub mod metrics;
pub mod nats;
pub mod outbuf;
pub mod poller;
pub mod redis_conn;
pub mod redis_tracking;
pub mod resp;
pub mod signal;
pub mod smtp;
pub mod sock;
