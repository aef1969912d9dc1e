//! The HTTP API as pure functions: a request line to a [`Route`], a route and a
//! snapshot to a [`Reply`]. The server only moves bytes.

use std::sync::Arc;

use crate::etag::if_none_match_matches;
use crate::name::{ConfigName, NameError};
use crate::snapshot::{Document, Snapshot};

pub const ALL_PATH: &str = "/get_game_manager_config";
pub const FILE_PREFIX: &str = "/config/";

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Every file as one object.
    All,
    File(ConfigName),
    BadName(NameError),
    MethodNotAllowed,
    NotFound,
}

/// `url` is the request target as sent; a query string is ignored. Percent-encoding is
/// never decoded: `%` is not a name character, so encoded names are refused.
pub fn route(method: &str, url: &str) -> Route {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    let target = if path == ALL_PATH {
        Route::All
    } else if let Some(raw) = path.strip_prefix(FILE_PREFIX) {
        match ConfigName::parse(raw) {
            Ok(name) => Route::File(name),
            Err(e) => Route::BadName(e),
        }
    } else {
        return Route::NotFound;
    };
    if method == "GET" || method == "HEAD" {
        target
    } else {
        Route::MethodNotAllowed
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    Json(Arc<[u8]>),
    /// 304: the representation the tag names. Its length is stated (RFC 9110 §8.6); its
    /// bytes are never sent.
    NotModified(Arc<[u8]>),
    /// An error answer, sent as `{"error":"<text>"}`.
    Error(String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Body,
}

impl Reply {
    pub fn error(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            etag: None,
            body: Body::Error(text.into()),
        }
    }

    /// The body: JSON for 200 and errors; for 304 the representation (the server
    /// states its length and sends none of it).
    pub fn body_bytes(&self) -> Arc<[u8]> {
        match &self.body {
            Body::Json(bytes) | Body::NotModified(bytes) => bytes.clone(),
            Body::Error(text) => {
                let json = serde_json::json!({ "error": text }).to_string();
                Arc::from(json.into_bytes())
            }
        }
    }
}

pub fn answer(snapshot: &Snapshot, route: &Route, if_none_match: Option<&str>) -> Reply {
    let document = match route {
        Route::All => Some(&snapshot.all),
        Route::File(name) => snapshot.get(name),
        Route::BadName(e) => return Reply::error(400, e.to_string()),
        Route::MethodNotAllowed => return Reply::error(405, "only GET and HEAD are allowed"),
        Route::NotFound => return Reply::error(404, "no such path"),
    };
    let Some(document) = document else {
        return Reply::error(404, "no such config file");
    };
    conditional(document, if_none_match)
}

fn conditional(document: &Document, if_none_match: Option<&str>) -> Reply {
    let body = match if_none_match {
        Some(header) if if_none_match_matches(header, &document.etag) => {
            Body::NotModified(document.body.clone())
        }
        _ => Body::Json(document.body.clone()),
    };
    Reply {
        status: if matches!(body, Body::NotModified { .. }) {
            304
        } else {
            200
        },
        etag: Some(document.etag.clone()),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn name(s: &str) -> ConfigName {
        ConfigName::parse(s).unwrap()
    }

    fn snapshot() -> Snapshot {
        let mut good = BTreeMap::new();
        good.insert(name("player"), Arc::from(&b"{\"coins\":100}"[..]));
        Snapshot::build(good, BTreeMap::new(), None)
    }

    #[test]
    fn routes_files_the_combined_object_and_the_rest() {
        assert_eq!(route("GET", "/get_game_manager_config"), Route::All);
        assert_eq!(route("GET", "/get_game_manager_config?x=1"), Route::All);
        assert_eq!(route("GET", "/config/player"), Route::File(name("player")));
        assert_eq!(
            route("HEAD", "/config/player.json"),
            Route::File(name("player"))
        );
        assert_eq!(
            route("GET", "/config/player?v=2"),
            Route::File(name("player"))
        );
        assert_eq!(route("POST", "/config/player"), Route::MethodNotAllowed);
        assert_eq!(route("GET", "/"), Route::NotFound);
        assert_eq!(route("GET", "/config"), Route::NotFound);
        assert_eq!(route("GET", "/configx/player"), Route::NotFound);
        assert_eq!(route("GET", "/get_game_manager_config/x"), Route::NotFound);
    }

    #[test]
    fn bad_names_are_refused_before_any_lookup() {
        for url in [
            "/config/",
            "/config/../secret",
            "/config/%2e%2e",
            "/config/%2e%2e%2fsecret",
            "/config/a/b",
            "/config/.hidden",
            "/config/a%00b",
            "/config//etc/passwd",
        ] {
            assert!(matches!(route("GET", url), Route::BadName(_)), "{url}");
            let reply = answer(&snapshot(), &route("GET", url), None);
            assert_eq!(reply.status, 400, "{url}");
        }
    }

    #[test]
    fn serves_with_etag_and_answers_304_to_a_matching_tag() {
        let snap = snapshot();
        let reply = answer(&snap, &Route::File(name("player")), None);
        assert_eq!(reply.status, 200);
        assert_eq!(&*reply.body_bytes(), b"{\"coins\":100}");
        let tag = reply.etag.clone().unwrap();
        let again = answer(&snap, &Route::File(name("player")), Some(&tag));
        assert_eq!(again.status, 304);
        assert_eq!(again.etag.as_deref(), Some(tag.as_str()));
        assert_eq!(
            again.body,
            Body::NotModified(Arc::from(&b"{\"coins\":100}"[..]))
        );
        let stale = answer(&snap, &Route::File(name("player")), Some("\"0000\""));
        assert_eq!(stale.status, 200);
        let all = answer(&snap, &Route::All, None);
        assert_eq!(&*all.body_bytes(), b"{\"player\":{\"coins\":100}}");
        assert_ne!(all.etag, reply.etag);
    }

    #[test]
    fn unknown_files_are_404_with_a_json_error() {
        let reply = answer(&snapshot(), &Route::File(name("nope")), None);
        assert_eq!(reply.status, 404);
        assert_eq!(reply.etag, None);
        let body: serde_json::Value = serde_json::from_slice(&reply.body_bytes()).unwrap();
        assert_eq!(body["error"], "no such config file");
        assert_eq!(
            answer(&snapshot(), &Route::MethodNotAllowed, None).status,
            405
        );
    }
}
