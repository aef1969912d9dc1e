//! Keeps the game config current: fetches `GET <url>/get_game_manager_config` at start and
//! every refresh interval, with `If-None-Match`, in a background thread. A failed or bad
//! fetch keeps the last good config.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::game_config::{GameConfig, GameConfigError};

/// The config every job reads; replaced whole, so a job sees one consistent version.
pub struct LiveConfig {
    current: RwLock<Arc<GameConfig>>,
}

impl LiveConfig {
    pub fn new(config: GameConfig) -> LiveConfig {
        LiveConfig {
            current: RwLock::new(Arc::new(config)),
        }
    }

    pub fn get(&self) -> Arc<GameConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set(&self, config: GameConfig) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }
}

#[derive(Debug)]
pub enum FetchError {
    Http(ureq::Error),
    Status(u16),
    NotJson(serde_json::Error),
    Invalid(GameConfigError),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Http(e) => write!(f, "request failed: {e}"),
            FetchError::Status(code) => write!(f, "config service answered HTTP {code}"),
            FetchError::NotJson(e) => write!(f, "answer is not JSON: {e}"),
            FetchError::Invalid(e) => write!(f, "answer is not a usable config: {e}"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Invalid(e) => Some(e),
            FetchError::Http(e) => Some(e),
            FetchError::NotJson(e) => Some(e),
            FetchError::Status(_) => None,
        }
    }
}

/// Fetches the game config from a config service.
pub struct ConfigFetcher {
    agent: ureq::Agent,
    url: String,
    etag: Option<String>,
}

impl ConfigFetcher {
    pub fn new(base_url: &str) -> ConfigFetcher {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        ConfigFetcher {
            agent,
            url: format!("{}/get_game_manager_config", base_url.trim_end_matches('/')),
            etag: None,
        }
    }

    /// `Ok(None)`: unchanged since the last good fetch. `Ok(Some(config))`: `base` with the
    /// served files laid over it.
    pub fn fetch(&mut self, base: &GameConfig) -> Result<Option<GameConfig>, FetchError> {
        let mut request = self.agent.get(&self.url);
        if let Some(etag) = &self.etag {
            request = request.header("If-None-Match", etag);
        }
        let mut response = request.call().map_err(FetchError::Http)?;
        let status = response.status().as_u16();
        if status == 304 {
            return Ok(None);
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(FetchError::Http)?;
        let served: Value = serde_json::from_str(&text).map_err(FetchError::NotJson)?;
        let config = base.overlay(&served).map_err(FetchError::Invalid)?;
        // Only a config we accepted may be answered with 304 later.
        self.etag = etag;
        Ok(Some(config))
    }
}

/// Fetches into `live` now and then every `interval` until `stop` is set.
pub fn start_refresher(
    base_url: &str,
    interval: Duration,
    live: Arc<LiveConfig>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let mut fetcher = ConfigFetcher::new(base_url);
    let base = GameConfig::embedded();
    refresh_once(&mut fetcher, &base, &live);
    std::thread::Builder::new()
        .name("config-refresh".into())
        .spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= interval {
                    refresh_once(&mut fetcher, &base, &live);
                    last = Instant::now();
                }
            }
        })
}

fn refresh_once(fetcher: &mut ConfigFetcher, base: &GameConfig, live: &LiveConfig) {
    match fetcher.fetch(base) {
        Ok(Some(config)) => {
            shared::info!(
                "game config loaded",
                url = fetcher.url,
                worlds = config.worlds().live().join(",")
            );
            live.set(config);
        }
        Ok(None) => shared::debug!("game config unchanged", url = fetcher.url),
        Err(e) => shared::warn!(
            "game config fetch failed, keeping the last good one",
            url = fetcher.url,
            error = e
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A real HTTP server playing the config service: answers with the body set in
    /// `body`, `ETag: "v<n>"`, and 304 when the client sends the current tag.
    struct ConfigService {
        url: String,
        body: Arc<Mutex<(u32, String)>>,
        _server: shared::http::HttpServer,
    }

    impl ConfigService {
        fn start(body: &str) -> ConfigService {
            use shared::http::{Request, Response};
            let body = Arc::new(Mutex::new((1, body.to_string())));
            let current = body.clone();
            let handler = Arc::new(move |request: &Request| {
                let (version, text) = current.lock().unwrap().clone();
                let tag = format!("\"v{version}\"");
                let response = if request.path != "/get_game_manager_config" {
                    Response::text(404, "no")
                } else if request.header("if-none-match") == Some(tag.as_str()) {
                    Response::empty(304)
                } else {
                    Response::text(200, text)
                };
                response.with_header("ETag", tag)
            });
            let server = shared::http::HttpServer::start(
                "127.0.0.1:0",
                shared::http::Options::default(),
                handler,
                &shared::metrics::Registry::new(),
            )
            .unwrap();
            ConfigService {
                url: format!("http://{}", server.addr()),
                body,
                _server: server,
            }
        }

        fn publish(&self, body: &str) {
            let mut current = self.body.lock().unwrap();
            *current = (current.0 + 1, body.to_string());
        }
    }

    #[test]
    fn fetches_uses_etags_and_keeps_the_last_good_config() {
        let service = ConfigService::start(r#"{"worlds":{"worlds":["w1"],"merge":{}}}"#);
        let base = GameConfig::embedded();
        let mut fetcher = ConfigFetcher::new(&service.url);
        let first = fetcher.fetch(&base).unwrap().expect("a first config");
        assert_eq!(first.worlds().live(), ["w1".to_string()]);
        assert!(fetcher.fetch(&base).unwrap().is_none(), "unchanged: 304");

        service.publish("not json");
        assert!(matches!(fetcher.fetch(&base), Err(FetchError::NotJson(_))));
        service.publish(r#"{"worlds":{"worlds":"s0"}}"#);
        let live = LiveConfig::new(first);
        refresh_once(&mut fetcher, &base, &live);
        assert_eq!(live.get().worlds().live(), ["w1".to_string()], "kept");

        service.publish(r#"{"worlds":"{\"worlds\":[\"w2\"]}"}"#);
        refresh_once(&mut fetcher, &base, &live);
        assert_eq!(live.get().worlds().resolve("w2"), Some("w2"));
    }

    #[test]
    fn unreachable_or_wrong_service_is_an_error() {
        let base = GameConfig::embedded();
        let port = testkit::free_port();
        let mut fetcher = ConfigFetcher::new(&format!("http://127.0.0.1:{port}"));
        let down = fetcher.fetch(&base).expect_err("nothing listens");
        assert!(matches!(down, FetchError::Http(_)), "{down}");
        assert!(std::error::Error::source(&down).is_some());
        let service = ConfigService::start("{}");
        let mut fetcher = ConfigFetcher::new(&format!("{}/elsewhere", service.url));
        assert!(matches!(fetcher.fetch(&base), Err(FetchError::Status(404))));
    }
}
