//! The gate's options: declared once for `--help` and the environment, then checked into
//! a typed [`Options`].

use std::net::IpAddr;
use std::time::Duration;

use shared::contract::LinkSecret;
use shared::flags::{FlagError, Flags, Opt, Spec};

pub const SPEC: Spec = Spec {
    service: "gate",
    about: "client front door: forwards request lines to workers over NATS, answers in order",
    options: &[
        Opt::value("bind", "0.0.0.0", "address the client port listens on"),
        Opt::value(
            "worker-bind",
            "",
            "address the worker port listens on; empty = as --bind",
        ),
        Opt::value(
            "admin-bind",
            "",
            "address the admin port listens on; empty = as --bind",
        ),
        Opt::value("port", "8880", "client port (0 picks a free one)"),
        Opt::value(
            "worker-port",
            "8201",
            "port workers connect to with answers",
        ),
        Opt::value(
            "advertise-ip",
            "127.0.0.1",
            "IP workers reach this gate on, stored in gates.id.<gid>",
        )
        .with_alt_env("POD_IP"),
        Opt::value(
            "redis-url",
            "redis://127.0.0.1:6379/",
            "Redis for job and gate keys",
        ),
        Opt::value(
            "nats-url",
            "nats://127.0.0.1:4222",
            "NATS the jobs are published on",
        ),
        Opt::value(
            "link-secret",
            "",
            "shared secret workers prove (HMAC challenge) before the worker port takes their answers; at least 16 bytes, from the Secret; empty: no challenge",
        ),
        Opt::value(
            "job-timeout-ms",
            "10000",
            "a request without an answer after this long gets status -2",
        ),
        Opt::value(
            "idle-timeout-secs",
            "60",
            "close a client connection idle this long",
        ),
        Opt::value(
            "max-connections",
            "20000",
            "client connections beyond this are accepted and closed at once",
        ),
        Opt::value(
            "max-in-flight",
            "32",
            "unanswered requests per connection before the gate stops reading from it",
        ),
        Opt::value(
            "max-connections-per-ip",
            "256",
            "client connections from one address beyond this are accepted and closed at once",
        ),
        Opt::value(
            "ip-requests-per-sec",
            "500",
            "request lines taken per second from one client address (also its burst); beyond it the gate stops reading that address's connections",
        ),
        Opt::value(
            "write-stall-secs",
            "20",
            "close a client connection whose unwritten answers have not drained for this long",
        ),
        Opt::value(
            "answer-budget-mb",
            "256",
            "answer bytes the gate buffers for all clients; beyond it the connections holding most stop being read",
        ),
        Opt::switch(
            "one-shot",
            "close a client connection after its first answer (the original behaviour)",
        ),
        Opt::value(
            "admin-port",
            "9104",
            "HTTP port of /healthz, /readyz and /metrics",
        ),
    ],
};

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The client port's address.
    pub bind: IpAddr,
    /// The worker port's and the admin port's: `./lukseun up` keeps them on 127.0.0.1.
    pub worker_bind: IpAddr,
    pub admin_bind: IpAddr,
    pub port: u16,
    pub worker_port: u16,
    pub advertise_ip: IpAddr,
    pub redis_url: String,
    pub nats_url: String,
    /// Workers must prove it at connect; `None`: the worker port takes anyone's lines.
    pub link_secret: Option<LinkSecret>,
    pub job_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub max_connections_per_ip: usize,
    pub ip_requests_per_sec: u32,
    pub write_stall: Duration,
    pub answer_budget_bytes: usize,
    pub one_shot: bool,
    pub admin_port: u16,
}

impl Options {
    pub fn from_flags(flags: &Flags) -> Result<Options, FlagError> {
        let bind: IpAddr = flags.parsed("bind")?;
        let or_bind = |name: &str| -> Result<IpAddr, FlagError> {
            match flags.get(name).trim() {
                "" => Ok(bind),
                _ => flags.parsed(name),
            }
        };
        Ok(Options {
            bind,
            worker_bind: or_bind("worker-bind")?,
            admin_bind: or_bind("admin-bind")?,
            port: flags.parsed("port")?,
            worker_port: flags.parsed("worker-port")?,
            advertise_ip: flags.parsed("advertise-ip")?,
            redis_url: flags.non_empty("redis-url")?,
            nats_url: flags.non_empty("nats-url")?,
            // The value never goes into the error: it is a secret.
            link_secret: LinkSecret::from_config(flags.get("link-secret")).map_err(|e| {
                FlagError::Invalid {
                    name: "link-secret".into(),
                    value: "<hidden>".into(),
                    reason: e.to_string(),
                }
            })?,
            job_timeout: Duration::from_millis(flags.positive("job-timeout-ms")?),
            idle_timeout: Duration::from_secs(flags.positive("idle-timeout-secs")?),
            max_connections: flags.positive("max-connections")? as usize,
            max_in_flight: flags.positive("max-in-flight")? as usize,
            max_connections_per_ip: flags.positive("max-connections-per-ip")? as usize,
            ip_requests_per_sec: u32::try_from(flags.positive("ip-requests-per-sec")?)
                .map_err(|_| flags.invalid("ip-requests-per-sec", "too large"))?,
            write_stall: Duration::from_secs(flags.positive("write-stall-secs")?),
            answer_budget_bytes: usize::try_from(flags.positive("answer-budget-mb")?)
                .ok()
                .and_then(|mb| mb.checked_mul(1024 * 1024))
                .ok_or_else(|| flags.invalid("answer-budget-mb", "too large"))?,
            one_shot: flags.switch("one-shot"),
            admin_port: flags.parsed("admin-port")?,
        })
    }

    /// Loopback, free ports, the given servers: what tests and local runs start from.
    pub fn local(redis_url: &str, nats_url: &str) -> Options {
        Options {
            bind: IpAddr::from([127, 0, 0, 1]),
            worker_bind: IpAddr::from([127, 0, 0, 1]),
            admin_bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            worker_port: 0,
            advertise_ip: IpAddr::from([127, 0, 0, 1]),
            redis_url: redis_url.to_string(),
            nats_url: nats_url.to_string(),
            link_secret: None,
            job_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 20_000,
            max_in_flight: 32,
            max_connections_per_ip: 256,
            ip_requests_per_sec: 500,
            write_stall: Duration::from_secs(20),
            answer_budget_bytes: 256 * 1024 * 1024,
            one_shot: false,
            admin_port: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let flags = Flags::parse(&SPEC, &args, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })?;
        Options::from_flags(&flags)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let o = parse(&[], &[]).unwrap();
        assert_eq!(o.bind, IpAddr::from([0, 0, 0, 0]));
        assert_eq!((o.port, o.worker_port, o.admin_port), (8880, 8201, 9104));
        assert_eq!(o.advertise_ip, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(o.redis_url, "redis://127.0.0.1:6379/");
        assert_eq!(o.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(o.job_timeout, Duration::from_secs(10));
        assert_eq!(o.idle_timeout, Duration::from_secs(60));
        assert_eq!((o.max_connections, o.max_in_flight), (20_000, 32));
        assert_eq!(
            (o.max_connections_per_ip, o.ip_requests_per_sec),
            (256, 500)
        );
        assert_eq!(o.write_stall, Duration::from_secs(20));
        assert_eq!(o.answer_budget_bytes, 256 << 20);
        assert!(!o.one_shot);
        let flags = Flags::parse(&SPEC, &[], |_| None).unwrap();
        assert_eq!(
            Options::from_flags(&flags).unwrap(),
            {
                let mut local = Options::local("redis://127.0.0.1:6379/", "nats://127.0.0.1:4222");
                (local.bind, local.port, local.worker_port, local.admin_port) =
                    (o.bind, 8880, 8201, 9104);
                (local.worker_bind, local.admin_bind) = (o.bind, o.bind);
                local
            },
            "local() has the flag defaults"
        );
    }

    #[test]
    fn worker_and_admin_ports_bind_as_the_client_port_unless_told() {
        let any = IpAddr::from([0, 0, 0, 0]);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let o = parse(&["--bind", "10.0.0.5"], &[]).unwrap();
        let ten = IpAddr::from([10, 0, 0, 5]);
        assert_eq!((o.bind, o.worker_bind, o.admin_bind), (ten, ten, ten));
        let o = parse(
            &["--worker-bind", "127.0.0.1"],
            &[("LUKSEUN_ADMIN_BIND", "127.0.0.1")],
        )
        .unwrap();
        assert_eq!((o.bind, o.worker_bind, o.admin_bind), (any, lo, lo));
        let e = parse(&["--admin-bind", "localhost"], &[]).unwrap_err();
        assert!(e.to_string().contains("admin-bind"), "{e}");
    }

    #[test]
    fn the_link_secret_comes_from_the_environment_and_is_never_shown() {
        assert_eq!(parse(&[], &[]).unwrap().link_secret, None);
        let o = parse(&[], &[("LUKSEUN_LINK_SECRET", "0123456789abcdef")]).unwrap();
        assert_eq!(
            o.link_secret,
            LinkSecret::from_config("0123456789abcdef").unwrap()
        );
        let err = parse(&["--link-secret=tooshortpw"], &[]).unwrap_err();
        assert!(!err.to_string().contains("tooshortpw"), "{err}");
    }

    #[test]
    fn advertise_ip_falls_back_to_pod_ip() {
        let o = parse(&[], &[("POD_IP", "10.1.2.3")]).unwrap();
        assert_eq!(o.advertise_ip, IpAddr::from([10, 1, 2, 3]));
        let o = parse(
            &[],
            &[("POD_IP", "10.1.2.3"), ("LUKSEUN_ADVERTISE_IP", "10.9.9.9")],
        )
        .unwrap();
        assert_eq!(o.advertise_ip, IpAddr::from([10, 9, 9, 9]));
    }

    #[test]
    fn flags_set_everything() {
        let o = parse(
            &[
                "--port=1",
                "--worker-port=2",
                "--admin-port=3",
                "--job-timeout-ms=300",
                "--idle-timeout-secs=5",
                "--max-connections=7",
                "--max-in-flight=8",
                "--max-connections-per-ip=9",
                "--ip-requests-per-sec=10",
                "--write-stall-secs=11",
                "--answer-budget-mb=12",
                "--one-shot",
                "--bind=127.0.0.1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!((o.port, o.worker_port, o.admin_port), (1, 2, 3));
        assert_eq!(o.job_timeout, Duration::from_millis(300));
        assert_eq!(o.idle_timeout, Duration::from_secs(5));
        assert_eq!((o.max_connections, o.max_in_flight), (7, 8));
        assert_eq!((o.max_connections_per_ip, o.ip_requests_per_sec), (9, 10));
        assert_eq!(o.write_stall, Duration::from_secs(11));
        assert_eq!(o.answer_budget_bytes, 12 << 20);
        assert!(o.one_shot);
    }

    #[test]
    fn bad_values_name_the_option() {
        for (args, name) in [
            (&["--job-timeout-ms=0"][..], "--job-timeout-ms"),
            (&["--port=70000"][..], "--port"),
            (&["--advertise-ip=gate.local"][..], "--advertise-ip"),
            (&["--max-connections=-1"][..], "--max-connections"),
            (&["--redis-url="][..], "--redis-url"),
            (&["--write-stall-secs=0"][..], "--write-stall-secs"),
            (&["--answer-budget-mb=0"][..], "--answer-budget-mb"),
            (
                &["--ip-requests-per-sec=5000000000"][..],
                "--ip-requests-per-sec",
            ),
            (
                &["--max-connections-per-ip=0"][..],
                "--max-connections-per-ip",
            ),
        ] {
            let e = parse(args, &[]).unwrap_err().to_string();
            assert!(e.contains(name), "{args:?}: {e}");
        }
    }
}
