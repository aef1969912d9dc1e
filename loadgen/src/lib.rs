//! The load generator's parts: the call mix and its request lines, the logins and the
//! event loops that measure (with their pure parts: answers off the wire, the open loop's
//! schedule, each connection's requests in flight), chat on edges, the stats, and a
//! purchase verifier stand-in for benchmarks.

pub mod answer;
pub mod calls;
pub mod chat;
pub mod event_loop;
pub mod flight;
pub mod mix;
pub mod play;
pub mod player;
pub mod run;
pub mod schedule;
pub mod stats;
pub mod verifier;
