//! Accounts: register, guest login by device id, login, binding credentials to a guest,
//! account info, and entering a world.
//!
//! Accounts are global; the `unique_id` is the `uid` of every token. A taken `unique_id`
//! or account name fails with a status and changes nothing (the original overwrote the
//! password: an account takeover).

pub mod password;

use std::sync::OnceLock;

use auth::jwt::TokenKind;
use mysql::prelude::Queryable;
use serde_json::Value;

use crate::db::duplicate_key;
use crate::function::Context;
use crate::function::{check_text, data, ok, Account, Args, FnError, Outcome};
use crate::modules::common::transaction;
use crate::modules::enums::AccountStatus;

const UNIQUE_ID_CHARS: (usize, usize) = (1, 64);
const ACCOUNT_CHARS: (usize, usize) = (3, 32);
const PASSWORD_CHARS: (usize, usize) = (6, 64);

fn status(s: AccountStatus) -> FnError {
    FnError::from(s)
}

fn invalid(message: impl Into<String>) -> FnError {
    FnError::module(AccountStatus::InvalidArgument, message)
}

fn check_unique_id(unique_id: &str) -> Result<(), FnError> {
    let (min, max) = UNIQUE_ID_CHARS;
    check_text(
        "unique_id",
        unique_id,
        min,
        max,
        AccountStatus::InvalidArgument,
    )
}

fn check_credentials(account: &str, password: &str) -> Result<(), FnError> {
    let code = AccountStatus::InvalidArgument;
    check_text("account", account, ACCOUNT_CHARS.0, ACCOUNT_CHARS.1, code)?;
    // Any character may be part of a password; only the length is checked.
    let chars = password.chars().count();
    if !(PASSWORD_CHARS.0..=PASSWORD_CHARS.1).contains(&chars) {
        return Err(invalid(format!(
            "password must be {} to {} characters",
            PASSWORD_CHARS.0, PASSWORD_CHARS.1
        )));
    }
    Ok(())
}

/// Maps a duplicate-key error of the accounts table to its status.
fn taken(e: &mysql::Error) -> Option<FnError> {
    match duplicate_key(e)? {
        "PRIMARY" => Some(status(AccountStatus::UniqueIdTaken)),
        "accounts_account" => Some(status(AccountStatus::AccountTaken)),
        _ => None,
    }
}

fn issue_account_token(ctx: &Context, uid: &str) -> Result<String, FnError> {
    ctx.tokens
        .issue(uid, TokenKind::Account, None, None)
        .map(|(token, _)| token)
        .map_err(|e| FnError::Backend(e.to_string()))
}

fn token_answer(token: String, unique_id: &str) -> Outcome {
    ok(data([
        ("token", Value::from(token)),
        ("unique_id", Value::from(unique_id)),
    ]))
}

/// `register(unique_id, account, password)`: a new account with credentials.
pub fn register(ctx: &Context, args: &Args) -> Outcome {
    let unique_id = args.str("unique_id")?;
    let account = args.str("account")?;
    let password = args.str("password")?;
    check_unique_id(unique_id)?;
    check_credentials(account, password)?;
    let hash = password::hash_password(password, ctx.settings.pbkdf2_iterations);
    // The token is issued inside the transaction: if Redis fails, no account is left behind.
    let token = transaction(ctx.db, |tx| {
        tx.exec_drop(
            "INSERT INTO accounts (unique_id, account, password) VALUES (?, ?, ?)",
            (unique_id, account, &hash),
        )
        .map_err(|e| taken(&e).unwrap_or_else(|| e.into()))?;
        issue_account_token(ctx, unique_id)
    })?;
    token_answer(token, unique_id)
}

/// `login_unique(unique_id)`: guest login by device id, creating the guest when new.
pub fn login_unique(ctx: &Context, args: &Args) -> Outcome {
    let unique_id = args.str("unique_id")?;
    check_unique_id(unique_id)?;
    let mut conn = ctx.db.conn()?;
    conn.exec_drop(
        "INSERT INTO accounts (unique_id) VALUES (?) ON DUPLICATE KEY UPDATE unique_id = unique_id",
        (unique_id,),
    )?;
    let row: Option<(Option<String>, Option<String>)> = conn.exec_first(
        "SELECT account, password FROM accounts WHERE unique_id = ?",
        (unique_id,),
    )?;
    match row {
        // Otherwise knowing a device id would be as good as knowing the password.
        Some((None, None)) => token_answer(issue_account_token(ctx, unique_id)?, unique_id),
        Some(_) => Err(status(AccountStatus::GuestHasCredentials)),
        None => Err(FnError::Backend("guest row vanished after insert".into())),
    }
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

/// `login(identifier, value, password)` with identifier account | email | phone_number.
pub fn login(ctx: &Context, args: &Args) -> Outcome {
    let identifier = args.str("identifier")?;
    let value = args.str("value")?;
    let password = args.str("password")?;
    let column = identifier_column(identifier)
        .ok_or_else(|| invalid("identifier must be account, email or phone_number"))?;
    let mut conn = ctx.db.conn()?;
    let row: Option<(String, Option<String>)> = conn.exec_first(
        format!("SELECT unique_id, password FROM accounts WHERE {column} = ?"),
        (value,),
    )?;
    let (unique_id, stored) = match row {
        Some((uid, Some(stored))) => (uid, stored),
        _ => {
            let _ = password::verify_password(password, decoy_hash(ctx.settings.pbkdf2_iterations));
            return Err(status(AccountStatus::WrongCredentials));
        }
    };
    match password::verify_password(password, &stored) {
        Ok(true) => token_answer(issue_account_token(ctx, &unique_id)?, &unique_id),
        Ok(false) => Err(status(AccountStatus::WrongCredentials)),
        Err(e) => Err(FnError::Backend(format!("account {unique_id}: {e}"))),
    }
}

/// `bind_account(account, password)`: gives the token's guest account credentials, once.
pub fn bind_account(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    let account = args.str("account")?;
    let password = args.str("password")?;
    check_credentials(account, password)?;
    let unique_id = caller.uid.as_str();
    let hash = password::hash_password(password, ctx.settings.pbkdf2_iterations);
    let mut conn = ctx.db.conn()?;
    let bound = conn.exec_drop(
        "UPDATE accounts SET account = ?, password = ?
         WHERE unique_id = ? AND account IS NULL AND password IS NULL",
        (account, &hash, unique_id),
    );
    if let Err(e) = bound {
        return Err(taken(&e).unwrap_or_else(|| e.into()));
    }
    if conn.affected_rows() == 1 {
        return ok(data([
            ("unique_id", Value::from(unique_id)),
            ("account", Value::from(account)),
        ]));
    }
    let exists: Option<String> = conn.exec_first(
        "SELECT unique_id FROM accounts WHERE unique_id = ?",
        (unique_id,),
    )?;
    Err(status(match exists {
        Some(_) => AccountStatus::AlreadyBound,
        None => AccountStatus::NoSuchAccount,
    }))
}

/// `account_all_info`: what the account has (its row; worlds join in with later modules).
pub fn account_all_info(ctx: &Context, caller: &Account, _args: &Args) -> Outcome {
    let unique_id = caller.uid.as_str();
    let mut conn = ctx.db.conn()?;
    let row: Option<(Option<String>, Option<String>, Option<String>)> = conn.exec_first(
        "SELECT account, email, phone_number FROM accounts WHERE unique_id = ?",
        (unique_id,),
    )?;
    let (account, email, phone_number) = row.ok_or_else(|| status(AccountStatus::NoSuchAccount))?;
    ok(data([
        ("unique_id", Value::from(unique_id)),
        ("account", Value::from(account)),
        ("email", Value::from(email)),
        ("phone_number", Value::from(phone_number)),
    ]))
}

/// `enter_world`: a session token for the request's world.
pub fn enter_world(ctx: &Context, caller: &Account, _args: &Args) -> Outcome {
    let world = ctx.world()?;
    let unique_id = caller.uid.as_str();
    let role = caller.role.as_deref();
    let (token, _) = ctx
        .tokens
        .issue(unique_id, TokenKind::Session, Some(world), role)
        .map_err(|e| FnError::Backend(e.to_string()))?;
    ok(data([
        ("token", Value::from(token)),
        ("unique_id", Value::from(unique_id)),
        ("world", Value::from(world)),
    ]))
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
        assert!(check_credentials("abc", "123456").is_ok());
        let long_account = "a".repeat(33);
        let e = check_credentials(&long_account, "123456").unwrap_err();
        assert_eq!(e, invalid("account must be 3 to 32 characters"));
        let e = check_credentials("abc", "12345").unwrap_err();
        assert_eq!(e, invalid("password must be 6 to 64 characters"));
        assert!(check_credentials("abc", &"p".repeat(65)).is_err());
        assert!(check_unique_id("").is_err());
        assert!(check_unique_id(&"😀".repeat(64)).is_ok());
        assert!(check_unique_id(&"u".repeat(65)).is_err());
    }
}
