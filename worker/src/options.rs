//! The worker's options and their checked values.

use std::time::Duration;

use shared::contract::LinkSecret;
use shared::flags::{FlagError, Flags, Opt, Spec};

use crate::modules::account::limits::AccountLimits;
use crate::modules::account::password::DEFAULT_ITERATIONS;
use crate::modules::mall::verifier::{self, InFlight, VerifierSettings};
use crate::notify::{self, NotifySettings};
use crate::request_id::RidSettings;
use crate::world_db::{parse_world_urls, WorldUrls};

pub const SPEC: Spec = Spec {
    service: "worker",
    about: "runs game functions: jobs from NATS `jobs`, answers to the gate",
    options: &[
        Opt::value(
            "nats-url",
            "nats://127.0.0.1:4222",
            "NATS server(s), comma-separated",
        ),
        Opt::value("redis-url", "redis://127.0.0.1:6379", "Redis server"),
        Opt::value(
            "mysql-url",
            "mysql://root@127.0.0.1:3306/lukseun",
            "MySQL / MariaDB database",
        ),
        Opt::value(
            "world-db",
            "",
            "worlds on other MySQL servers: world=mysql://...,world=mysql://... (a merged world follows its target; the rest, and the accounts, stay on --mysql-url)",
        ),
        Opt::required("jwt-secret", "token signing key, at least 32 bytes"),
        Opt::value(
            "link-secret",
            "",
            "shared secret proved to the gates' worker port (HMAC challenge), the gates' --link-secret; at least 16 bytes; empty: gates must not challenge",
        ),
        Opt::value("threads", "32", "worker threads (jobs run concurrently)"),
        Opt::value(
            "token-cache",
            "true",
            "answer token revocation checks from a copy Redis keeps current (CLIENT TRACKING: a revoked token is refused within 0.5 s, usually 1 ms; off on a Redis Cluster); false: one Redis GET a check",
        ),
        Opt::value(
            "config-url",
            "",
            "config service base URL; empty = embedded game config",
        ),
        Opt::value(
            "config-refresh-secs",
            "30",
            "seconds between game config fetches",
        ),
        Opt::value(
            "admin-port",
            "9105",
            "port of /healthz, /readyz and /metrics",
        ),
        Opt::value(
            "admin-bind",
            "0.0.0.0",
            "address the admin port listens on",
        ),
        Opt::value("mail-url", "http://127.0.0.1:8020", "mail service base URL"),
        Opt::value("auth-url", "http://127.0.0.1:8001", "auth service base URL"),
        Opt::value(
            "pbkdf2-iterations",
            "100000",
            "PBKDF2 rounds for new password hashes",
        ),
        Opt::value(
            "game-day-utc-offset-hours",
            "8",
            "hours the game day is ahead of UTC: daily resets at its midnight (the original's UTC+8)",
        ),
        Opt::value(
            "smtp-addr",
            "",
            "SMTP server host:port for email verification codes; empty = not configured",
        ),
        Opt::value(
            "smtp-from",
            notify::DEFAULT_FROM,
            "sender address of verification code mails",
        ),
        Opt::value(
            "phone-hook-url",
            "",
            "http:// URL phone verification codes are POSTed to; empty = not configured",
        ),
        Opt::value(
            "login-failures-per-account",
            "10",
            "failed login attempts for one account name, email or phone within the login window; beyond it login answers 2 without checking",
        ),
        Opt::value(
            "login-failures-per-address",
            "100",
            "failed login attempts from one client address within the login window",
        ),
        Opt::value(
            "login-window-secs",
            "900",
            "window of the failed-login budgets, from the first failure",
        ),
        Opt::value(
            "guests-per-address-per-day",
            "50",
            "guest accounts login_unique creates for one client address per day; beyond it 3",
        ),
        Opt::value(
            "job-queue-mb",
            "64",
            "bytes of jobs received and not yet started; beyond it (or 65536 jobs) new jobs are dropped and time out at the gate",
        ),
        Opt::value(
            "purchase-verifier-url",
            "",
            "http:// URL in-app purchase receipts are POSTed to for verification; empty = not configured (purchase_success is then admin-only)",
        ),
        Opt::value(
            "purchase-verifications",
            "8",
            "verifications waiting on the verifier at once, at most (more answer 94 at once); keep it well below --threads",
        ),
        Opt::value(
            "rid-ttl-secs",
            "30",
            "seconds a request id's record lives (its running marker, then its answer); keep it above twice the gate's job timeout",
        ),
        Opt::value(
            "rid-answer-max-bytes",
            "16384",
            "largest answer recorded for a request id; a retry of a larger one answers 21 and does not run again",
        ),
        Opt::value(
            "chat-tokens-per-minute",
            "10",
            "get_login_token_chat calls one player may make per minute (0: unlimited)",
        ),
    ],
};

/// Everything `Worker::start` needs; tests build it directly.
#[derive(Debug, Clone)]
pub struct Options {
    pub nats_url: String,
    pub redis_url: String,
    pub mysql_url: String,
    /// Worlds on servers other than `mysql_url` (`--world-db`); empty: all on it.
    pub world_dbs: WorldUrls,
    pub jwt_secret: String,
    pub threads: usize,
    pub config_url: String,
    pub config_refresh: Duration,
    /// `host:port` of the admin server; port 0 picks a free one.
    pub admin_addr: String,
    pub mail_url: String,
    pub auth_url: String,
    pub pbkdf2_iterations: u32,
    /// Hours the game day is ahead of UTC (-12..=14).
    pub game_day_offset_hours: i64,
    /// SMTP server (`host:port`) for email codes; empty = not configured.
    pub smtp_addr: String,
    /// `From` of code mails.
    pub smtp_from: String,
    /// Where phone codes are POSTed; empty = not configured.
    pub phone_hook_url: String,
    /// Connect and per-step timeout of code deliveries.
    pub notify_timeout: Duration,
    /// Where purchase receipts are POSTed; empty = not configured.
    pub purchase_verifier_url: String,
    /// Connect timeout of a verification (the whole exchange gets twice that).
    pub purchase_verifier_timeout: Duration,
    /// Verifications running at once, at most.
    pub purchase_verifications: usize,
    /// How long start waits for MySQL and NATS to come up.
    pub startup_wait: Duration,
    /// `get_login_token_chat` calls per player and minute; 0: unlimited.
    pub chat_tokens_per_minute: u32,
    /// Failed-login and new-guest budgets.
    pub account_limits: AccountLimits,
    /// Bytes of job payloads the NATS subscription queues before it drops new ones.
    pub job_queue_bytes: usize,
    /// Proved to each gate at connect; `None`: answers are sent without a proof.
    pub link_secret: Option<LinkSecret>,
    /// How request ids are recorded.
    pub request_ids: RidSettings,
    /// Whether token checks use the tracked copy of the current token ids.
    pub token_cache: bool,
}

impl Options {
    /// Defaults for everything but the servers and the key.
    pub fn new(nats_url: &str, redis_url: &str, mysql_url: &str, jwt_secret: &str) -> Options {
        Options {
            nats_url: nats_url.to_string(),
            redis_url: redis_url.to_string(),
            mysql_url: mysql_url.to_string(),
            world_dbs: WorldUrls::new(),
            jwt_secret: jwt_secret.to_string(),
            threads: 32,
            config_url: String::new(),
            config_refresh: Duration::from_secs(30),
            admin_addr: "0.0.0.0:9105".to_string(),
            mail_url: "http://127.0.0.1:8020".to_string(),
            auth_url: "http://127.0.0.1:8001".to_string(),
            pbkdf2_iterations: DEFAULT_ITERATIONS,
            game_day_offset_hours: crate::modules::daily::DEFAULT_OFFSET_HOURS,
            smtp_addr: String::new(),
            smtp_from: notify::DEFAULT_FROM.to_string(),
            phone_hook_url: String::new(),
            notify_timeout: notify::DEFAULT_TIMEOUT,
            purchase_verifier_url: String::new(),
            purchase_verifier_timeout: verifier::DEFAULT_TIMEOUT,
            purchase_verifications: verifier::DEFAULT_IN_FLIGHT,
            startup_wait: Duration::from_secs(60),
            chat_tokens_per_minute: crate::modules::chat::DEFAULT_TOKENS_PER_MINUTE,
            account_limits: AccountLimits::default(),
            job_queue_bytes: 64 * 1024 * 1024,
            link_secret: None,
            request_ids: RidSettings::default(),
            token_cache: true,
        }
    }

    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        let threads: usize = flags.parsed("threads")?;
        if threads == 0 {
            return Err(invalid("threads", "0", "at least one thread is needed"));
        }
        let refresh: u64 = flags.parsed("config-refresh-secs")?;
        if refresh == 0 {
            return Err(invalid("config-refresh-secs", "0", "must be at least 1"));
        }
        let iterations: u32 = flags.parsed("pbkdf2-iterations")?;
        if iterations < 1000 {
            return Err(invalid(
                "pbkdf2-iterations",
                flags.get("pbkdf2-iterations"),
                "fewer than 1000 rounds protect nothing",
            ));
        }
        let admin_port: u16 = flags.parsed("admin-port")?;
        let admin_bind: std::net::IpAddr = flags.parsed("admin-bind")?;
        let smtp_addr = flags.get("smtp-addr");
        if !smtp_addr.is_empty() && !is_host_port(smtp_addr) {
            return Err(invalid("smtp-addr", smtp_addr, "expected host:port"));
        }
        let smtp_from = flags.get("smtp-from");
        if let Err(e) = shared::smtp::Address::parse(smtp_from) {
            return Err(invalid("smtp-from", smtp_from, &e.to_string()));
        }
        let offset: i64 = flags.parsed("game-day-utc-offset-hours")?;
        if !(-12..=14).contains(&offset) {
            return Err(invalid(
                "game-day-utc-offset-hours",
                flags.get("game-day-utc-offset-hours"),
                "expected -12 to 14",
            ));
        }
        let phone_hook_url = flags.get("phone-hook-url");
        if !phone_hook_url.is_empty() && !phone_hook_url.starts_with("http://") {
            return Err(invalid(
                "phone-hook-url",
                phone_hook_url,
                "expected an http:// URL (plain HTTP inside the cluster)",
            ));
        }
        let purchase_verifier_url = flags.get("purchase-verifier-url");
        if !purchase_verifier_url.is_empty() && !purchase_verifier_url.starts_with("http://") {
            return Err(invalid(
                "purchase-verifier-url",
                purchase_verifier_url,
                "expected an http:// URL (plain HTTP inside the cluster)",
            ));
        }
        let window: u64 = flags.parsed("login-window-secs")?;
        if window == 0 {
            return Err(invalid("login-window-secs", "0", "must be at least 1"));
        }
        let job_queue_mb: usize = flags.parsed("job-queue-mb")?;
        let job_queue_bytes = job_queue_mb
            .checked_mul(1024 * 1024)
            .filter(|b| *b > 0)
            .ok_or_else(|| {
                invalid(
                    "job-queue-mb",
                    flags.get("job-queue-mb"),
                    "expected 1 or more (MiB)",
                )
            })?;
        let rid_ttl: u64 = flags.parsed("rid-ttl-secs")?;
        if rid_ttl <= shared::contract::JOB_KEY_TTL_SECS {
            return Err(invalid(
                "rid-ttl-secs",
                flags.get("rid-ttl-secs"),
                "must be longer than the gate's 10 s job timeout: a retry after -2 must find the record",
            ));
        }
        // The value never goes into the error: its URLs carry passwords.
        let world_dbs = parse_world_urls(flags.get("world-db"))
            .map_err(|why| invalid("world-db", "<hidden>", &why))?;
        Ok(Options {
            world_dbs,
            request_ids: RidSettings {
                ttl: Duration::from_secs(rid_ttl),
                max_answer_bytes: flags.parsed("rid-answer-max-bytes")?,
            },
            account_limits: AccountLimits {
                login_failures_per_account: flags.parsed("login-failures-per-account")?,
                login_failures_per_address: flags.parsed("login-failures-per-address")?,
                login_window_secs: window,
                guests_per_address_per_day: flags.parsed("guests-per-address-per-day")?,
            },
            job_queue_bytes,
            // The value never goes into the error: it is a secret.
            link_secret: LinkSecret::from_config(flags.get("link-secret"))
                .map_err(|e| invalid("link-secret", "<hidden>", &e.to_string()))?,
            threads,
            token_cache: flags.parsed("token-cache")?,
            config_url: flags.get("config-url").to_string(),
            config_refresh: Duration::from_secs(refresh),
            admin_addr: std::net::SocketAddr::new(admin_bind, admin_port).to_string(),
            mail_url: flags.get("mail-url").to_string(),
            auth_url: flags.get("auth-url").to_string(),
            pbkdf2_iterations: iterations,
            game_day_offset_hours: offset,
            smtp_addr: smtp_addr.to_string(),
            smtp_from: smtp_from.to_string(),
            phone_hook_url: phone_hook_url.to_string(),
            purchase_verifier_url: purchase_verifier_url.to_string(),
            purchase_verifications: flags.parsed("purchase-verifications")?,
            chat_tokens_per_minute: flags.parsed("chat-tokens-per-minute")?,
            ..Options::new(
                flags.get("nats-url"),
                flags.get("redis-url"),
                flags.get("mysql-url"),
                flags.get("jwt-secret"),
            )
        })
    }
}

impl Options {
    /// Where verification codes go (for `bind_email` / `bind_phone`).
    pub fn notify(&self) -> NotifySettings {
        NotifySettings {
            smtp_addr: self.smtp_addr.clone(),
            smtp_from: self.smtp_from.clone(),
            phone_hook_url: self.phone_hook_url.clone(),
            timeout: self.notify_timeout,
        }
    }

    /// Where purchase receipts are verified (for `purchase_success`).
    pub fn purchase_verifier(&self) -> VerifierSettings {
        VerifierSettings {
            url: self.purchase_verifier_url.clone(),
            timeout: self.purchase_verifier_timeout,
            in_flight: InFlight::new(self.purchase_verifications),
        }
    }
}

/// `host:port` with a non-zero port and a host without whitespace (`[::1]:25` included).
fn is_host_port(text: &str) -> bool {
    match text.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.chars().any(|c| c.is_whitespace() || c == '/')
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        }
        None => false,
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> FlagError {
    FlagError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env = |k: &str| (k == "LUKSEUN_JWT_SECRET").then(|| "k".repeat(32));
        Options::from_flags(&Flags::parse(&SPEC, &args, env)?)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(s.mysql_url, "mysql://root@127.0.0.1:3306/lukseun");
        assert_eq!(s.threads, 32);
        assert_eq!(s.admin_addr, "0.0.0.0:9105");
        let local = parse(&["--admin-bind", "127.0.0.1", "--admin-port", "9120"]).unwrap();
        assert_eq!(local.admin_addr, "127.0.0.1:9120");
        assert_eq!(s.config_refresh, Duration::from_secs(30));
        assert_eq!(s.config_url, "");
        assert_eq!(s.jwt_secret, "k".repeat(32));
        assert_eq!(s.notify(), NotifySettings::default());
        assert_eq!(s.game_day_offset_hours, 8, "the original's Asia/Shanghai");
        let s = parse(&["--game-day-utc-offset-hours", "-5"]).unwrap();
        assert_eq!(s.game_day_offset_hours, -5);
        assert_eq!(s.account_limits, AccountLimits::default());
        assert_eq!(s.job_queue_bytes, 64 << 20);
    }

    #[test]
    fn abuse_budgets_are_options() {
        let s = parse(&[
            "--login-failures-per-account=3",
            "--login-failures-per-address=4",
            "--login-window-secs=5",
            "--guests-per-address-per-day=6",
            "--job-queue-mb=7",
        ])
        .unwrap();
        assert_eq!(
            s.account_limits,
            AccountLimits {
                login_failures_per_account: 3,
                login_failures_per_address: 4,
                login_window_secs: 5,
                guests_per_address_per_day: 6,
            }
        );
        assert_eq!(s.job_queue_bytes, 7 << 20);
    }

    #[test]
    fn request_id_records_are_options_and_outlive_the_job_timeout() {
        assert_eq!(parse(&[]).unwrap().request_ids, RidSettings::default());
        let s = parse(&["--rid-ttl-secs=45", "--rid-answer-max-bytes=100"]).unwrap();
        assert_eq!(
            s.request_ids,
            RidSettings {
                ttl: Duration::from_secs(45),
                max_answer_bytes: 100,
            }
        );
        for short in ["0", "10"] {
            let e = parse(&["--rid-ttl-secs", short]).unwrap_err();
            assert!(e.to_string().contains("rid-ttl-secs"), "{e}");
        }
    }

    #[test]
    fn code_delivery_options_fill_notify_settings() {
        let s = parse(&[
            "--smtp-addr",
            "relay.mail:2525",
            "--smtp-from",
            "codes@game.example",
            "--phone-hook-url",
            "http://sms-adapter:8080/code",
        ])
        .unwrap();
        let n = s.notify();
        assert_eq!(n.smtp_addr, "relay.mail:2525");
        assert_eq!(n.smtp_from, "codes@game.example");
        assert_eq!(n.phone_hook_url, "http://sms-adapter:8080/code");
        assert_eq!(n.timeout, notify::DEFAULT_TIMEOUT);
    }

    #[test]
    fn the_purchase_verifier_is_off_by_default_and_an_http_url_when_set() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.purchase_verifier(), VerifierSettings::default());
        assert!(!s.purchase_verifier().configured());
        let s = parse(&["--purchase-verifier-url", "http://store-check:8080/verify"]).unwrap();
        let v = s.purchase_verifier();
        assert_eq!(v.url, "http://store-check:8080/verify");
        assert_eq!(v.timeout, verifier::DEFAULT_TIMEOUT);
        assert!(v.configured());
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, option) in [
            (&["--threads", "0"][..], "--threads"),
            (&["--threads", "many"][..], "--threads"),
            (&["--login-window-secs", "0"][..], "--login-window-secs"),
            (&["--job-queue-mb", "0"][..], "--job-queue-mb"),
            (
                &["--login-failures-per-account", "-1"][..],
                "--login-failures-per-account",
            ),
            (&["--config-refresh-secs", "0"][..], "--config-refresh-secs"),
            (&["--pbkdf2-iterations", "10"][..], "--pbkdf2-iterations"),
            (&["--admin-port", "70000"][..], "--admin-port"),
            (&["--admin-bind", "localhost"][..], "--admin-bind"),
            (
                &["--game-day-utc-offset-hours", "15"][..],
                "--game-day-utc-offset-hours",
            ),
            (
                &["--game-day-utc-offset-hours", "8.5"][..],
                "--game-day-utc-offset-hours",
            ),
            (&["--smtp-addr", "relay.mail"][..], "--smtp-addr"),
            (&["--smtp-addr", "relay.mail:0"][..], "--smtp-addr"),
            (&["--smtp-from", "a@b\r\nBcc: c@d"][..], "--smtp-from"),
            (&["--smtp-from", ""][..], "--smtp-from"),
            (
                &["--phone-hook-url", "https://sms.example/x"][..],
                "--phone-hook-url",
            ),
            (
                &["--purchase-verifier-url", "https://store.example/verify"][..],
                "--purchase-verifier-url",
            ),
            (
                &["--purchase-verifier-url", "store-check:8080"][..],
                "--purchase-verifier-url",
            ),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(option), "{args:?}: {e}");
        }
    }

    #[test]
    fn world_servers_are_an_option_whose_errors_hide_the_urls() {
        assert!(
            parse(&[]).unwrap().world_dbs.is_empty(),
            "all on --mysql-url"
        );
        let s = parse(&["--world-db", "s1=mysql://u:pw@db-b/lukseun"]).unwrap();
        assert_eq!(
            s.world_dbs,
            [("s1".to_string(), "mysql://u:pw@db-b/lukseun".to_string())]
        );
        let e = parse(&["--world-db", "s1=redis://u:pw@db-b"]).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("--world-db") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn the_secret_is_required() {
        let e = Flags::parse(&SPEC, &[], |_| None).unwrap_err();
        assert!(e.to_string().contains("LUKSEUN_JWT_SECRET"), "{e}");
    }
}
