//! The load generator's parts: the call mix, the run loops and the stats.

pub mod mix;
pub mod run;
pub mod stats;
