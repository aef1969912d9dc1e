//! Reads the config directory and keeps the last good version of every file.
//!
//! A scan re-reads a file when its modification time, size or inode changed. Because
//! file-system timestamps are coarse, a file written twice within one tick can keep
//! its stamp; so a file modified in the last `RACY_WINDOW` is also re-read and
//! compared by content (the trick git uses for "racily clean" files).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::etag::fnv1a64;
use crate::name::ConfigName;
use crate::snapshot::{Problem, Snapshot};

/// Files above this size are refused: config is small, and a huge file is a mistake.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
const RACY_WINDOW: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    size: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            modified: meta.modified().ok(),
            size: meta.len(),
            inode: meta.ino(),
        }
    }

    /// Modified so recently that a later write might not move the timestamp.
    fn is_racy(&self, now: SystemTime) -> bool {
        match self.modified {
            Some(m) => now.duration_since(m).map_or(true, |age| age < RACY_WINDOW),
            None => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    TooLarge(u64),
    Unreadable(String),
    NotJson(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::TooLarge(n) => {
                write!(f, "file is {n} bytes, the limit is {MAX_FILE_BYTES}")
            }
            FileError::Unreadable(e) => write!(f, "cannot read: {e}"),
            FileError::NotJson(e) => write!(f, "not valid JSON: {e}"),
        }
    }
}

struct FileState {
    stamp: Stamp,
    /// Hash of the bytes last read (good or not), to skip re-parsing unchanged content.
    read_hash: Option<u64>,
    good: Option<Arc<[u8]>>,
    error: Option<FileError>,
}

/// What one scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Files with a new good version (new or changed).
    pub loaded: Vec<String>,
    /// Files that disappeared from the directory.
    pub removed: Vec<String>,
    /// Files newly refused (each reported once, not every scan).
    pub refused: Vec<(String, String)>,
    /// Set when something a snapshot shows changed: rebuild and swap.
    pub snapshot_stale: bool,
}

pub struct Loader {
    dir: PathBuf,
    files: BTreeMap<ConfigName, FileState>,
    dir_error: Option<String>,
}

impl Loader {
    pub fn new(dir: impl Into<PathBuf>) -> Loader {
        Loader {
            dir: dir.into(),
            files: BTreeMap::new(),
            dir_error: None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings the state up to date with the directory.
    pub fn scan(&mut self, now: SystemTime) -> ScanReport {
        let mut report = ScanReport::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) => {
                // Keep serving what we have; the operator sees the error in /healthz.
                let error = Some(format!("{}: {e}", self.dir.display()));
                if self.dir_error != error {
                    self.dir_error = error;
                    report.snapshot_stale = true;
                }
                return report;
            }
        };
        if self.dir_error.take().is_some() {
            report.snapshot_stale = true;
        }

        let mut present = BTreeSet::new();
        for entry in entries.flatten() {
            let Some(name) = ConfigName::from_file_name(&entry.file_name()) else {
                continue;
            };
            // fs::metadata follows symlinks: Kubernetes mounts ConfigMap files as links.
            let Ok(meta) = fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            present.insert(name.clone());
            self.refresh(name, &meta, now, &mut report);
        }

        let gone: Vec<ConfigName> = self
            .files
            .keys()
            .filter(|n| !present.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            self.files.remove(&name);
            report.removed.push(name.to_string());
            report.snapshot_stale = true;
        }
        report
    }

    fn refresh(&mut self, name: ConfigName, meta: &Metadata, now: SystemTime, r: &mut ScanReport) {
        let stamp = Stamp::of(meta);
        let known = self.files.get(&name);
        if known.is_some_and(|s| s.stamp == stamp && !stamp.is_racy(now)) {
            return;
        }
        let path = self.dir.join(name.file_name());
        let read = if stamp.size > MAX_FILE_BYTES {
            Err(FileError::TooLarge(stamp.size))
        } else {
            read_limited(&path)
        };
        let read_hash = read.as_ref().ok().map(|bytes| fnv1a64(bytes));
        if let Some(state) = self.files.get_mut(&name) {
            let same_bytes = read_hash.is_some() && state.read_hash == read_hash;
            let same_refusal = read_hash.is_none() && state.error == read.as_ref().err().cloned();
            if same_bytes || same_refusal {
                state.stamp = stamp;
                return;
            }
        }

        let parsed = read.and_then(check_json);
        let state = self.files.entry(name.clone()).or_insert(FileState {
            stamp,
            read_hash: None,
            good: None,
            error: None,
        });
        state.stamp = stamp;
        state.read_hash = read_hash;
        r.snapshot_stale = true;
        match parsed {
            Ok(bytes) => {
                state.good = Some(Arc::from(bytes));
                state.error = None;
                r.loaded.push(name.to_string());
            }
            Err(e) => {
                r.refused.push((name.to_string(), e.to_string()));
                state.error = Some(e);
            }
        }
    }

    /// An immutable view of the current state, for serving.
    pub fn snapshot(&self) -> Snapshot {
        let mut good = BTreeMap::new();
        let mut problems = BTreeMap::new();
        for (name, state) in &self.files {
            if let Some(bytes) = &state.good {
                good.insert(name.clone(), bytes.clone());
            }
            if let Some(e) = &state.error {
                problems.insert(
                    name.clone(),
                    Problem {
                        reason: e.to_string(),
                        serving_last_good: state.good.is_some(),
                    },
                );
            }
        }
        Snapshot::build(good, problems, self.dir_error.clone())
    }
}

/// Keeps the exact bytes (they are served verbatim) once they are known to be JSON.
fn check_json(bytes: Vec<u8>) -> Result<Vec<u8>, FileError> {
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(_) => Ok(bytes),
        Err(e) => Err(FileError::NotJson(e.to_string())),
    }
}

/// Reads at most the limit, so a file that grew after it was measured is still refused.
fn read_limited(path: &Path) -> Result<Vec<u8>, FileError> {
    let file = fs::File::open(path).map_err(|e| FileError::Unreadable(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e: io::Error| FileError::Unreadable(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn write(dir: &Path, file: &str, body: &str) {
        fs::write(dir.join(file), body).unwrap();
    }

    fn set_mtime(dir: &Path, file: &str, when: SystemTime) {
        File::options()
            .write(true)
            .open(dir.join(file))
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn served(loader: &Loader, name: &str) -> Option<String> {
        let snap = loader.snapshot();
        let doc = snap.get(&ConfigName::parse(name).unwrap())?;
        Some(String::from_utf8(doc.body.to_vec()).unwrap())
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    #[test]
    fn loads_only_valid_json_file_names() {
        let dir = testkit::TempDir::new("config-loader");
        write(dir.path(), "player.json", "{\"a\":1}");
        write(dir.path(), ".hidden.json", "{}");
        write(dir.path(), "notes.txt", "hello");
        write(dir.path(), "bad name.json", "{}");
        fs::create_dir(dir.path().join("sub.json")).unwrap();
        let mut loader = Loader::new(dir.path());
        let report = loader.scan(later());
        assert_eq!(report.loaded, vec!["player".to_string()]);
        assert!(report.snapshot_stale);
        let snap = loader.snapshot();
        let names: Vec<&str> = snap.files.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, vec!["player"]);
        // Nothing changed: nothing to report, no rebuild.
        assert_eq!(loader.scan(later()), ScanReport::default());
    }

    #[test]
    fn broken_file_keeps_its_last_good_version_and_is_reported_once() {
        let dir = testkit::TempDir::new("config-loader");
        write(dir.path(), "weapon.json", "{\"max_level\":100}");
        let mut loader = Loader::new(dir.path());
        loader.scan(later());
        write(dir.path(), "weapon.json", "{\"max_level\":");
        let report = loader.scan(later());
        assert!(report.snapshot_stale);
        assert_eq!(report.refused.len(), 1);
        assert!(report.refused[0].1.contains("not valid JSON"), "{report:?}");
        assert_eq!(served(&loader, "weapon").unwrap(), "{\"max_level\":100}");
        let problem = loader.snapshot().problems.values().next().cloned().unwrap();
        assert!(problem.serving_last_good);
        // The same broken bytes are not reported again on the next scans.
        let now = SystemTime::now();
        assert_eq!(loader.scan(now), ScanReport::default());
        // Fixed: served and no longer listed.
        write(dir.path(), "weapon.json", "{\"max_level\":120}");
        assert_eq!(loader.scan(later()).loaded, vec!["weapon".to_string()]);
        assert_eq!(served(&loader, "weapon").unwrap(), "{\"max_level\":120}");
        assert!(loader.snapshot().problems.is_empty());
    }

    #[test]
    fn a_new_broken_file_is_listed_but_not_served() {
        let dir = testkit::TempDir::new("config-loader");
        write(dir.path(), "mail.json", "not json");
        let mut loader = Loader::new(dir.path());
        loader.scan(later());
        let snap = loader.snapshot();
        assert!(snap.files.is_empty());
        assert!(!snap.problems.values().next().unwrap().serving_last_good);
    }

    #[test]
    fn deleted_files_disappear_and_new_files_appear() {
        let dir = testkit::TempDir::new("config-loader");
        write(dir.path(), "a.json", "1");
        let mut loader = Loader::new(dir.path());
        loader.scan(later());
        fs::remove_file(dir.path().join("a.json")).unwrap();
        write(dir.path(), "b.json", "2");
        let report = loader.scan(later());
        assert_eq!(report.removed, vec!["a".to_string()]);
        assert_eq!(report.loaded, vec!["b".to_string()]);
        assert_eq!(served(&loader, "a"), None);
        assert_eq!(served(&loader, "b").unwrap(), "2");
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = testkit::TempDir::new("config-loader");
        let big = format!("\"{}\"", "x".repeat(MAX_FILE_BYTES as usize));
        write(dir.path(), "big.json", &big);
        let mut loader = Loader::new(dir.path());
        let report = loader.scan(later());
        assert_eq!(report.refused.len(), 1);
        assert!(
            report.refused[0].1.contains("the limit is 4194304"),
            "{report:?}"
        );
        assert!(loader.snapshot().files.is_empty());
        // Reported once, not on every scan.
        assert!(loader.scan(SystemTime::now()).refused.is_empty());
    }

    #[test]
    fn a_rewrite_within_one_timestamp_tick_is_still_seen() {
        let dir = testkit::TempDir::new("config-loader");
        let tick = SystemTime::now() - Duration::from_secs(3600);
        write(dir.path(), "f.json", "[1]");
        set_mtime(dir.path(), "f.json", tick);
        let mut loader = Loader::new(dir.path());
        loader.scan(tick + Duration::from_secs(60));
        // Same size, same inode, same timestamp: the stamp cannot tell.
        write(dir.path(), "f.json", "[2]");
        set_mtime(dir.path(), "f.json", tick);
        assert!(!loader.scan(tick + Duration::from_secs(60)).snapshot_stale);
        assert_eq!(served(&loader, "f").unwrap(), "[1]");
        // Seen while the timestamp is recent, which is when such a rewrite happens.
        let report = loader.scan(tick + Duration::from_millis(500));
        assert_eq!(report.loaded, vec!["f".to_string()]);
        assert_eq!(served(&loader, "f").unwrap(), "[2]");
    }

    #[test]
    fn an_unreadable_directory_keeps_the_files_and_reports_it() {
        let dir = testkit::TempDir::new("config-loader");
        let inner = dir.path().join("game");
        fs::create_dir(&inner).unwrap();
        write(&inner, "a.json", "{}");
        let mut loader = Loader::new(&inner);
        loader.scan(later());
        fs::rename(&inner, dir.path().join("moved")).unwrap();
        assert!(loader.scan(later()).snapshot_stale);
        let snap = loader.snapshot();
        assert_eq!(snap.files.len(), 1);
        assert!(
            snap.dir_error.as_deref().unwrap().contains("game"),
            "{snap:?}"
        );
    }

    #[test]
    fn follows_a_kubernetes_configmap_layout() {
        // kubelet mounts `<name>.json -> ..data/<name>.json`, `..data -> ..<timestamp>`,
        // and updates by re-pointing `..data` in one rename.
        use std::os::unix::fs::symlink;
        let dir = testkit::TempDir::new("config-loader");
        let root = dir.path();
        fs::create_dir(root.join("..v1")).unwrap();
        write(&root.join("..v1"), "friend.json", "{\"friend_limit\":50}");
        symlink("..v1", root.join("..data")).unwrap();
        symlink("..data/friend.json", root.join("friend.json")).unwrap();
        let mut loader = Loader::new(root);
        loader.scan(later());
        assert_eq!(served(&loader, "friend").unwrap(), "{\"friend_limit\":50}");

        fs::create_dir(root.join("..v2")).unwrap();
        write(&root.join("..v2"), "friend.json", "{\"friend_limit\":60}");
        symlink("..v2", root.join("..data_tmp")).unwrap();
        fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        assert_eq!(loader.scan(later()).loaded, vec!["friend".to_string()]);
        assert_eq!(served(&loader, "friend").unwrap(), "{\"friend_limit\":60}");
        assert_eq!(
            loader.snapshot().files.len(),
            1,
            "hidden entries are not config"
        );
    }
}
