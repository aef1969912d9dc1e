//! The load generator's parts: the call mix, the run loops, chat on edges and the stats.

pub mod chat;
pub mod mix;
pub mod run;
pub mod stats;
