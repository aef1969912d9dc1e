//! What choosing a request's MySQL pool costs per call (`Context::new` does it once per
//! job): with no `--world-db` (every world on `--mysql-url`) and with two worlds elsewhere.
//! No server is needed: pools connect on first use, and this never uses them.
//!
//! `cargo run -p worker [--release] --example world_lookup -- [calls]`

use std::hint::black_box;
use std::time::Instant;

use worker::db::Db;
use worker::world_db::WorldDbs;

/// Nanoseconds per call of the same loop without a lookup (before `--world-db`: the one
/// pool was taken as is).
fn baseline(default: &Db, worlds: &[&str], calls: usize) -> f64 {
    let start = Instant::now();
    for i in 0..calls {
        black_box(worlds[i % worlds.len()]);
        black_box(default);
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// Nanoseconds per lookup of `worlds` in turn.
fn per_call(dbs: &WorldDbs, default: &Db, worlds: &[&str], calls: usize) -> f64 {
    let start = Instant::now();
    for i in 0..calls {
        let world = black_box(worlds[i % worlds.len()]);
        let db = black_box(dbs).get(world).unwrap_or(default);
        black_box(db);
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("calls: a number"))
        .unwrap_or(10_000_000);
    let url = |host: &str| format!("mysql://u:p@{host}:3306/lukseun");
    let default = Db::open(&url("db-a"), 2).unwrap();
    let none = WorldDbs::none();
    let placed = vec![
        ("s1".to_string(), Db::open(&url("db-b"), 2).unwrap()),
        ("s2".to_string(), Db::open(&url("db-c"), 2).unwrap()),
    ];
    let split = WorldDbs::of(placed);
    let worlds = ["s0", "s1", "s2", "s3"];
    // Once each to warm up, then measured.
    per_call(&none, &default, &worlds, calls / 10);
    per_call(&split, &default, &worlds, calls / 10);
    let before = baseline(&default, &worlds, calls);
    let one_server = per_call(&none, &default, &worlds, calls);
    let two_elsewhere = per_call(&split, &default, &worlds, calls);
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("pool lookup per call ({build} build, {calls} calls, worlds s0..s3):");
    println!("  the loop without a lookup:          {before:.2} ns");
    println!("  no --world-db (all on --mysql-url): {one_server:.2} ns");
    println!("  s1, s2 on other servers:            {two_elsewhere:.2} ns");
}
