//! The running worker: connections, the job threads and the admin server. The job threads
//! wait for jobs on the NATS subscription's queue (its bounded queue is the backlog) and
//! on the gate links that carry jobs, both at once (crate::intake).
//! `Worker::start` returns a handle whose `stop` shuts down gracefully, so tests run the
//! whole service in-process.
//!
//! Threads: the job threads (which also read the gate links that take jobs), the NATS
//! client's, the config refresher, the token cache's Redis feed (shared::redis_tracking),
//! the admin server. Stop order: the links stop taking jobs (`jobs 0`, then each gate's
//! last job is in hand), then NATS delivery drains, the job threads finish every job in the
//! queue and answer it, the refresher ends, the feed ends, NATS closes.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use auth::{Key, KeyError, Tokens};
use shared::admin::{AdminServer, Check};
use shared::contract;
use shared::metrics::Registry;
use shared::nats::{self, NatsError};
use shared::redis_conn::{RedisError, RedisPool};
use shared::redis_tracking::{KeyCache, Tracker};

use crate::config_refresh::{start_refresher, LiveConfig};
use crate::db::{self, Db};
use crate::function::{Clock, FunctionSettings, Seeds, Services};
use crate::game_config::GameConfig;
use crate::gate_link::{GateLink, LinkError, LinkIntake};
use crate::handler;
use crate::intake::{JobIntake, DRAIN_WAIT};
use crate::job::Job;
use crate::metrics::WorkerMetrics;
use crate::modules::chat::ChatEvents;
use crate::options::Options;
use crate::pool::JobPool;
use crate::request_id::RidCounters;
use crate::world_db::WorldDbs;

#[derive(Debug)]
pub enum StartError {
    BadKey(KeyError),
    Redis(RedisError),
    Db(db::DbError),
    Nats(NatsError),
    Io(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::BadKey(e) => write!(f, "--jwt-secret: {e}"),
            StartError::Redis(e) => write!(f, "redis: {e}"),
            StartError::Db(e) => write!(f, "{e}"),
            StartError::Nats(e) => write!(f, "{e}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::BadKey(e) => Some(e),
            StartError::Redis(e) => Some(e),
            StartError::Db(e) => Some(e),
            StartError::Nats(e) => Some(e),
            StartError::Io(e) => Some(e),
        }
    }
}

pub struct Worker {
    stop: Arc<AtomicBool>,
    link: Arc<GateLink>,
    pool: Option<JobPool>,
    refresher: Option<JoinHandle<()>>,
    admin: AdminServer,
    nats: nats::Client,
    services: Arc<Services>,
    /// Keeps the token cache current; `None` when it is off.
    tracker: Option<Tracker>,
}

impl Worker {
    pub fn start(settings: &Options) -> Result<Worker, StartError> {
        let key = Key::new(settings.jwt_secret.as_bytes()).map_err(StartError::BadKey)?;
        let redis = Arc::new(
            RedisPool::new(&settings.redis_url, settings.threads).map_err(StartError::Redis)?,
        );
        let db = Db::open(&settings.mysql_url, settings.threads + 2).map_err(StartError::Db)?;
        let world_dbs = WorldDbs::open(
            &settings.mysql_url,
            &settings.world_dbs,
            settings.threads + 2,
        )
        .map_err(StartError::Db)?;
        let deadline = Instant::now() + settings.startup_wait;
        // Every server gets the whole schema: one migration list, and a world can move
        // between servers by dump and restore.
        for server in std::iter::once(&db).chain(world_dbs.servers().map(|(db, _)| db)) {
            retry_until(deadline, "MySQL migrations", || db::migrate(server))
                .map_err(StartError::Db)?;
        }

        let client = retry_until(deadline, "NATS connect", || {
            // The job backlog is bounded in bytes too: 65,536 lines of 64 KiB would be 4 GiB.
            let options = nats::Options {
                subscription_capacity_bytes: settings.job_queue_bytes,
                ..nats::Options::named("worker")
            };
            nats::Client::connect(&settings.nats_url, options)
        })
        .map_err(StartError::Nats)?;
        crate::modules::daily::set_offset_hours(settings.game_day_offset_hours);
        let registry = Registry::new();
        let mut tokens = Tokens::new(key, redis.clone(), auth::tokens::DEFAULT_LIFETIME);
        let tracker = if settings.token_cache && !redis.is_cluster() {
            let cache = KeyCache::counted(
                auth::tokens::REVOCATION_PREFIX,
                registry.counter(
                    "worker_token_cache_hits_total",
                    "token checks answered from the tracked copy of the current token ids",
                ),
                registry.counter(
                    "worker_token_cache_misses_total",
                    "token checks that read Redis (not in the copy, or the copy's feed not current)",
                ),
            );
            match Tracker::start(&settings.redis_url, cache.clone()) {
                Ok(tracker) => {
                    tokens = tokens.with_cache(cache);
                    Some(tracker)
                }
                Err(e) => {
                    shared::warn!("token cache off", error = e);
                    None
                }
            }
        } else {
            None
        };
        let services = Arc::new(Services {
            db,
            world_dbs,
            redis: redis.clone(),
            tokens,
            settings: FunctionSettings {
                pbkdf2_iterations: settings.pbkdf2_iterations,
                mail_url: settings.mail_url.clone(),
                auth_url: settings.auth_url.clone(),
                notify: settings.notify(),
                purchase_verifier: settings.purchase_verifier(),
                chat_tokens_per_minute: settings.chat_tokens_per_minute,
                account_limits: settings.account_limits,
            },
            clock: Arc::new(Clock::system()),
            seeds: Arc::new(Seeds::random()),
            // The job connection publishes the events too: they are few.
            chat_events: ChatEvents::on(client.clone()),
            request_ids: settings.request_ids,
            rid_counters: RidCounters::register(&registry),
        });
        let metrics = Arc::new(WorkerMetrics::register(&registry));
        let admin = AdminServer::start(
            &settings.admin_addr,
            registry,
            shared::admin::always_ok(),
            readiness(services.clone(), client.clone()),
        )
        .map_err(StartError::Io)?;

        // From here on threads run: a failure sets `stop` so they end.
        let stop = Arc::new(AtomicBool::new(false));
        let stop_on_error = |e: StartError| {
            stop.store(true, Ordering::Relaxed);
            e
        };
        let live = Arc::new(LiveConfig::new(GameConfig::embedded()));
        let refresher = if settings.config_url.is_empty() {
            None
        } else {
            // Fetches once before returning, so the first job sees the served config.
            Some(
                start_refresher(
                    &settings.config_url,
                    settings.config_refresh,
                    live.clone(),
                    stop.clone(),
                )
                .map_err(StartError::Io)?,
            )
        };
        let subscription = client
            .subscribe(contract::JOBS_SUBJECT, Some(contract::WORKERS_QUEUE))
            .map_err(|e| stop_on_error(StartError::Nats(e)))?;
        // The SUB has reached the server once this returns, so a job published after
        // `start` cannot miss this worker.
        client
            .flush(Duration::from_secs(5))
            .map_err(|e| stop_on_error(StartError::Nats(e)))?;
        // A NATS user without the right to read `jobs` has had its SUB refused by now.
        if let Some(refusal) = subscription.refused() {
            let e = shared::nats::NatsError::PermissionDenied(refusal.to_string());
            return Err(stop_on_error(StartError::Nats(e)));
        }
        // Link jobs only over proven links: a gate sends none without a secret.
        let intake = JobIntake::new(
            subscription,
            settings.link_secret.is_some(),
            settings.threads,
            stop.clone(),
            metrics.clone(),
        )
        .map_err(|e| stop_on_error(StartError::Io(e)))?;
        let link_intake = intake.links().map(|links| LinkIntake {
            window: u32::try_from(settings.threads)
                .unwrap_or(u32::MAX)
                .min(contract::LINK_WINDOW_MAX),
            links,
        });
        let link = Arc::new(
            GateLink::new(redis.clone(), metrics.undelivered.clone())
                .with_secret(settings.link_secret.clone())
                .with_intake(link_intake),
        );
        let pool = {
            let (services, live, metrics) = (services.clone(), live.clone(), metrics.clone());
            let link = link.clone();
            JobPool::new(
                "job",
                settings.threads,
                move || intake.next(),
                move |(job, received): (Job, Instant)| {
                    run_job(&services, &live, &link, &metrics, &job, received)
                },
            )
            .map_err(|e| stop_on_error(StartError::Io(e)))?
        };
        shared::info!(
            "worker started",
            threads = settings.threads,
            admin = admin.addr(),
            worlds = live.get().worlds().live().join(",")
        );
        Ok(Worker {
            stop,
            link,
            pool: Some(pool),
            refresher,
            admin,
            nats: client,
            services,
            tracker,
        })
    }

    pub fn admin_addr(&self) -> std::net::SocketAddr {
        self.admin.addr()
    }

    /// The shared resources, for tests that look behind the service.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops taking jobs (gate links, then NATS), answers every job already received, then
    /// returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.pool.is_some() {
            // The job threads keep running meanwhile: the links' last jobs join the queue.
            self.link.stop_taking(DRAIN_WAIT);
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(mut pool) = self.pool.take() {
            pool.join();
            shared::info!("job intake stopped, in-flight jobs answered");
        }
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.join();
        }
        if let Some(tracker) = self.tracker.take() {
            tracker.stop();
        }
        // Answers went out over the gate links; publishes are all the client still holds.
        let _ = self.nats.flush(Duration::from_secs(2));
        self.nats.close();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run_job(
    services: &Services,
    live: &LiveConfig,
    link: &GateLink,
    metrics: &WorkerMetrics,
    job: &Job,
    received: Instant,
) {
    let config = live.get();
    // One look-up of the gate for the notice and the answer.
    let gate = job.header.gate.map(|gid| link.gate(gid));
    if let Some(gate) = gate.as_ref().filter(|_| !job.via_link) {
        gate.offers_link_jobs(job.header.link_jobs);
        gate.taken(job.jid);
    }
    // A job that names its gate is answered there; one that does not (a seed-contract
    // gate) has its gate read from `gate.job.<jid>`, with the token's check when it has one.
    let job_key = job
        .header
        .gate
        .is_none()
        .then(|| contract::job_key(job.jid));
    let started = Instant::now();
    let handled = handler::handle_job(
        services,
        &config,
        &job.line,
        job_key.as_deref(),
        job.header.client,
        job.deadline,
    );
    let (response, looked_up) = (handled.response, handled.gate);
    metrics.count_status(response.status);
    metrics
        .functions
        .record(handled.function, response.status, started.elapsed());
    shared::debug!("job answered", jid = job.jid, status = response.status);
    if job.expired(Instant::now()) {
        // The gate answered -2 already and would drop this answer.
        metrics.undelivered.inc();
        shared::warn!("job expired before its answer", jid = job.jid);
        metrics.latency.observe_since(received);
        return;
    }
    // The link counts what it could not deliver.
    let sent = match gate {
        Some(gate) => gate.answer(job.jid, &response.to_json()),
        None => link.send_looked_up(job.jid, looked_up, &response.to_json()),
    };
    match sent {
        Ok(()) => {}
        Err(LinkError::JobExpired) => {
            shared::warn!("job expired before its answer", jid = job.jid);
        }
        Err(e) => shared::warn!("answer not delivered", jid = job.jid, error = e),
    }
    metrics.latency.observe_since(received);
}

fn readiness(services: Arc<Services>, client: nats::Client) -> Check {
    Arc::new(move || {
        services.db.ping()?;
        for (db, worlds) in services.world_dbs.servers() {
            // Named by its worlds: the URL carries a password.
            db.ping()
                .map_err(|e| format!("{e} (the server of {})", worlds.join(", ")))?;
        }
        services.redis.ping()?;
        if !client.is_connected() {
            return Err("nats: not connected".to_string());
        }
        Ok("mysql, redis and nats reachable".to_string())
    })
}

/// Runs `attempt` until it succeeds or `deadline` passes, logging each failure.
fn retry_until<T, E: fmt::Display>(
    deadline: Instant,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    loop {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() < deadline && !shared::signal::shutdown_requested() => {
                shared::warn!("start step failed, retrying", step = what, error = e);
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}
