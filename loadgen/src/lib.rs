//! The load generator's parts: the call mix and its request lines, the run loops, chat on
//! edges, the stats, and a purchase verifier stand-in for benchmarks.

pub mod calls;
pub mod chat;
pub mod mix;
pub mod run;
pub mod stats;
pub mod verifier;
