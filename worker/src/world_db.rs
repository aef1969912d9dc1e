//! MySQL by world: which server holds which world's rows.
//!
//! The default server (`--mysql-url`) holds the accounts (global: one place decides that an
//! account name or device id is taken) and every world not named in `--world-db`. A world
//! named there lives on its own server; worlds sharing a URL share one pool. A request is
//! routed by the world it is served in, after merges, so a merged world follows its target
//! and an entry for a merged-away world is never consulted.
//!
//! No threads of its own: pools open connections on demand (see [`Db`]), so a server that
//! is down at start, or later, costs only the calls of its worlds.

use std::collections::HashMap;

use crate::db::{Db, DbError};

/// Longest world id: the `world` columns are `VARCHAR(32)`.
const MAX_WORLD_ID: usize = 32;

/// `--world-db` checked: `(world, url)` pairs in the order given.
pub type WorldUrls = Vec<(String, String)>;

/// Parses `s1=mysql://...,s2=mysql://...` (empty: every world on the default server).
/// Errors never quote a URL: it carries a password.
pub fn parse_world_urls(text: &str) -> Result<WorldUrls, String> {
    let mut entries: WorldUrls = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((world, url)) = entry.split_once('=') else {
            return Err("expected world=mysql://... entries separated by commas".into());
        };
        let (world, url) = (world.trim(), url.trim());
        let id_ok = !world.is_empty()
            && world.len() <= MAX_WORLD_ID
            && world
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(format!(
                "world id {world:?}: expected 1 to {MAX_WORLD_ID} letters, digits, '_' or '-'"
            ));
        }
        if !url.starts_with("mysql://") || mysql::Opts::from_url(url).is_err() {
            return Err(format!("world {world}: expected a mysql:// URL"));
        }
        if entries.iter().any(|(w, _)| w == world) {
            return Err(format!("world {world} is named twice"));
        }
        entries.push((world.to_string(), url.to_string()));
    }
    Ok(entries)
}

/// The pools of the servers other than the default one, and which worlds they hold.
#[derive(Clone, Default)]
pub struct WorldDbs {
    /// World -> index into `servers`; only worlds not on the default server.
    by_world: HashMap<String, usize>,
    /// One pool per distinct URL, with the worlds it holds.
    servers: Vec<(Db, Vec<String>)>,
}

impl WorldDbs {
    /// Every world on the default server.
    pub fn none() -> WorldDbs {
        WorldDbs::default()
    }

    /// Opens one pool per distinct URL of `urls` other than `default_url` (no connection is
    /// made yet).
    pub fn open(
        default_url: &str,
        urls: &[(String, String)],
        max_connections: usize,
    ) -> Result<WorldDbs, DbError> {
        let mut pools: Vec<(String, Db)> = Vec::new();
        let mut placed = Vec::new();
        for (world, url) in urls.iter().filter(|(_, url)| url != default_url) {
            let db = match pools.iter().find(|(u, _)| u == url) {
                Some((_, db)) => db.clone(),
                None => {
                    let db = Db::open(url, max_connections)?;
                    pools.push((url.clone(), db.clone()));
                    db
                }
            };
            placed.push((world.clone(), db));
        }
        Ok(WorldDbs::of(placed))
    }

    /// Worlds placed on given pools (pools that are clones of one another are one server).
    pub fn of(placed: Vec<(String, Db)>) -> WorldDbs {
        let mut dbs = WorldDbs::none();
        for (world, db) in placed {
            let index = match dbs.servers.iter().position(|(d, _)| d.same_pool(&db)) {
                Some(i) => i,
                None => {
                    dbs.servers.push((db, Vec::new()));
                    dbs.servers.len() - 1
                }
            };
            dbs.servers[index].1.push(world.clone());
            dbs.by_world.insert(world, index);
        }
        dbs
    }

    /// The pool of `world` (served after merges) when it is not on the default server. With
    /// no `--world-db` the map is empty and this returns before hashing.
    pub fn get(&self, world: &str) -> Option<&Db> {
        if self.by_world.is_empty() {
            return None;
        }
        self.by_world.get(world).map(|&i| &self.servers[i].0)
    }

    /// The servers other than the default one, each once, with the worlds they hold.
    pub fn servers(&self) -> impl Iterator<Item = (&Db, &[String])> {
        self.servers
            .iter()
            .map(|(db, worlds)| (db, worlds.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "mysql://u:secret@db-a:3306/lukseun";
    const B: &str = "mysql://u:secret@db-b:3306/lukseun";

    #[test]
    fn entries_parse_in_order_and_empty_means_none() {
        assert_eq!(parse_world_urls("").unwrap(), vec![]);
        assert_eq!(parse_world_urls(" , ").unwrap(), vec![]);
        let parsed = parse_world_urls(&format!("s1={A}, s2 = {B},s3={A}")).unwrap();
        let pair = |w: &str, u: &str| (w.to_string(), u.to_string());
        assert_eq!(parsed, vec![pair("s1", A), pair("s2", B), pair("s3", A)]);
    }

    #[test]
    fn bad_entries_are_refused_without_quoting_the_url() {
        let long = "w".repeat(33);
        for (text, says) in [
            (format!("s1{A}"), "world=mysql://"),
            (format!("={A}"), "world id"),
            (format!("{long}={A}"), "world id"),
            (format!("s 1={A}"), "world id"),
            (format!("s1;drop={A}"), "world id"),
            ("s1=redis://u:secret@db-a:6379".to_string(), "mysql:// URL"),
            ("s1=".to_string(), "mysql:// URL"),
            (format!("s1={A},s1={B}"), "named twice"),
        ] {
            let e = parse_world_urls(&text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains("secret"), "{text}: the password leaked: {e}");
        }
    }

    #[test]
    fn one_pool_per_distinct_server_and_the_default_gets_none() {
        let default = "mysql://u:secret@db-0:3306/lukseun";
        let urls = parse_world_urls(&format!("s1={A},s2={B},s3={A},s4={default}")).unwrap();
        let dbs = WorldDbs::open(default, &urls, 2).unwrap();
        let servers: Vec<&[String]> = dbs.servers().map(|(_, w)| w).collect();
        assert_eq!(servers, [&["s1", "s3"][..], &["s2"][..]]);
        assert!(dbs.get("s1").unwrap().same_pool(dbs.get("s3").unwrap()));
        assert!(!dbs.get("s1").unwrap().same_pool(dbs.get("s2").unwrap()));
        assert!(dbs.get("s4").is_none(), "on the default server");
        assert!(dbs.get("s0").is_none(), "not named: the default server");
        assert!(WorldDbs::none().get("s1").is_none());
    }
}
