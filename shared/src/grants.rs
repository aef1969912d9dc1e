//! Least trust on the wire, spelled once: what each service may do on NATS and on Redis,
//! and the server configurations made from it (a nats-server `authorization` block, Redis
//! ACL rules). `./lukseun up` (through `lukseun-cli server-config`), testkit and the
//! manifests' deps overlay all render these; the packaging tests check the manifests
//! against them, and each crate's key tests check its keys against its patterns.
//!
//! - NATS: one user per service; publish and subscribe allow-lists, everything else
//!   denied. Only the worker may subscribe to `jobs`, and only in the queue group
//!   `workers`; the edge only touches chat subjects; nobody uses request/reply, so no
//!   `_INBOX` is granted.
//! - Redis: one ACL user per service: only its commands, key patterns (`~` read and
//!   write, `%R~` read only) and pub/sub channels (the worker's one: Redis's own
//!   invalidation channel, for its token cache). The `default` user is switched off or
//!   given the operator's password by whoever starts Redis.
//!
//! mail and config use neither Redis nor NATS, so they have no user.

use std::fmt::Write as _;

/// What one service may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grants {
    /// The service, and its user name on NATS and Redis.
    pub service: &'static str,
    /// NATS subjects it may publish to (wildcards as NATS reads them).
    pub nats_publish: &'static [&'static str],
    /// NATS subscriptions it may make: `subject` or `subject queue-group`.
    pub nats_subscribe: &'static [&'static str],
    /// Redis commands it may run (lower case), scripts' inner commands included.
    pub redis_commands: &'static [&'static str],
    /// Redis key patterns it may read and write.
    pub redis_keys: &'static [&'static str],
    /// Redis key patterns it may only read.
    pub redis_read_keys: &'static [&'static str],
    /// Redis pub/sub channels it may subscribe to.
    pub redis_channels: &'static [&'static str],
}

/// Commands every Redis user needs: readiness probes, MULTI/EXEC pipelines, and on a Redis
/// Cluster the slot map (`CLUSTER SLOTS`, read at connect and after a failover) and
/// `ASKING` (a slot being moved between nodes).
const REDIS_BASE: [&str; 6] = [
    "ping",
    "multi",
    "exec",
    "discard",
    "cluster|slots",
    "asking",
];

pub const GATE: Grants = Grants {
    service: "gate",
    nats_publish: &["jobs"],
    nats_subscribe: &[],
    // registration.rs: SET NX EX, EXPIRE + GET, and WATCH/GET/DEL to give its gid back.
    redis_commands: &["get", "set", "expire", "del", "watch", "ttl"],
    redis_keys: &["gates.id.*"],
    redis_read_keys: &[],
    redis_channels: &[],
};

pub const WORKER: Grants = Grants {
    service: "worker",
    nats_publish: &["chat.events"],
    nats_subscribe: &["jobs workers"],
    // The token cache's feed (shared::redis_tracking): its connection's id, tracking on,
    // and the subscription Redis sends the invalidations to.
    redis_commands: &[
        "get",
        "set",
        "getdel",
        "del",
        "incr",
        "decr",
        "expire",
        "expireat",
        "hset",
        "client|id",
        "client|tracking",
        "subscribe",
    ],
    // worker/src/keys.rs, modules/account/{limits,contact}.rs, the chat login key of
    // shared::contract the worker writes for the edge, and the players' token ids (the
    // worker issues account and session tokens with auth's library).
    redis_keys: &[
        "auth.tokens.account.*",
        "auth.tokens.session.*",
        "mail.daily:*",
        "mail.pending:*",
        "chat.tokens:*",
        "chat.logintokens.*",
        "verify.*",
        "login.fail.*",
        "guest.new.*",
        "rid.*",
    ],
    // The job's gate and the gate's address (gate_link.rs); the operators' token ids,
    // which only auth issues (the worker checks admin tokens against them).
    redis_read_keys: &["gate.job.*", "gates.id.*", "auth.tokens.admin.*"],
    redis_channels: &[crate::redis_tracking::INVALIDATE_CHANNEL],
};

pub const EDGE: Grants = Grants {
    service: "edge",
    nats_publish: &["chat.*.public", "chat.*.family.*"],
    nats_subscribe: &["chat.*.public", "chat.*.family.*", "chat.events"],
    // login.rs: HGETALL + DEL of the login nonce; allowance.rs: a script of TIME, HMGET,
    // HSET and PEXPIRE on the player's bucket.
    redis_commands: &["hgetall", "del", "eval", "time", "hmget", "hset", "pexpire"],
    redis_keys: &["chat.logintokens.*", "chat.rate.*"],
    redis_read_keys: &[],
    redis_channels: &[],
};

pub const AUTH: Grants = Grants {
    service: "auth",
    nats_publish: &[],
    nats_subscribe: &[],
    // tokens.rs: SET EX / GET of the current token id; nonces.rs: SET NX EX and GETDEL.
    redis_commands: &["get", "set", "getdel"],
    redis_keys: &["auth.*"],
    redis_read_keys: &[],
    redis_channels: &[],
};

/// Every service with a NATS or Redis user.
pub const ALL: [&Grants; 4] = [&GATE, &WORKER, &EDGE, &AUTH];

/// The environment variable holding `service`'s password on `server` (`nats` or
/// `redis`): `NATS_PASSWORD_GATE`. The deps overlay's servers and `lukseun-server-config`
/// read these; the services get whole URLs.
pub fn password_env(server: &str, service: &str) -> String {
    format!(
        "{}_PASSWORD_{}",
        server.to_ascii_uppercase(),
        service.to_ascii_uppercase()
    )
}

/// The operators' `default` Redis user's password variable.
pub const REDIS_DEFAULT_PASSWORD_ENV: &str = "REDIS_PASSWORD_DEFAULT";

/// The grants of `service`, if it has any.
pub fn of(service: &str) -> Option<&'static Grants> {
    ALL.into_iter().find(|g| g.service == service)
}

impl Grants {
    pub fn uses_nats(&self) -> bool {
        !self.nats_publish.is_empty() || !self.nats_subscribe.is_empty()
    }

    /// Whether `key` falls under one of the patterns (read-write ones only when `write`).
    pub fn allows_key(&self, key: &str, write: bool) -> bool {
        let read = if write { &[][..] } else { self.redis_read_keys };
        self.redis_keys
            .iter()
            .chain(read)
            .any(|pattern| glob_match(pattern, key))
    }

    /// The ACL rule words after the user name, password included: `reset on >pw
    /// ~pattern... %R~pattern... resetchannels &channel... -@all +cmd...`.
    pub fn redis_acl_words(&self, password: &str) -> Vec<String> {
        let mut words = vec![
            "reset".to_string(),
            "on".to_string(),
            format!(">{password}"),
        ];
        words.extend(self.redis_keys.iter().map(|p| format!("~{p}")));
        words.extend(self.redis_read_keys.iter().map(|p| format!("%R~{p}")));
        words.push("resetchannels".into());
        words.extend(self.redis_channels.iter().map(|c| format!("&{c}")));
        words.push("-@all".into());
        let mut commands: Vec<&str> = REDIS_BASE.to_vec();
        commands.extend(self.redis_commands);
        commands.sort_unstable();
        commands.dedup();
        words.extend(commands.iter().map(|c| format!("+{c}")));
        words
    }

    /// This user's entry in a nats-server `authorization { users = [...] }` list;
    /// `password` is written as given (a quoted string, or `$VAR` for the environment).
    pub fn nats_user_entry(&self, password: &str) -> String {
        let list = |items: &[&str]| {
            let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            quoted.join(", ")
        };
        // An empty allow-list would allow everything: say "deny all" instead.
        let rule = |items: &[&str]| {
            if items.is_empty() {
                "{deny: [\">\"]}".to_string()
            } else {
                format!("{{allow: [{}]}}", list(items))
            }
        };
        format!(
            "{{user: {:?}, password: {password}, permissions: {{publish: {}, subscribe: {}}}}}",
            self.service,
            rule(self.nats_publish),
            rule(self.nats_subscribe),
        )
    }
}

/// A nats-server configuration: every service that speaks NATS gets its user;
/// `password_of(service)` says how its password is written (see
/// [`Grants::nats_user_entry`]). Listen address and port stay on the command line.
pub fn nats_server_config(password_of: impl Fn(&str) -> String) -> String {
    let mut out = String::from(
        "# Written from shared/src/grants.rs: one user per service, allow-lists only.\n\
         authorization {\n  users = [\n",
    );
    for grants in ALL.iter().filter(|g| g.uses_nats()) {
        let _ = writeln!(
            out,
            "    {}",
            grants.nats_user_entry(&password_of(grants.service))
        );
    }
    out.push_str("  ]\n}\n");
    out
}

/// A quoted nats-server config string (passwords from a generator: no quotes inside).
pub fn nats_quoted(text: &str) -> String {
    format!("{text:?}")
}

/// Redis `user` directives for a redis.conf: `default` off (or with `default_password`,
/// all rights, for operators), then one user per service.
pub fn redis_config(
    password_of: impl Fn(&str) -> String,
    default_password: Option<&str>,
) -> String {
    let mut out = String::from("# Written from shared/src/grants.rs: one ACL user per service.\n");
    match default_password {
        Some(pw) => {
            let _ = writeln!(out, "user default on >{pw} ~* &* +@all");
        }
        None => out.push_str("user default off\n"),
    }
    for grants in ALL {
        let _ = writeln!(
            out,
            "user {} {}",
            grants.service,
            grants
                .redis_acl_words(&password_of(grants.service))
                .join(" ")
        );
    }
    out
}

/// Redis glob matching for the patterns used here: `*` matches any run of characters,
/// everything else itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob_match(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    #[test]
    fn the_contract_keys_fall_under_their_users_patterns() {
        let jid = contract::JobId::random();
        assert!(GATE.allows_key(&contract::gate_key(7), true));
        assert!(WORKER.allows_key(&contract::gate_key(7), false));
        assert!(!WORKER.allows_key(&contract::gate_key(7), true));
        assert!(WORKER.allows_key(&contract::job_key(jid), false));
        assert!(WORKER.allows_key(&contract::chat_login_key("n"), true));
        assert!(EDGE.allows_key(&contract::chat_login_key("n"), true));
        assert!(!EDGE.allows_key("auth.tokens.account.u1", false));
        assert!(!GATE.allows_key(&contract::job_key(jid), false));
    }

    #[test]
    fn only_the_worker_reads_jobs_and_only_in_its_queue_group() {
        let jobs = format!("{} {}", contract::JOBS_SUBJECT, contract::WORKERS_QUEUE);
        for g in ALL {
            let reads_jobs = g
                .nats_subscribe
                .iter()
                .any(|s| s.split(' ').next() == Some(contract::JOBS_SUBJECT));
            assert_eq!(reads_jobs, g.service == "worker", "{}", g.service);
        }
        assert_eq!(WORKER.nats_subscribe, [jobs.as_str()]);
        assert_eq!(GATE.nats_publish, [contract::JOBS_SUBJECT]);
        assert_eq!(WORKER.nats_publish, [contract::CHAT_EVENTS_SUBJECT]);
        for s in EDGE.nats_publish.iter().chain(EDGE.nats_subscribe) {
            assert!(s.starts_with("chat."), "{s}");
        }
        assert!(EDGE.nats_subscribe.contains(&contract::CHAT_EVENTS_SUBJECT));
        // The chat subjects of the contract fit the edge's wildcards.
        for subject in [
            contract::chat_public_subject("s0"),
            contract::chat_family_subject("s0", "f1"),
        ] {
            assert!(EDGE
                .nats_publish
                .iter()
                .any(|p| nats_wildcard_match(p, &subject)));
        }
    }

    fn nats_wildcard_match(pattern: &str, subject: &str) -> bool {
        let (p, s): (Vec<&str>, Vec<&str>) =
            (pattern.split('.').collect(), subject.split('.').collect());
        p.len() == s.len() && p.iter().zip(&s).all(|(p, s)| *p == "*" || p == s)
    }

    #[test]
    fn nats_user_entries_byte_for_byte() {
        assert_eq!(
            GATE.nats_user_entry("$NATS_PASSWORD_GATE"),
            "{user: \"gate\", password: $NATS_PASSWORD_GATE, permissions: \
             {publish: {allow: [\"jobs\"]}, subscribe: {deny: [\">\"]}}}"
        );
        assert_eq!(
            WORKER.nats_user_entry("\"pw\""),
            "{user: \"worker\", password: \"pw\", permissions: \
             {publish: {allow: [\"chat.events\"]}, subscribe: {allow: [\"jobs workers\"]}}}"
        );
        let config = nats_server_config(|s| format!("${}", s.to_uppercase()));
        assert!(config.contains("password: $EDGE"));
        assert!(
            !config.contains("\"auth\""),
            "auth speaks no NATS:\n{config}"
        );
    }

    #[test]
    fn redis_rules_byte_for_byte() {
        assert_eq!(
            GATE.redis_acl_words("pw").join(" "),
            "reset on >pw ~gates.id.* resetchannels -@all +asking +cluster|slots +del +discard \
             +exec +expire +get +multi +ping +set +ttl +watch"
        );
        let config = redis_config(|s| format!("{s}-pw"), None);
        assert!(config.contains("\nuser default off\n"));
        assert!(config.contains("\nuser auth reset on >auth-pw ~auth.* resetchannels -@all "));
        assert!(config.contains(" %R~gates.id.* "), "{config}");
        assert!(
            config.contains(" resetchannels &__redis__:invalidate -@all "),
            "the worker's one channel: {config}"
        );
        assert_eq!(
            config.matches('&').count(),
            1,
            "no other user gets a channel"
        );
        assert!(redis_config(|_| String::new(), Some("ops"))
            .contains("user default on >ops ~* &* +@all\n"));
    }

    #[test]
    fn globs_match_like_redis_for_our_patterns() {
        assert!(glob_match("gates.id.*", "gates.id.7"));
        assert!(glob_match("gates.id.*", "gates.id."));
        assert!(!glob_match("gates.id.*", "gates.idx"));
        assert!(glob_match("a*b*c", "a--b--c"));
        assert!(!glob_match("a*b*c", "a--c"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
