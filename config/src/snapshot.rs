//! An immutable view of the config directory, as served.
//!
//! The reloader builds a new [`Snapshot`] when something changed and swaps it in whole;
//! request threads only ever read one, so no request sees half a reload.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::etag::etag_for;
use crate::name::ConfigName;

/// One servable body with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub body: Arc<[u8]>,
    pub etag: String,
}

impl Document {
    pub fn new(body: Arc<[u8]>) -> Document {
        let etag = etag_for(&body);
        Document { body, etag }
    }
}

/// Why a file is not served in its current form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub reason: String,
    /// Whether an older, good version is still being served.
    pub serving_last_good: bool,
}

#[derive(Debug)]
pub struct Snapshot {
    /// Every file with a good version: its exact bytes as read.
    pub files: BTreeMap<ConfigName, Document>,
    /// `{"<name>":<content>,...}` over `files`, for `/get_game_manager_config`.
    pub all: Document,
    pub problems: BTreeMap<ConfigName, Problem>,
    /// Set when the directory itself could not be listed at the last scan.
    pub dir_error: Option<String>,
}

impl Snapshot {
    /// `good` holds bytes that already parsed as JSON, so the combined object is valid
    /// JSON without re-serialising (which would also reorder the operator's keys).
    pub fn build(
        good: BTreeMap<ConfigName, Arc<[u8]>>,
        problems: BTreeMap<ConfigName, Problem>,
        dir_error: Option<String>,
    ) -> Snapshot {
        let mut combined = Vec::with_capacity(good.values().map(|b| b.len() + 80).sum());
        combined.push(b'{');
        for (i, (name, body)) in good.iter().enumerate() {
            if i > 0 {
                combined.push(b',');
            }
            // Names are [A-Za-z0-9_-]: nothing to escape.
            combined.push(b'"');
            combined.extend_from_slice(name.as_str().as_bytes());
            combined.extend_from_slice(b"\":");
            combined.extend_from_slice(body.trim_ascii());
        }
        combined.push(b'}');
        let files = good
            .into_iter()
            .map(|(name, body)| (name, Document::new(body)))
            .collect();
        Snapshot {
            files,
            all: Document::new(combined.into()),
            problems,
            dir_error,
        }
    }

    pub fn get(&self, name: &ConfigName) -> Option<&Document> {
        self.files.get(name)
    }

    /// The `/healthz` detail: how many files are served and every file that is not.
    pub fn health_report(&self) -> String {
        let mut out = format!("files served: {}", self.files.len());
        if let Some(e) = &self.dir_error {
            let _ = write!(out, "\nconfig directory unreadable: {e}");
        }
        if self.problems.is_empty() {
            out.push_str("\nbroken files: none");
        }
        for (name, problem) in &self.problems {
            let serving = if problem.serving_last_good {
                "serving the last good version"
            } else {
                "not served"
            };
            let _ = write!(
                out,
                "\nbroken file: {} ({serving}): {}",
                name.file_name(),
                problem.reason
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ConfigName {
        ConfigName::parse(s).unwrap()
    }

    fn bytes(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn combined_object_holds_every_file_verbatim() {
        let mut good = BTreeMap::new();
        good.insert(name("player"), bytes("{\"z\": 1, \"a\": [2]}\n"));
        good.insert(name("friend"), bytes("  {\"limit\":50}  "));
        good.insert(name("scalar"), bytes("7"));
        let snap = Snapshot::build(good, BTreeMap::new(), None);
        let all = &snap.all;
        assert_eq!(
            std::str::from_utf8(&all.body).unwrap(),
            "{\"friend\":{\"limit\":50},\"player\":{\"z\": 1, \"a\": [2]},\"scalar\":7}"
        );
        let parsed: serde_json::Value = serde_json::from_slice(&all.body).unwrap();
        assert_eq!(parsed["player"]["a"][0], 2);
        // One file is served exactly as it is on disk.
        assert_eq!(
            &*snap.get(&name("player")).unwrap().body,
            b"{\"z\": 1, \"a\": [2]}\n"
        );
        assert_eq!(all.etag, etag_for(&all.body));
    }

    #[test]
    fn an_empty_directory_is_an_empty_object() {
        let snap = Snapshot::build(BTreeMap::new(), BTreeMap::new(), None);
        assert_eq!(&*snap.all.body, b"{}");
    }

    #[test]
    fn tags_change_with_content_only() {
        let one = |body: &str| {
            let mut good = BTreeMap::new();
            good.insert(name("a"), bytes(body));
            Snapshot::build(good, BTreeMap::new(), None)
        };
        let (a, b, c) = (one("{\"v\":1}"), one("{\"v\":1}"), one("{\"v\":2}"));
        assert_eq!(
            a.get(&name("a")).unwrap().etag,
            b.get(&name("a")).unwrap().etag
        );
        assert_ne!(
            a.get(&name("a")).unwrap().etag,
            c.get(&name("a")).unwrap().etag
        );
        assert_eq!(a.all.etag, b.all.etag);
        assert_ne!(b.all.etag, c.all.etag);
    }

    #[test]
    fn health_report_lists_broken_files() {
        let mut problems = BTreeMap::new();
        problems.insert(
            name("weapon"),
            Problem {
                reason: "EOF while parsing an object at line 3 column 0".into(),
                serving_last_good: true,
            },
        );
        problems.insert(
            name("fresh"),
            Problem {
                reason: "too large".into(),
                serving_last_good: false,
            },
        );
        let mut good = BTreeMap::new();
        good.insert(name("weapon"), bytes("{}"));
        let report = Snapshot::build(good, problems, None).health_report();
        assert_eq!(
            report,
            "files served: 1\n\
             broken file: fresh.json (not served): too large\n\
             broken file: weapon.json (serving the last good version): \
             EOF while parsing an object at line 3 column 0"
        );
        let clean = Snapshot::build(BTreeMap::new(), BTreeMap::new(), Some("gone".into()));
        assert_eq!(
            clean.health_report(),
            "files served: 0\nconfig directory unreadable: gone\nbroken files: none"
        );
    }
}
