//! The load generator's parts: a gate client, the call mix, the run loops and the stats.

pub mod client;
pub mod mix;
pub mod run;
pub mod stats;
