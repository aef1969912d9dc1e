//! The original's mailboxes to ours: each mail re-encoded under its key, durably, and the
//! acceptance of a gift, friend request or family request still pending registered with
//! our auth (and the sender's pending marker in our Redis).

#[allow(unused_imports)]
use super::*;

/// Converts the mailboxes under `world_dir` (`<source>/.<world>`) of migrated players
/// into `<target>/<db>/<uid>/`, keeping each mail's key and read state.
#[allow(clippy::too_many_arguments)]
pub(crate) fn migrate_mail(
    world_dir: &Path,
    target_root: &Path,
    db: &str,
    merged_from: &[String],
    done: &WorldDone,
    options: &Options,
    redis: Option<&RedisPool>,
    report: &mut Report,
) -> Result<(), MigrateError> {
    let players = &done.players;
    let table = "mail";
    let dry_run = options.dry_run;
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| MigrateError::Maildir(p, e)
    };
    let entries = match fs::read_dir(world_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(MigrateError::Maildir(world_dir.to_path_buf(), e)),
    };
    let mut boxes: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(world_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(uid) = name.strip_prefix('.') {
            if entry.path().is_dir() {
                boxes.push((uid.to_string(), entry.path()));
            }
        }
    }
    boxes.sort();
    for (folder_uid, dir) in boxes {
        let uid = map::unmerged_uid(&folder_uid, merged_from, |u| players.contains(u));
        let files = mail_files(&dir).map_err(io_err(&dir))?;
        let mailbox = if players.contains(&uid) {
            mail::names::MailboxId::new(db, &uid).ok()
        } else {
            None
        };
        let Some(mailbox) = mailbox else {
            for (path, _) in files {
                report.tally.read(table, 1);
                report.tally.skip(
                    table,
                    path.display().to_string(),
                    "mailbox of no migrated player (or a uid our store cannot name)",
                );
            }
            continue;
        };
        let out_dir = target_root.join(mailbox.world()).join(mailbox.uid());
        let mut wrote = false;
        for (path, in_cur) in files {
            report.tally.read(table, 1);
            let file_name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let (key, flags) = original_mail::split_file_name(&file_name);
            let key = if mail::names::check_key(key).is_ok() {
                key.to_string()
            } else {
                derived_key(&file_name)
            };
            if !dry_run && already_there(&out_dir, &key).map_err(io_err(&out_dir))? {
                report.mails_done_before += 1;
                continue;
            }
            let shown = path.display().to_string();
            let raw = fs::read(&path).map_err(io_err(&path))?;
            let original = match original_mail::parse(&raw) {
                Ok(m) => m,
                Err(e) => {
                    report.tally.skip(table, shown, e.to_string());
                    continue;
                }
            };
            let secs = original
                .time
                .as_deref()
                .and_then(map::original_time)
                .or_else(|| key.split('.').next().and_then(|s| s.parse().ok()))
                .unwrap_or_else(now_secs)
                .max(0) as u64;
            let mut from = original.from.clone();
            if from.trim().is_empty() {
                from = "system".into();
                report
                    .tally
                    .repair(table, shown.clone(), "empty sender: \"system\"");
            }
            let checked = mail::api::checked_mail(
                original.kind,
                from,
                original.subj,
                original.body,
                original.items,
            );
            let mail = match checked {
                Ok(m) => m,
                Err(why) => {
                    report.tally.skip(table, shown, why);
                    continue;
                }
            };
            let class = if mail.kind == MailType::Gift {
                MailClass::System
            } else {
                MailClass::Player
            };
            // A request still pending in the original gets its acceptance with us before
            // the mail is written, so a crash in between leaves a nonce that the next run
            // finds registered. Accepting a gift marked it read, so only an unread gift is
            // pending; accepting a friend or family request deleted its mail, so one that
            // is still there is pending, read or not.
            let unread = !(in_cur && flags.contains('S'));
            let pending = match mail.kind {
                MailType::Gift => unread,
                MailType::FriendRequest | MailType::FamilyRequest => true,
                _ => false,
            };
            if pending {
                match acceptance(options, redis, db, &uid, &key, &mail, done) {
                    Ok(()) => report.tally.written("request_nonce", 1),
                    Err(why) => report.tally.repair(table, shown.clone(), why),
                }
            }
            let text = mail::message::render_as(&key, secs, &mail, class);
            if !dry_run {
                write_mail(&out_dir, &key, in_cur, flags, text.as_bytes())
                    .map_err(io_err(&out_dir))?;
                wrote = true;
            }
            report.tally.written(table, 1);
            report.mails_converted += 1;
        }
        if wrote {
            for sub in ["new", "cur"] {
                sync_dir(&out_dir.join(sub)).map_err(io_err(&out_dir))?;
            }
        }
    }
    Ok(())
}

/// Registers the acceptance of a pending gift, friend or family request (not in a dry
/// run); why not, if it cannot. The payload is what our game gives such a request:
/// - a friend request names its sender by game name (`from`): the player of that name,
///   who must have a pending `friend` row to the recipient;
/// - a family invitation (subject `FAMILY_INVITATION`) names its family (`from`); the
///   original did not keep who invited, so the family's owner is the inviter;
/// - a join request (`FAMILY_REQUEST`) names its applicant (`from`) and went to an
///   official of the recipient's family.
pub(crate) fn acceptance(
    options: &Options,
    redis: Option<&RedisPool>,
    world: &str,
    uid: &str,
    key: &str,
    mail: &mail::message::Mail,
    done: &WorldDone,
) -> Result<(), String> {
    use worker::modules::family::{INVITATION_SUBJECT, JOIN_REQUEST_SUBJECT};
    use worker::modules::item::Item;
    use worker::modules::mail::request::{register_imported, RequestKind, RequestMail};
    let what = match mail.kind {
        MailType::Gift => "unread gift",
        MailType::FriendRequest => "friend request",
        _ => "family request",
    };
    let fail = |why: String| format!("{what} carried as mail only: {why}");
    let items: Vec<Item> = mail
        .items
        .iter()
        .map(|i| Item::parse(i))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let mut payload = serde_json::Map::new();
    let mut field = |name: &str, value: &str| payload.insert(name.into(), value.into());
    let (kind, sender) = match mail.kind {
        MailType::Gift => (RequestKind::Gift, None),
        MailType::FriendRequest => {
            let sender = done
                .pending
                .get(uid)
                .and_then(|r| r.get(&mail.from))
                .ok_or_else(|| fail(format!("no pending request from {:?}", mail.from)))?;
            field("requester", sender);
            (RequestKind::FriendRequest, Some(sender.clone()))
        }
        _ if mail.subject == INVITATION_SUBJECT => {
            let owner = done
                .owners
                .get(&mail.from)
                .ok_or_else(|| fail(format!("no family {:?} with an owner", mail.from)))?;
            let fid = map::family_id(world, &mail.from);
            field("fid", &fid);
            field("inviter", owner);
            (RequestKind::FamilyInvite, Some(fid))
        }
        _ if mail.subject == JOIN_REQUEST_SUBJECT => {
            let applicant = done
                .names
                .get(&mail.from)
                .ok_or_else(|| fail(format!("no player named {:?}", mail.from)))?;
            let (family, _) = done
                .members
                .get(uid)
                .ok_or_else(|| fail("its recipient is in no family".into()))?;
            field("fid", &map::family_id(world, family));
            field("applicant", applicant);
            (RequestKind::FamilyRequest, Some(applicant.clone()))
        }
        _ => {
            return Err(fail(format!(
                "subject {:?} is neither an invitation nor a join request",
                mail.subject
            )))
        }
    };
    let Some(auth) = &options.auth_url else {
        return Err(fail("no --auth-url".into()));
    };
    if options.dry_run {
        return Ok(());
    }
    let request = RequestMail {
        world,
        target_uid: uid,
        kind,
        from: &mail.from,
        sender: sender.as_deref(),
        subj: &mail.subject,
        body: &mail.body,
        items: &items,
        payload,
    };
    register_imported(auth, redis, key, &request)
        .map(|_| ())
        .map_err(fail)
}

/// The mail files of one original mailbox: (path, whether in `cur/`), sorted.
pub(crate) fn mail_files(dir: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for (sub, in_cur) in [("new", false), ("cur", true)] {
        let entries = match fs::read_dir(dir.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with('.') && entry.path().is_file() {
                out.push((entry.path(), in_cur));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A key of our form for a file whose name is not one: from the name's hash, so a
/// second run finds it again.
pub(crate) fn derived_key(file_name: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(file_name.as_bytes());
    let n = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    format!(
        "{}.M{}P0Q{}.migrated",
        n(0) % 2_000_000_000,
        n(4) % 1_000_000,
        n(8)
    )
}

pub(crate) fn already_there(out_dir: &Path, key: &str) -> io::Result<bool> {
    if out_dir.join("new").join(key).exists() {
        return Ok(true);
    }
    match fs::read_dir(out_dir.join("cur")) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name();
                if original_mail::split_file_name(&name.to_string_lossy()).0 == key {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `tmp/<key>`, fsyncs it and renames it into `new/<key>` or `cur/<key>:2,<flags>`
/// (the mail service's layout, docs/mail.md).
pub(crate) fn write_mail(
    out_dir: &Path,
    key: &str,
    in_cur: bool,
    flags: &str,
    text: &[u8],
) -> io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(out_dir.join(sub))?;
    }
    let tmp = out_dir.join("tmp").join(key);
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
    }
    let dest = if in_cur {
        let mut flags: Vec<char> = flags.chars().filter(char::is_ascii_alphabetic).collect();
        flags.sort_unstable();
        flags.dedup();
        let flags: String = flags.into_iter().collect();
        out_dir.join("cur").join(format!("{key}:2,{flags}"))
    } else {
        out_dir.join("new").join(key)
    };
    fs::rename(&tmp, dest)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    match fs::File::open(dir) {
        Ok(f) => f.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
