//! lukseun-migrate's options (flags or `LUKSEUN_*` environment variables) to [`Options`].

use std::path::PathBuf;

use shared::flags::{Flags, Opt, Spec};

use crate::{
    merges_from_world_config, Options, DEFAULT_ACCOUNT_DB, DEFAULT_EXCHANGE_DB, DEFAULT_MALL_DB,
    DEFAULT_PLAYERS_PER_READ,
};

pub const SPEC: Spec = Spec {
    service: "lukseun-migrate",
    about: "imports the original game's databases and mailboxes (docs/migrate.md)",
    options: &[
        Opt::required(
            "source-url",
            "MySQL URL of the original's server (read only; databases are named by --worlds and --account-db)",
        ),
        Opt::required("target-url", "MySQL URL of our database"),
        Opt::required(
            "worlds",
            "the original's world ids to import, comma-separated (e.g. s0,s1)",
        ),
        Opt::value(
            "source-world-config",
            "",
            "the original's world.json: worlds merged into another (`merge`) are read from that one's database",
        ),
        Opt::value("account-db", DEFAULT_ACCOUNT_DB, "the original's account database"),
        Opt::value(
            "mall-db",
            DEFAULT_MALL_DB,
            "the original's purchase database (empty: leave purchases out)",
        ),
        Opt::value(
            "exchange-db",
            DEFAULT_EXCHANGE_DB,
            "the original's exchange code database (empty: leave codes out)",
        ),
        Opt::value(
            "source-maildir",
            "",
            "the original mail server's Maildir root (empty: no mail)",
        ),
        Opt::value(
            "target-maildir",
            "",
            "our mail service's store (its --root); required with --source-maildir",
        ),
        Opt::value(
            "auth-url",
            "",
            "our auth service (http://host:port): pending gifts, friend and family requests get their acceptance there (empty: carried as mail only)",
        ),
        Opt::value(
            "redis-url",
            "",
            "our Redis, as the worker's user: pending friend and family requests take their sender's pending marker there (empty: the sender may ask again)",
        ),
        Opt::switch(
            "dry-run",
            "map, check and report everything, write nothing (our schema is created if missing)",
        ),
        Opt::switch("quiet", "no progress lines on stderr"),
    ],
};

/// The options of a parsed command line.
pub fn options(config: &Flags) -> Result<Options, String> {
    let worlds: Vec<String> = config
        .get("worlds")
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if worlds.is_empty() {
        return Err("--worlds names no world".into());
    }
    let path = |name: &str| {
        Some(config.get(name))
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    };
    let (source_maildir, target_maildir) = (path("source-maildir"), path("target-maildir"));
    if source_maildir.is_some() != target_maildir.is_some() {
        return Err("--source-maildir and --target-maildir go together".into());
    }
    let merges = match path("source-world-config") {
        Some(file) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            merges_from_world_config(&value)
        }
        None => Default::default(),
    };
    Ok(Options {
        source_url: config.get("source-url").to_string(),
        target_url: config.get("target-url").to_string(),
        source_maildir,
        target_maildir,
        auth_url: Some(config.get("auth-url"))
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        redis_url: Some(config.get("redis-url"))
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        dry_run: config.switch("dry-run"),
        worlds,
        merges,
        account_db: config.get("account-db").to_string(),
        mall_db: Some(config.get("mall-db"))
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        exchange_db: Some(config.get("exchange-db"))
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        players_per_read: DEFAULT_PLAYERS_PER_READ,
        progress: !config.switch("quiet"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let config = Flags::parse(&SPEC, &args, |_| None).map_err(|e| e.to_string())?;
        options(&config)
    }

    #[test]
    fn flags_make_options() {
        let o = parse(&[
            "--source-url",
            "mysql://ro@old/",
            "--target-url",
            "mysql://root@new/lukseun",
            "--worlds",
            "s0, s1",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(o.worlds, ["s0", "s1"]);
        assert!(o.dry_run && o.progress);
        assert_eq!(o.account_db, "user");
        assert!(o.source_maildir.is_none() && o.merges.is_empty());
        assert!(o.auth_url.is_none() && o.redis_url.is_none());
        // The required three, then what a case adds.
        let with = |more: &[&str]| {
            let mut args = vec!["--source-url", "a", "--target-url", "b", "--worlds", "s0"];
            args.extend_from_slice(more);
            parse(&args)
        };
        let o = with(&[
            "--auth-url",
            "http://auth:8001",
            "--redis-url",
            "redis://worker:pw@redis:6379/",
        ])
        .unwrap();
        assert_eq!(o.auth_url.as_deref(), Some("http://auth:8001"));
        assert_eq!(
            o.redis_url.as_deref(),
            Some("redis://worker:pw@redis:6379/")
        );
        assert!(parse(&["--source-url", "a", "--target-url", "b", "--worlds", ","]).is_err());
        assert!(with(&["--source-maildir", "/x"]).is_err());
        assert!(parse(&["--target-url", "b", "--worlds", "s0"]).is_err());
    }
}
