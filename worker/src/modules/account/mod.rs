//! Accounts: register, guest login by device id, login, binding credentials to a guest,
//! account info, entering a world, and (in [`contact`]) binding an email address or phone
//! number with a verification code.
//!
//! Accounts are global; the `unique_id` is the `uid` of every token. The statuses are the
//! original's (tables in `modules/enums.rs`). Unlike the original, `register` never
//! overwrites the credentials of a `unique_id` that has them (an account takeover there):
//! it answers 2, like `login_unique`.

pub mod contact;
pub mod limits;
pub mod password;

use std::sync::OnceLock;

use auth::jwt::TokenKind;
use auth::tokens::{is_admin_uid, ADMIN_UID_PREFIX};
use mysql::prelude::Queryable;
use serde_json::{Map, Value};

use crate::db::duplicate_key;
use crate::function::{check_text, data, ok, Account, Args, FnError, ModuleStatus, Outcome};
use crate::function::{Context, Reply};
use crate::modules::common::transaction;
use crate::modules::enums::{
    AccountStatus, BindAccountStatus, EnterWorldStatus, LoginStatus, LoginUniqueStatus,
    RegisterStatus,
};

const UNIQUE_ID_CHARS: (usize, usize) = (1, 64);
const ACCOUNT_CHARS: (usize, usize) = (3, 32);
const PASSWORD_CHARS: (usize, usize) = (6, 64);

fn no_account() -> FnError {
    AccountStatus::NoSuchAccount.into()
}

/// Why a `unique_id` in the operators' namespace is refused.
fn reserved_for_operators() -> String {
    format!("unique_ids beginning with {ADMIN_UID_PREFIX:?} are reserved for operators")
}

/// The unique_id rules: no space (the original's only rule, its status), then our bounds
/// (length, control characters, whitespace at either end), and not in the operators'
/// namespace (issue 16: no player id may equal an admin id), all answered with `status`.
fn check_unique_id(unique_id: &str, status: impl ModuleStatus) -> Result<(), FnError> {
    if unique_id.contains(' ') {
        return Err(status.into());
    }
    if is_admin_uid(unique_id) {
        return Err(FnError::module(status, reserved_for_operators()));
    }
    let (min, max) = UNIQUE_ID_CHARS;
    check_text("unique_id", unique_id, min, max, status)
}

/// The account name as stored: lower-cased, as the original did (`Bob` registers `bob`).
fn account_name(account: &str) -> String {
    account.to_lowercase()
}

/// Checks an account name and a password; each failure is answered with its own status.
fn check_credentials(
    account: &str,
    password: &str,
    bad_account: impl ModuleStatus,
    bad_password: impl ModuleStatus,
) -> Result<(), FnError> {
    check_text(
        "account",
        account,
        ACCOUNT_CHARS.0,
        ACCOUNT_CHARS.1,
        bad_account,
    )?;
    // Any character may be part of a password; only the length is checked.
    let chars = password.chars().count();
    if !(PASSWORD_CHARS.0..=PASSWORD_CHARS.1).contains(&chars) {
        return Err(FnError::module(
            bad_password,
            format!(
                "password must be {} to {} characters",
                PASSWORD_CHARS.0, PASSWORD_CHARS.1
            ),
        ));
    }
    Ok(())
}

fn issue_account_token(ctx: &Context, uid: &str) -> Result<String, FnError> {
    ctx.tokens
        .issue(uid, TokenKind::Account, None, None)
        .map(|(token, _)| token)
        .map_err(|e| FnError::Backend(e.to_string()))
}

/// A nullable text column as the original answered it: `""` when unset.
fn text(value: Option<String>) -> Value {
    Value::from(value.unwrap_or_default())
}

/// A unique_id for a `register` that sent `""` (the original made one too, but did not
/// answer it; we answer it in `unique_id`).
fn generated_unique_id() -> String {
    format!("lukseun{}", shared::ids::random_hex(16))
}

/// `register(unique_id, account, password)`: credentials for a new account (1) or for the
/// guest account of an existing `unique_id` (0). Answers `token`, `account`, `unique_id`.
pub fn register(ctx: &Context, args: &Args) -> Outcome {
    let unique_id = args.str("unique_id")?;
    let account = account_name(args.str("account")?);
    let password = args.str("password")?;
    let unique_id = match unique_id {
        "" => generated_unique_id(),
        given => {
            check_unique_id(given, RegisterStatus::InvalidUniqueId)?;
            given.to_string()
        }
    };
    check_credentials(
        &account,
        password,
        RegisterStatus::InvalidAccount,
        RegisterStatus::InvalidPassword,
    )?;
    let hash = password::hash_password(password, ctx.settings.pbkdf2_iterations);
    let name_taken = |e: mysql::Error| match duplicate_key(&e) {
        Some("accounts_account") => FnError::from(RegisterStatus::AccountTaken),
        _ => e.into(),
    };
    // Two single-statement transactions, so concurrent registers cannot deadlock: a new
    // row, else credentials for the guest row (only while it has none). The token is
    // issued inside: if Redis fails, nothing is kept.
    let inserted = transaction(ctx.accounts, |tx| {
        let insert = tx.exec_drop(
            "INSERT INTO accounts (unique_id, account, password) VALUES (?, ?, ?)",
            (&unique_id, &account, &hash),
        );
        match insert {
            Ok(()) => Ok(Some(issue_account_token(ctx, &unique_id)?)),
            Err(e) if duplicate_key(&e) == Some("PRIMARY") => Ok(None),
            Err(e) => Err(name_taken(e)),
        }
    })?;
    let (token, created) = match inserted {
        Some(token) => (token, true),
        None => transaction(ctx.accounts, |tx| {
            tx.exec_drop(
                "UPDATE accounts SET account = ?, password = ?
                 WHERE unique_id = ? AND account IS NULL AND password IS NULL",
                (&account, &hash, &unique_id),
            )
            .map_err(name_taken)?;
            if tx.affected_rows() != 1 {
                return Err(RegisterStatus::AccountBound.into());
            }
            Ok((issue_account_token(ctx, &unique_id)?, false))
        })?,
    };
    let answer = data([
        ("token", Value::from(token)),
        ("account", Value::from(account)),
        ("unique_id", Value::from(unique_id)),
    ]);
    Ok(match created {
        true => Reply::with(RegisterStatus::Created, answer),
        false => Reply::ok(answer),
    })
}

/// `login_unique(unique_id)`: guest login by device id, creating the guest when new (1).
/// A device id whose account has an account name and password answers 2 without a token:
/// otherwise knowing a device id would be as good as knowing the password.
pub fn login_unique(ctx: &Context, args: &Args) -> Outcome {
    let unique_id = args.str("unique_id")?;
    if unique_id.is_empty() {
        return Err(LoginUniqueStatus::EmptyUniqueId.into());
    }
    check_unique_id(unique_id, LoginUniqueStatus::InvalidUniqueId)?;
    let mut conn = ctx.accounts.conn()?;
    // An address out of new guests may still log in the guests it has: no INSERT then.
    let may_create = limits::guests_left(ctx)?;
    let created = may_create
        && match conn.exec_drop("INSERT INTO accounts (unique_id) VALUES (?)", (unique_id,)) {
            Ok(()) => true,
            Err(e) if duplicate_key(&e) == Some("PRIMARY") => false,
            Err(e) => return Err(e.into()),
        };
    if created && !limits::take_guest(ctx)? {
        // Concurrent creations from the address went past the budget: this one is undone.
        conn.exec_drop(
            "DELETE FROM accounts WHERE unique_id = ? AND account IS NULL AND password IS NULL",
            (unique_id,),
        )?;
        return Err(LoginUniqueStatus::TooManyGuests.into());
    }
    if !created {
        let row: Option<(Option<String>, Option<String>)> = conn.exec_first(
            "SELECT account, password FROM accounts WHERE unique_id = ?",
            (unique_id,),
        )?;
        match row {
            Some((None, None)) => {}
            Some(_) => return Err(LoginUniqueStatus::AccountBound.into()),
            None if !may_create => return Err(LoginUniqueStatus::TooManyGuests.into()),
            None => return Err(FnError::Backend("guest row vanished".into())),
        }
    }
    let answer = data([
        ("token", Value::from(issue_account_token(ctx, unique_id)?)),
        ("unique_id", Value::from(unique_id)),
    ]);
    Ok(match created {
        true => Reply::with(LoginUniqueStatus::Created, answer),
        false => Reply::ok(answer),
    })
}

/// The column an `identifier` names: a fixed string, never the client's text.
fn identifier_column(identifier: &str) -> Option<&'static str> {
    match identifier {
        "account" => Some("account"),
        "email" => Some("email"),
        "phone_number" => Some("phone_number"),
        _ => None,
    }
}

/// A hash to verify against when no account matched, so a miss costs as long as a hit.
fn decoy_hash(iterations: u32) -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| password::hash_password("decoy password", iterations))
}

type AccountRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The account `login` names: by the stored form of the value (account names lower-cased,
/// emails lower-cased, phone numbers normalised), then, for an account name stored before
/// names were lower-cased, exactly as sent.
fn find_login(
    conn: &mut impl Queryable,
    column: &str,
    value: &str,
) -> Result<Option<AccountRow>, FnError> {
    let stored = match column {
        "account" => account_name(value),
        "email" => contact::Kind::Email
            .stored_form(value)
            .unwrap_or_else(|_| value.to_string()),
        _ => contact::Kind::Phone
            .stored_form(value)
            .unwrap_or_else(|_| value.to_string()),
    };
    let query = format!(
        "SELECT unique_id, password, account, email, phone_number FROM accounts WHERE {column} = ?"
    );
    let mut row: Option<AccountRow> = conn.exec_first(&query, (&stored,))?;
    if row.is_none() && stored != value {
        row = conn.exec_first(&query, (value,))?;
    }
    Ok(row)
}

/// `login(identifier, value, password)` with identifier account | email | phone_number.
/// Answers `token`, `account`, `email`, `phone_number` (`""` when unset) and `unique_id`;
/// every failure is 1, after the same password work as a success. Over the failed-login
/// budget of the account named or of the client address: 2, with no password work at all.
pub fn login(ctx: &Context, args: &Args) -> Outcome {
    let identifier = args.str("identifier")?;
    let value = args.str("value")?;
    let password = args.str("password")?;
    let attempt = limits::LoginAttempt::begin(ctx, identifier, value)?;
    if !attempt.allowed {
        return Err(LoginStatus::TooManyFailures.into());
    }
    let row = match identifier_column(identifier) {
        Some(column) => find_login(&mut ctx.accounts.conn()?, column, value)?,
        None => None,
    };
    let refused = || FnError::from(LoginStatus::InvalidCredentials);
    let Some((unique_id, Some(stored), account, email, phone_number)) = row else {
        let _ = password::verify_password(password, decoy_hash(ctx.settings.pbkdf2_iterations));
        return Err(refused());
    };
    match password::verify_password(password, &stored) {
        // A row made before the namespace was reserved gets no token (its uid would be an
        // operator's): 85, until support moves it (docs/security.md).
        Ok(true) if is_admin_uid(&unique_id) => Err(FnError::module(
            AccountStatus::NoSuchAccount,
            reserved_for_operators(),
        )),
        Ok(true) => {
            if password::needs_rehash(&stored) {
                rehash(ctx, &unique_id, &stored, password)?;
            }
            ok(data([
                ("token", Value::from(issue_account_token(ctx, &unique_id)?)),
                ("account", text(account)),
                ("email", text(email)),
                ("phone_number", text(phone_number)),
                ("unique_id", Value::from(unique_id)),
            ]))
            .inspect(|_| attempt.succeeded(ctx))
        }
        Ok(false) => {
            // An imported original hash is quick to check; the decoy makes a refusal cost
            // what it costs for every other account, so timing tells no imported account.
            if password::needs_rehash(&stored) {
                let _ =
                    password::verify_password(password, decoy_hash(ctx.settings.pbkdf2_iterations));
            }
            Err(refused())
        }
        Err(e) => Err(FnError::Backend(format!("account {unique_id}: {e}"))),
    }
}

/// Replaces an imported original hash that `password` just matched with ours. Only if the
/// row still holds that hash: a password changed meanwhile is not overwritten.
fn rehash(ctx: &Context, unique_id: &str, stored: &str, password: &str) -> Result<(), FnError> {
    let hash = password::hash_password(password, ctx.settings.pbkdf2_iterations);
    ctx.accounts.conn()?.exec_drop(
        "UPDATE accounts SET password = ? WHERE unique_id = ? AND password = ?",
        (&hash, unique_id, stored),
    )?;
    Ok(())
}

/// Guest accounts `purge_guest_accounts` deletes in one call at most.
const PURGE_BATCH_MAX: i64 = 10_000;

/// `purge_guest_accounts(older_than_days?, limit?)` (admin): deletes guest accounts made
/// more than `older_than_days` (default 30, the account token's lifetime) ago that never
/// got credentials, an email, a phone number or a player in any world: what anonymous
/// `login_unique` calls leave behind. At most `limit` (default and maximum 10000) rows per
/// call; answers `purged`, and `more` (1 when the batch was full: call again). Such a
/// guest that comes back is simply created anew by `login_unique`.
pub fn purge_guest_accounts(ctx: &Context, _caller: &Account, args: &Args) -> Outcome {
    let days = match args.opt_int("older_than_days")? {
        Some(_) => args.int_in("older_than_days", 1, 3650)?,
        None => 30,
    };
    let limit = match args.opt_int("limit")? {
        Some(_) => args.int_in("limit", 1, PURGE_BATCH_MAX)?,
        None => PURGE_BATCH_MAX,
    };
    let cutoff = ctx.now() - days * 24 * 3600;
    let mut conn = ctx.accounts.conn()?;
    if ctx.world_dbs.servers().next().is_none() {
        // Every world on the accounts' server: one statement decides.
        conn.exec_drop(
            format!("DELETE FROM accounts WHERE {PURGEABLE} LIMIT ?"),
            (cutoff, limit),
        )?;
        let purged = conn.affected_rows();
        return ok(purge_answer(purged, purged == limit as u64));
    }
    // Worlds on other servers: their players are looked up there, then the rest deleted
    // under the same conditions (a guest that made a player since is kept by its own
    // server's check only; such a guest is old and idle, and login_unique remakes it).
    let candidates: Vec<String> = conn.exec(
        format!("SELECT unique_id FROM accounts WHERE {PURGEABLE} LIMIT ?"),
        (cutoff, limit),
    )?;
    let mut purged = 0;
    for batch in candidates.chunks(PURGE_CHECK_BATCH) {
        let marks = vec!["?"; batch.len()].join(",");
        let mut keep = std::collections::HashSet::new();
        for (db, _) in ctx.world_dbs.servers() {
            let with_player: Vec<String> = db.conn()?.exec(
                format!("SELECT DISTINCT unique_id FROM players WHERE unique_id IN ({marks})"),
                batch.iter().map(mysql::Value::from).collect::<Vec<_>>(),
            )?;
            keep.extend(with_player);
        }
        let gone: Vec<&String> = batch.iter().filter(|u| !keep.contains(*u)).collect();
        if gone.is_empty() {
            continue;
        }
        let marks = vec!["?"; gone.len()].join(",");
        let mut params: Vec<mysql::Value> = vec![cutoff.into()];
        params.extend(gone.iter().map(|u| mysql::Value::from(u.as_str())));
        conn.exec_drop(
            format!("DELETE FROM accounts WHERE {PURGEABLE} AND unique_id IN ({marks})"),
            params,
        )?;
        purged += conn.affected_rows();
    }
    ok(purge_answer(purged, candidates.len() == limit as usize))
}

/// A guest `purge_guest_accounts` may delete, created before `?` (unix seconds), with no
/// player in the worlds on the accounts' server.
const PURGEABLE: &str = "account IS NULL AND password IS NULL AND email IS NULL \
    AND phone_number IS NULL AND created_at < FROM_UNIXTIME(?) \
    AND NOT EXISTS (SELECT 1 FROM players p WHERE p.unique_id = accounts.unique_id)";

/// Device ids looked up on the other servers at once.
const PURGE_CHECK_BATCH: usize = 500;

fn purge_answer(purged: u64, more: bool) -> Map<String, Value> {
    data([
        ("purged", Value::from(purged)),
        ("more", Value::from(i64::from(more))),
    ])
}

/// `bind_account(account, password)`: gives the token's guest account credentials, once.
pub fn bind_account(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    let account = account_name(args.str("account")?);
    let password = args.str("password")?;
    let unique_id = caller.uid.as_str();
    if is_admin_uid(unique_id) {
        // An operator (admin token) has no account to bind credentials to.
        return Err(FnError::module(
            AccountStatus::NoSuchAccount,
            reserved_for_operators(),
        ));
    }
    let mut conn = ctx.accounts.conn()?;
    let row: Option<(Option<String>, Option<String>)> = conn.exec_first(
        "SELECT account, password FROM accounts WHERE unique_id = ?",
        (unique_id,),
    )?;
    match row {
        None => return Err(no_account()),
        Some((None, None)) => {}
        Some(_) => return Err(BindAccountStatus::AlreadyBound.into()),
    }
    check_credentials(
        &account,
        password,
        BindAccountStatus::InvalidAccount,
        BindAccountStatus::InvalidPassword,
    )?;
    let hash = password::hash_password(password, ctx.settings.pbkdf2_iterations);
    let bound = conn.exec_drop(
        "UPDATE accounts SET account = ?, password = ?
         WHERE unique_id = ? AND account IS NULL AND password IS NULL",
        (&account, &hash, unique_id),
    );
    match bound {
        Err(e) if duplicate_key(&e) == Some("accounts_account") => {
            return Err(BindAccountStatus::AccountTaken.into())
        }
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    if conn.affected_rows() != 1 {
        // A concurrent bind of the same guest won.
        return Err(BindAccountStatus::AlreadyBound.into());
    }
    ok(data([
        ("account", Value::from(account)),
        ("unique_id", Value::from(unique_id)),
    ]))
}

/// `account_all_info`: `account`, `email`, `phone_number` (`""` when unset), `unique_id`.
pub fn account_all_info(ctx: &Context, caller: &Account, _args: &Args) -> Outcome {
    let unique_id = caller.uid.as_str();
    let mut conn = ctx.accounts.conn()?;
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn.exec_first(
        "SELECT account, email, phone_number FROM accounts WHERE unique_id = ?",
        (unique_id,),
    )?;
    let (account, email, phone_number) = row.ok_or_else(no_account)?;
    ok(data([
        ("account", text(account)),
        ("email", text(email)),
        ("phone_number", text(phone_number)),
        ("unique_id", Value::from(unique_id)),
    ]))
}

/// The account's `cid`, made on first use (32 random hex digits; concurrent first uses
/// agree on one). `None` when the account does not exist.
fn cid_of(conn: &mut impl Queryable, unique_id: &str) -> Result<Option<String>, FnError> {
    let select = "SELECT cid FROM accounts WHERE unique_id = ?";
    let cid: Option<Option<String>> = conn.exec_first(select, (unique_id,))?;
    match cid {
        None => Ok(None),
        Some(Some(cid)) => Ok(Some(cid)),
        Some(None) => {
            conn.exec_drop(
                "UPDATE accounts SET cid = ? WHERE unique_id = ? AND cid IS NULL",
                (shared::ids::random_hex(16), unique_id),
            )?;
            let cid: Option<Option<String>> = conn.exec_first(select, (unique_id,))?;
            Ok(cid.flatten())
        }
    }
}

/// `enter_world`: a session token for the request's world. Answers `cid` (the account's
/// stable id), `session` (the token; also as `token`), `unique_id`, `world`: status 0 when
/// the account has a player there, 98 (same data) when it has none yet.
pub fn enter_world(ctx: &Context, caller: &Account, _args: &Args) -> Outcome {
    let world = ctx.world()?;
    let unique_id = caller.uid.as_str();
    let cid = cid_of(&mut ctx.accounts.conn()?, unique_id)?.ok_or_else(no_account)?;
    let has_player: Option<i32> = ctx.db.conn()?.exec_first(
        "SELECT 1 FROM players WHERE world = ? AND unique_id = ?",
        (world, unique_id),
    )?;
    let role = caller.role.as_deref();
    let (session, _) = ctx
        .tokens
        .issue(unique_id, TokenKind::Session, Some(world), role)
        .map_err(|e| FnError::Backend(e.to_string()))?;
    let answer = data([
        ("cid", Value::from(cid)),
        ("session", Value::from(session.clone())),
        ("token", Value::from(session)),
        ("unique_id", Value::from(unique_id)),
        ("world", Value::from(world)),
    ]);
    Ok(match has_player {
        Some(_) => Reply::ok(answer),
        None => Reply::with(EnterWorldStatus::NewToWorld, answer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_map_to_fixed_columns_only() {
        assert_eq!(identifier_column("email"), Some("email"));
        assert_eq!(identifier_column("account"), Some("account"));
        assert_eq!(identifier_column("phone_number"), Some("phone_number"));
        assert_eq!(identifier_column("password"), None);
        assert_eq!(identifier_column("account; DROP TABLE accounts"), None);
    }

    #[test]
    fn credential_bounds_are_enforced_with_clear_messages() {
        let check = |a: &str, p: &str| {
            check_credentials(
                a,
                p,
                RegisterStatus::InvalidAccount,
                RegisterStatus::InvalidPassword,
            )
        };
        assert!(check("abc", "123456").is_ok());
        let e = check(&"a".repeat(33), "123456").unwrap_err();
        let account = RegisterStatus::InvalidAccount;
        assert_eq!(
            e,
            FnError::module(account, "account must be 3 to 32 characters")
        );
        let e = check("abc", "12345").unwrap_err();
        let password = RegisterStatus::InvalidPassword;
        assert_eq!(
            e,
            FnError::module(password, "password must be 6 to 64 characters")
        );
        assert!(check("abc", &"p".repeat(65)).is_err());
        let uid = RegisterStatus::InvalidUniqueId;
        assert!(check_unique_id("", uid).is_err());
        assert_eq!(check_unique_id("a b", uid), Err(uid.into()));
        assert!(check_unique_id(&"😀".repeat(64), uid).is_ok());
        assert!(check_unique_id(&"u".repeat(65), uid).is_err());
        assert_eq!(account_name("BoB_Ü"), "bob_ü");
        assert!(generated_unique_id().len() <= UNIQUE_ID_CHARS.1);
    }
}
