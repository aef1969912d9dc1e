//! The Maildir store: `<root>/<world>/<uid>/{tmp,new,cur}`, one file per message.
//!
//! Delivery writes `tmp/<key>`, fsyncs it, renames it into `new/` and fsyncs `new/`, so a
//! delivery that returned a key survives kill -9 and power loss, and `new/` never holds a
//! half-written file. Directories are created (and their parents fsynced) on first use.
//! Reading moves `new/<key>` to `cur/<key>:2,`; marking read adds the `S` flag.
//!
//! Every operation on one mailbox holds that mailbox's lock ([`crate::lock`]: a mutex
//! stripe and a `flock` on `<mailbox>/.lock`), so the limit check and the delivery are one
//! step, and a read-modify-write (move to `cur/`, flag, delete) happens once, even with
//! many senders in many processes on one shared volume. Keys name their process (pid and
//! host) and are checked against the mailbox under the lock, so a delivery never replaces
//! another; since deliveries write `tmp/` only under the lock, a holder finding a key-shaped
//! file in `tmp/` knows it is a crashed delivery's leftover and removes it.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lock::{Locks, MailboxGuard};
use crate::message::{self, Mail, MailClass, Message};
use crate::names::{check_key, key_order, sanitise_host, MailKey, MailboxId};

/// Maildir convention: a tmp file this old is a leftover of a crashed delivery (for files
/// not named by us; ours go as soon as the mailbox's lock is held, see [`clean_tmp`]).
const STALE_TMP_AGE: Duration = Duration::from_secs(36 * 3600);
/// Keys tried before a delivery gives up: a key is only retried when its name is taken,
/// which needs two processes with one pid and host name in the same microsecond.
const KEY_ATTEMPTS: usize = 8;
/// The info suffix of files in `cur/` (Maildir "version 2" flags).
const INFO_PREFIX: &str = ":2,";

#[derive(Debug)]
pub enum StoreError {
    /// The mailbox holds `limit` mails already.
    Full,
    NoSuchMail,
    Io(io::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Full => write!(f, "mailbox full"),
            StoreError::NoSuchMail => write!(f, "no such mail"),
            StoreError::Io(e) => write!(f, "storage error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io(e) => Some(e),
            StoreError::Full | StoreError::NoSuchMail => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> StoreError {
        StoreError::Io(e)
    }
}

/// One stored mail as read back, with its seen flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMail {
    pub message: Message,
    pub read: bool,
}

/// The mails a read returned and how many the mailbox holds afterwards.
#[derive(Debug, Default)]
pub struct Listing {
    pub mails: Vec<StoredMail>,
    pub count: usize,
}

pub struct Maildir {
    root: PathBuf,
    limit: usize,
    locks: Locks,
    host: String,
    pid: u32,
    counter: AtomicU64,
}

/// A file in `cur/`: its key and flags.
struct CurEntry {
    file_name: String,
    key: String,
    flags: String,
}

impl Maildir {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path, limit: usize) -> io::Result<Maildir> {
        create_dir_durably(root)?;
        Ok(Maildir {
            root: root.to_path_buf(),
            limit,
            locks: Locks::default(),
            host: sanitise_host(&hostname()),
            pid: std::process::id(),
            counter: AtomicU64::new(0),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The directory of one mailbox.
    pub fn mailbox_dir(&self, mailbox: &MailboxId) -> PathBuf {
        self.root.join(mailbox.world()).join(mailbox.uid())
    }

    /// Stores player `mail` durably and returns its key, or [`StoreError::Full`].
    pub fn deliver(&self, mailbox: &MailboxId, mail: &Mail) -> Result<MailKey, StoreError> {
        self.deliver_as(mailbox, mail, MailClass::Player)
    }

    /// Stores `mail` of `class` durably and returns its key, or [`StoreError::Full`] when
    /// the mailbox holds `limit` mails of that class: player mail never takes the room of
    /// system mail, nor the reverse, so a mailbox holds at most twice the limit.
    pub fn deliver_as(
        &self,
        mailbox: &MailboxId,
        mail: &Mail,
        class: MailClass,
    ) -> Result<MailKey, StoreError> {
        let dir = self.mailbox_dir(mailbox);
        self.ensure_mailbox(mailbox, &dir)?;
        // Removed between the two steps (a player cleaned up): refused, the sender retries.
        let _guard = self.lock(mailbox, &dir)?.ok_or_else(mailbox_gone)?;
        let names = mailbox_names(&dir)?;
        // Below the limit in all there is room in either class; only a fuller mailbox
        // has its files read to count the class.
        let total = names.len();
        if total >= self.limit {
            let system = count_system(&dir)?;
            let same_class = match class {
                MailClass::System => system,
                MailClass::Player => total - system,
            };
            if same_class >= self.limit {
                return Err(StoreError::Full);
            }
        }
        for _ in 0..KEY_ATTEMPTS {
            let (key, secs) = self.unique_key();
            // rename() replaces silently: a name already delivered must never be reused.
            if names.iter().any(|name| key_of(name) == key.as_str()) {
                continue;
            }
            let text = message::render_as(key.as_str(), secs, mail, class);
            let tmp_path = dir.join("tmp").join(key.as_str());
            match write_synced(&tmp_path, text.as_bytes()) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                written => {
                    let committed = written
                        .and_then(|()| fs::rename(&tmp_path, dir.join("new").join(key.as_str())))
                        .and_then(|()| sync_dir(&dir.join("new")));
                    if let Err(e) = committed {
                        let _ = fs::remove_file(&tmp_path);
                        return Err(e.into());
                    }
                    return Ok(key);
                }
            }
        }
        Err(io::Error::other("no unused key: is the host name shared by replicas?").into())
    }

    /// The unread mails that arrived since the last read, moved to `cur/` (oldest first).
    pub fn take_new(&self, mailbox: &MailboxId) -> Result<Listing, StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let Some(_guard) = self.lock(mailbox, &dir)? else {
            return Ok(Listing::default());
        };
        if !dir.join("new").is_dir() {
            return Ok(Listing::default());
        }
        clean_tmp(&dir.join("tmp"));
        let moved = move_new_to_cur(&dir)?;
        let mut mails = Vec::with_capacity(moved.len());
        for entry in &moved {
            if let Some(mail) = read_mail(&dir.join("cur"), entry) {
                mails.push(mail);
            }
        }
        mails.sort_by_key(|m| key_order(&m.message.key));
        Ok(Listing {
            mails,
            count: count_files(&dir)?,
        })
    }

    /// Every mail of the mailbox, newest first; new ones are moved to `cur/` on the way.
    pub fn list_all(&self, mailbox: &MailboxId) -> Result<Listing, StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let Some(_guard) = self.lock(mailbox, &dir)? else {
            return Ok(Listing::default());
        };
        if !dir.join("new").is_dir() {
            return Ok(Listing::default());
        }
        clean_tmp(&dir.join("tmp"));
        move_new_to_cur(&dir)?;
        let cur = dir.join("cur");
        let mut mails: Vec<StoredMail> = cur_entries(&cur)?
            .iter()
            .filter_map(|entry| read_mail(&cur, entry))
            .collect();
        mails.sort_by_key(|m| std::cmp::Reverse(key_order(&m.message.key)));
        Ok(Listing {
            mails,
            count: count_files(&dir)?,
        })
    }

    /// Adds the seen flag (`S`); a mail still in `new/` moves to `cur/` at the same time.
    pub fn mark_read(&self, mailbox: &MailboxId, key: &MailKey) -> Result<(), StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let _guard = self.lock(mailbox, &dir)?.ok_or(StoreError::NoSuchMail)?;
        let cur = dir.join("cur");
        let in_new = dir.join("new").join(key.as_str());
        if in_new.is_file() {
            fs::rename(&in_new, cur.join(format!("{key}{INFO_PREFIX}S")))?;
            sync_dir(&cur)?;
            sync_dir(&dir.join("new"))?;
            return Ok(());
        }
        let entry = find_in_cur(&cur, key)?.ok_or(StoreError::NoSuchMail)?;
        if !entry.flags.contains('S') {
            let flags = with_flag(&entry.flags, 'S');
            fs::rename(
                cur.join(&entry.file_name),
                cur.join(format!("{key}{INFO_PREFIX}{flags}")),
            )?;
            sync_dir(&cur)?;
        }
        Ok(())
    }

    pub fn delete(&self, mailbox: &MailboxId, key: &MailKey) -> Result<(), StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let _guard = self.lock(mailbox, &dir)?.ok_or(StoreError::NoSuchMail)?;
        let in_new = dir.join("new").join(key.as_str());
        if in_new.is_file() {
            fs::remove_file(&in_new)?;
            sync_dir(&dir.join("new"))?;
            return Ok(());
        }
        let cur = dir.join("cur");
        let entry = find_in_cur(&cur, key)?.ok_or(StoreError::NoSuchMail)?;
        fs::remove_file(cur.join(&entry.file_name))?;
        sync_dir(&cur)?;
        Ok(())
    }

    /// Deletes every mail flagged seen; returns their keys (in no particular order).
    pub fn delete_read(&self, mailbox: &MailboxId) -> Result<Vec<String>, StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let Some(_guard) = self.lock(mailbox, &dir)? else {
            return Ok(Vec::new());
        };
        let cur = dir.join("cur");
        if !cur.is_dir() {
            return Ok(Vec::new());
        }
        let mut deleted = Vec::new();
        for entry in cur_entries(&cur)? {
            if entry.flags.contains('S') {
                match fs::remove_file(cur.join(&entry.file_name)) {
                    Ok(()) => deleted.push(entry.key),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if !deleted.is_empty() {
            sync_dir(&cur)?;
        }
        Ok(deleted)
    }

    /// Mails in `new/` and `cur/` together.
    pub fn count(&self, mailbox: &MailboxId) -> Result<usize, StoreError> {
        let dir = self.mailbox_dir(mailbox);
        let Some(_guard) = self.lock(mailbox, &dir)? else {
            return Ok(0);
        };
        Ok(count_files(&dir)?)
    }

    /// Readiness: the root accepts a new file (the volume is mounted and writable) and
    /// that file can be locked (a volume without locks would break the limit).
    pub fn check_writable(&self) -> io::Result<()> {
        // A leading dot: no world name can collide with the probe. Host and pid: replicas
        // share the root, and in containers every one of them is pid 1.
        let probe = self
            .root
            .join(format!(".readyz-probe-{}-{}", self.host, self.pid));
        let result = fs::write(&probe, b"ok").and_then(|()| {
            match crate::lock::try_lock(&File::open(&probe)?)? {
                true => Ok(()),
                false => Err(io::Error::other("probe file locked")),
            }
        });
        let _ = fs::remove_file(&probe);
        result
    }

    fn lock(&self, mailbox: &MailboxId, dir: &Path) -> io::Result<Option<MailboxGuard<'_>>> {
        self.locks.lock(mailbox, dir)
    }

    /// `<secs>.M<micros>P<pid>Q<counter>.<host>` and the seconds it was made at.
    fn unique_key(&self) -> (MailKey, u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let counter = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            counter,
            self.host
        );
        let key = MailKey::new(&name).expect("our own key shape passes its check");
        (key, now.as_secs())
    }

    fn ensure_mailbox(&self, mailbox: &MailboxId, dir: &Path) -> io::Result<()> {
        if ["tmp", "new", "cur"].iter().all(|d| dir.join(d).is_dir()) {
            return Ok(());
        }
        create_dir_durably(&self.root.join(mailbox.world()))?;
        create_dir_durably(dir)?;
        for sub in ["tmp", "new", "cur"] {
            create_dir_durably(&dir.join(sub))?;
        }
        Ok(())
    }
}

/// Creates `path` if missing and fsyncs its parent so the new entry survives power loss.
fn create_dir_durably(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Ok(()) => {
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = path.parent().ok_or(e)?;
            create_dir_durably(parent)?;
            create_dir_durably(path)
        }
        Err(e) => Err(e),
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Names of the visible files of a directory (Maildir ignores dot files).
fn file_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name();
        if let Some(name) = name.to_str() {
            if !name.starts_with('.') {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

fn count_files(mailbox_dir: &Path) -> io::Result<usize> {
    Ok(mailbox_names(mailbox_dir)?.len())
}

/// The names of the mails in `new/` and `cur/`: what counts against the limit.
fn mailbox_names(mailbox_dir: &Path) -> io::Result<Vec<String>> {
    let mut names = file_names(&mailbox_dir.join("new"))?;
    names.extend(file_names(&mailbox_dir.join("cur"))?);
    Ok(names)
}

/// The key part of a `new/` or `cur/` file name (before the `:2,` info).
fn key_of(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or_default()
}

fn mailbox_gone() -> StoreError {
    StoreError::Io(io::Error::new(
        io::ErrorKind::NotFound,
        "mailbox removed during the delivery",
    ))
}

/// System mails in `new/` and `cur/` (files that cannot be read count as player mail).
fn count_system(mailbox_dir: &Path) -> io::Result<usize> {
    let mut system = 0;
    for sub in ["new", "cur"] {
        let dir = mailbox_dir.join(sub);
        for name in file_names(&dir)? {
            if fs::read(dir.join(name)).is_ok_and(|raw| message::is_system(&raw)) {
                system += 1;
            }
        }
    }
    Ok(system)
}

/// The `cur/` entries whose key has our shape; anything else is left alone.
fn cur_entries(cur: &Path) -> io::Result<Vec<CurEntry>> {
    Ok(file_names(cur)?
        .into_iter()
        .filter_map(|file_name| {
            let (key, flags) = match file_name.split_once(INFO_PREFIX) {
                Some((key, flags)) => (key.to_string(), flags.to_string()),
                None => (file_name.clone(), String::new()),
            };
            check_key(&key).ok()?;
            Some(CurEntry {
                file_name,
                key,
                flags,
            })
        })
        .collect())
}

fn find_in_cur(cur: &Path, key: &MailKey) -> io::Result<Option<CurEntry>> {
    Ok(cur_entries(cur)?
        .into_iter()
        .find(|entry| entry.key == key.as_str()))
}

/// Moves every file of `new/` into `cur/` with an empty info suffix; returns them.
fn move_new_to_cur(mailbox_dir: &Path) -> io::Result<Vec<CurEntry>> {
    let new = mailbox_dir.join("new");
    let cur = mailbox_dir.join("cur");
    let mut moved = Vec::new();
    for name in file_names(&new)? {
        let key = key_of(&name).to_string();
        if check_key(&key).is_err() {
            continue;
        }
        let file_name = format!("{key}{INFO_PREFIX}");
        match fs::rename(new.join(&name), cur.join(&file_name)) {
            Ok(()) => moved.push(CurEntry {
                file_name,
                key,
                flags: String::new(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if !moved.is_empty() {
        sync_dir(&cur)?;
        sync_dir(&new)?;
    }
    Ok(moved)
}

/// Reads and parses one `cur/` file; a file that does not parse is logged and skipped.
fn read_mail(cur: &Path, entry: &CurEntry) -> Option<StoredMail> {
    let path = cur.join(&entry.file_name);
    let raw = match fs::read(&path) {
        Ok(raw) => raw,
        Err(e) => {
            shared::warn!("cannot read mail", path = path.display(), error = e);
            return None;
        }
    };
    match message::parse(&raw) {
        Ok(mut parsed) => {
            // The file name is the authority: a copied file keeps its own name as key.
            parsed.key = entry.key.clone();
            Some(StoredMail {
                message: parsed,
                read: entry.flags.contains('S'),
            })
        }
        Err(e) => {
            shared::warn!("unreadable mail skipped", path = path.display(), error = e);
            None
        }
    }
}

/// `flags` plus `flag`, sorted ASCII order as Maildir requires.
fn with_flag(flags: &str, flag: char) -> String {
    let mut all: Vec<char> = flags.chars().filter(|c| *c != flag).collect();
    all.push(flag);
    all.sort_unstable();
    all.into_iter().collect()
}

/// Deletes tmp files left by crashed deliveries. Called with the mailbox locked: every
/// delivery writes its tmp file under that lock, so a key-named file here belongs to no
/// delivery in progress, whichever process made it. Other files (another tool's) go after
/// the Maildir convention's 36 hours.
fn clean_tmp(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| check_key(n).is_ok())
        {
            let _ = fs::remove_file(entry.path());
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_TMP_AGE);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(subject: &str) -> Mail {
        Mail {
            kind: crate::message::MailType::Simple,
            from: "tester".into(),
            subject: subject.into(),
            body: "body".into(),
            items: vec![],
        }
    }

    fn temp_store(limit: usize) -> (testkit::TempDir, Maildir) {
        let dir = testkit::TempDir::new("mail-store");
        let store = Maildir::open(&dir.path().join("root"), limit).unwrap();
        (dir, store)
    }

    #[test]
    fn delivery_lands_in_new_with_a_unique_key() {
        let (_dir, store) = temp_store(10);
        let mb = MailboxId::new("s0", "u1").unwrap();
        let a = store.deliver(&mb, &mail("a")).unwrap();
        let b = store.deliver(&mb, &mail("b")).unwrap();
        assert_ne!(a, b);
        let new = store.mailbox_dir(&mb).join("new");
        assert!(new.join(a.as_str()).is_file());
        assert!(new.join(b.as_str()).is_file());
        assert!(file_names(&store.mailbox_dir(&mb).join("tmp"))
            .unwrap()
            .is_empty());
        assert_eq!(store.count(&mb).unwrap(), 2);
    }

    #[test]
    fn reading_moves_new_to_cur_with_info_suffix() {
        let (_dir, store) = temp_store(10);
        let mb = MailboxId::new("s0", "u1").unwrap();
        let a = store.deliver(&mb, &mail("first")).unwrap();
        let b = store.deliver(&mb, &mail("second")).unwrap();
        let listing = store.take_new(&mb).unwrap();
        let subjects: Vec<&str> = listing
            .mails
            .iter()
            .map(|m| m.message.mail.subject.as_str())
            .collect();
        assert_eq!(subjects, ["first", "second"]);
        assert_eq!(listing.count, 2);
        let cur = store.mailbox_dir(&mb).join("cur");
        assert!(cur.join(format!("{a}:2,")).is_file());
        assert!(cur.join(format!("{b}:2,")).is_file());
        assert!(store.take_new(&mb).unwrap().mails.is_empty());

        let c = store.deliver(&mb, &mail("third")).unwrap();
        let all = store.list_all(&mb).unwrap();
        let keys: Vec<&str> = all.mails.iter().map(|m| m.message.key.as_str()).collect();
        assert_eq!(keys, [c.as_str(), b.as_str(), a.as_str()]);
        assert!(all.mails.iter().all(|m| !m.read));
    }

    #[test]
    fn mark_read_delete_and_delete_read() {
        let (_dir, store) = temp_store(10);
        let mb = MailboxId::new("s0", "u1").unwrap();
        let a = store.deliver(&mb, &mail("a")).unwrap();
        let b = store.deliver(&mb, &mail("b")).unwrap();
        let c = store.deliver(&mb, &mail("c")).unwrap();
        store.mark_read(&mb, &a).unwrap(); // straight from new/
        store.list_all(&mb).unwrap();
        store.mark_read(&mb, &b).unwrap(); // from cur/
        store.mark_read(&mb, &b).unwrap(); // idempotent
        let cur = store.mailbox_dir(&mb).join("cur");
        assert!(cur.join(format!("{a}:2,S")).is_file());
        assert!(cur.join(format!("{b}:2,S")).is_file());
        let read: Vec<bool> = store
            .list_all(&mb)
            .unwrap()
            .mails
            .iter()
            .map(|m| m.read)
            .collect();
        assert_eq!(read, [false, true, true]);

        store.delete(&mb, &c).unwrap();
        assert!(matches!(store.delete(&mb, &c), Err(StoreError::NoSuchMail)));
        assert!(matches!(
            store.mark_read(&mb, &c),
            Err(StoreError::NoSuchMail)
        ));
        let mut deleted = store.delete_read(&mb).unwrap();
        deleted.sort();
        let mut read = [a.to_string(), b.to_string()];
        read.sort();
        assert_eq!(deleted, read);
        assert_eq!(store.count(&mb).unwrap(), 0);
        assert!(store.delete_read(&mb).unwrap().is_empty());
    }

    #[test]
    fn flags_stay_sorted_when_other_tools_set_some() {
        assert_eq!(with_flag("", 'S'), "S");
        assert_eq!(with_flag("RF", 'S'), "FRS");
        assert_eq!(with_flag("FT", 'S'), "FST");
        assert_eq!(with_flag("S", 'S'), "S");
    }

    #[test]
    fn player_and_system_mail_each_have_the_limit() {
        let (_dir, store) = temp_store(2);
        let mb = MailboxId::new("s0", "u1").unwrap();
        store.deliver(&mb, &mail("p1")).unwrap();
        store.deliver(&mb, &mail("p2")).unwrap();
        let full = store.deliver(&mb, &mail("p3"));
        assert!(matches!(full, Err(StoreError::Full)));
        // Players filled it: system mail still arrives, up to its own limit, read or not.
        let s1 = store
            .deliver_as(&mb, &mail("s1"), MailClass::System)
            .unwrap();
        store.list_all(&mb).unwrap();
        store
            .deliver_as(&mb, &mail("s2"), MailClass::System)
            .unwrap();
        let full = store.deliver_as(&mb, &mail("s3"), MailClass::System);
        assert!(matches!(full, Err(StoreError::Full)));
        assert!(matches!(
            store.deliver(&mb, &mail("p3")),
            Err(StoreError::Full)
        ));
        assert_eq!(store.count(&mb).unwrap(), 4);
        // Room made in one class is that class's.
        store.delete(&mb, &s1).unwrap();
        assert!(matches!(
            store.deliver(&mb, &mail("p3")),
            Err(StoreError::Full)
        ));
        store
            .deliver_as(&mb, &mail("s3"), MailClass::System)
            .unwrap();
        // System mail below the limit in all leaves the players their whole limit.
        let other = MailboxId::new("s0", "u2").unwrap();
        store
            .deliver_as(&other, &mail("s"), MailClass::System)
            .unwrap();
        store.deliver(&other, &mail("p1")).unwrap();
        store.deliver(&other, &mail("p2")).unwrap();
        assert!(matches!(
            store.deliver(&other, &mail("p3")),
            Err(StoreError::Full)
        ));
    }

    #[test]
    fn a_full_mailbox_refuses_and_unknown_mailboxes_read_empty() {
        let (_dir, store) = temp_store(2);
        let mb = MailboxId::new("s0", "u1").unwrap();
        store.deliver(&mb, &mail("a")).unwrap();
        store.deliver(&mb, &mail("b")).unwrap();
        assert!(matches!(
            store.deliver(&mb, &mail("c")),
            Err(StoreError::Full)
        ));
        store.take_new(&mb).unwrap();
        assert!(matches!(
            store.deliver(&mb, &mail("c")),
            Err(StoreError::Full)
        ));

        let nobody = MailboxId::new("s0", "nobody").unwrap();
        assert_eq!(store.list_all(&nobody).unwrap().mails.len(), 0);
        assert_eq!(store.take_new(&nobody).unwrap().count, 0);
        assert!(store.delete_read(&nobody).unwrap().is_empty());
        let key = MailKey::new("1.M1P1Q1.h").unwrap();
        assert!(matches!(
            store.delete(&nobody, &key),
            Err(StoreError::NoSuchMail)
        ));
        assert!(!store.mailbox_dir(&nobody).exists(), "reads create nothing");
    }

    #[test]
    fn foreign_and_hidden_files_are_left_alone() {
        let (_dir, store) = temp_store(10);
        let mb = MailboxId::new("s0", "u1").unwrap();
        store.deliver(&mb, &mail("a")).unwrap();
        let dir = store.mailbox_dir(&mb);
        fs::write(dir.join("cur").join(".hidden"), "x").unwrap();
        fs::write(dir.join("cur").join("1.M1P1Q9.h:2,"), "not a message").unwrap();
        let all = store.list_all(&mb).unwrap();
        assert_eq!(all.mails.len(), 1, "the unparseable one is skipped");
        assert_eq!(all.count, 2, "but it still counts against the limit");
    }

    /// Two stores on one root are two replicas on one volume: only the flock is shared.
    fn two_stores(limit: usize) -> (testkit::TempDir, Arc<Maildir>, Arc<Maildir>) {
        let (dir, a) = temp_store(limit);
        let b = Maildir::open(&dir.path().join("root"), limit).unwrap();
        (dir, Arc::new(a), Arc::new(b))
    }

    use std::sync::{Arc, Barrier};

    #[test]
    fn two_stores_on_one_root_keep_the_limit_exact() {
        const LIMIT: usize = 5;
        const MAILBOXES: usize = 10;
        let (_dir, a, b) = two_stores(LIMIT);
        let barrier = Arc::new(Barrier::new(12));
        // All threads reach each mailbox's limit together: 36 sends race for 5 places.
        let threads: Vec<_> = (0..12)
            .map(|t| {
                let store = if t % 2 == 0 { a.clone() } else { b.clone() };
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut results = Vec::new();
                    for m in 0..MAILBOXES {
                        let mb = MailboxId::new("s0", &format!("u{m}")).unwrap();
                        barrier.wait();
                        for i in 0..3 {
                            let sent = store.deliver(&mb, &mail(&format!("{t}-{i}")));
                            results.push((m, sent));
                        }
                    }
                    results
                })
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        for m in 0..MAILBOXES {
            let mb = MailboxId::new("s0", &format!("u{m}")).unwrap();
            let keys: std::collections::HashSet<String> = results
                .iter()
                .filter(|(rm, _)| *rm == m)
                .filter_map(|(_, r)| r.as_ref().ok().map(|k| k.to_string()))
                .collect();
            assert_eq!(keys.len(), LIMIT, "u{m}: exactly the limit, each key once");
            let full = results
                .iter()
                .filter(|(rm, r)| *rm == m && matches!(r, Err(StoreError::Full)))
                .count();
            assert_eq!(
                full,
                36 - LIMIT,
                "u{m}: the rest refused as full, none failed"
            );
            assert_eq!(a.count(&mb).unwrap(), LIMIT);
            let listed: std::collections::HashSet<String> = b
                .list_all(&mb)
                .unwrap()
                .mails
                .into_iter()
                .map(|m| m.message.key)
                .collect();
            assert_eq!(listed, keys);
        }
    }

    #[test]
    fn two_stores_take_and_delete_each_mail_once() {
        let (_dir, a, b) = two_stores(100);
        let mb = MailboxId::new("s0", "u1").unwrap();
        let sent: Vec<MailKey> = (0..40)
            .map(|i| a.deliver(&mb, &mail(&i.to_string())).unwrap())
            .collect();
        let race = |work: fn(&Maildir, &MailboxId, &MailKey) -> Result<(), StoreError>| {
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = [a.clone(), b.clone()]
                .into_iter()
                .map(|store| {
                    let (mb, sent, barrier) = (mb.clone(), sent.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        sent.iter()
                            .map(|key| work(&store, &mb, key))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<Vec<_>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let second = all.pop().unwrap();
            all.pop()
                .unwrap()
                .into_iter()
                .zip(second)
                .collect::<Vec<_>>()
        };
        // Half the mails still in new/ when marked, half already moved by a read.
        let taken = a.take_new(&mb).unwrap().mails.len();
        assert_eq!(taken, 40);
        for i in 0..20 {
            a.deliver(&mb, &mail(&format!("late {i}"))).unwrap();
        }
        // Reads through both at once: each new mail is handed out by exactly one of them.
        let (ra, rb) = std::thread::scope(|s| {
            let ha = s.spawn(|| a.take_new(&mb).unwrap());
            let hb = s.spawn(|| b.take_new(&mb).unwrap());
            (ha.join().unwrap(), hb.join().unwrap())
        });
        assert_eq!(ra.mails.len() + rb.mails.len(), 20);
        for (x, y) in race(|s, mb, k| s.mark_read(mb, k)) {
            assert!(x.is_ok() && y.is_ok(), "{x:?} {y:?}");
        }
        for (x, y) in race(|s, mb, k| s.delete(mb, k)) {
            let once = matches!(
                (&x, &y),
                (Ok(()), Err(StoreError::NoSuchMail)) | (Err(StoreError::NoSuchMail), Ok(()))
            );
            assert!(
                once,
                "deleted once, the other says no such mail: {x:?} {y:?}"
            );
        }
        assert_eq!(b.count(&mb).unwrap(), 20);
    }

    #[test]
    fn leftover_tmp_files_go_at_the_next_read() {
        let (_dir, store) = temp_store(10);
        let mb = MailboxId::new("s0", "u1").unwrap();
        store.deliver(&mb, &mail("a")).unwrap();
        let tmp = store.mailbox_dir(&mb).join("tmp");
        // What a delivery killed between write and rename leaves, in any process.
        fs::write(tmp.join("1.M1P999999Q1.other-host"), "partial").unwrap();
        fs::write(tmp.join("not-ours"), "another tool's").unwrap();
        assert_eq!(store.list_all(&mb).unwrap().mails.len(), 1);
        assert_eq!(file_names(&tmp).unwrap(), ["not-ours"]);
    }

    #[test]
    fn readiness_probe_sees_a_writable_root() {
        let (_dir, store) = temp_store(1);
        store.check_writable().unwrap();
        fs::remove_dir_all(store.root()).unwrap();
        assert!(store.check_writable().is_err());
    }
}
