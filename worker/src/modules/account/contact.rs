//! Binding an email address or a phone number to an account with a verification code:
//! `bind_*` / `unbind_*` send a code to the address, `verify_*_code` checks it and binds
//! (status 0) or unbinds (status 1).
//!
//! Unlike the original: codes come from the kernel's random source; one code per account
//! and kind is outstanding at a time, stored with `SET NX EX` (atomic, 5 minutes) under
//! `verify.<kind>.code.<uid>` together with the address and what it is for; a verify takes
//! it with `GETDEL`, so of two concurrent verifies of one code exactly one can pass; a wrong
//! code costs one of [`ATTEMPTS`] attempts (the code is put back with what is left of its
//! life, `SET NX EX`, and dropped after the last); each account may have
//! [`Kind::daily_limit`] codes of a kind sent per day (UTC+8, the original's day), counted
//! in `verify.<kind>.sent.<uid>.<day>`; an address or number belongs to one account at most
//! (the columns' unique keys).

use std::borrow::Cow;

use mysql::prelude::Queryable;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::duplicate_key;
use crate::function::{data, Account, Args, Context, FnError, ModuleStatus, Outcome, Reply};
use crate::modules::enums::{AccountStatus, BindContactStatus, UnbindContactStatus, VerifyStatus};
use crate::notify::{self, Lang, NotifyError};

/// How long a code is valid, in seconds (the original's 300).
pub const CODE_SECS: u64 = 300;
/// Wrong codes a code survives: the next wrong one after these drops it.
pub const ATTEMPTS: u32 = 5;
/// Longest email address the `accounts.email` column holds.
const EMAIL_MAX_CHARS: usize = 128;

/// Email or phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Email,
    Phone,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
        }
    }

    /// The request field and the `accounts` column.
    fn column(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone_number",
        }
    }

    /// Digits of a code: 6 for email, 4 for phone (the original's; the clients' input
    /// fields expect them).
    fn code_digits(self) -> u32 {
        match self {
            Kind::Email => 6,
            Kind::Phone => 4,
        }
    }

    /// Codes of this kind an account may have sent per day (bind and unbind together):
    /// 10 emails, 5 SMS (the original's SMS limit).
    pub fn daily_limit(self) -> i64 {
        match self {
            Kind::Email => 10,
            Kind::Phone => 5,
        }
    }

    fn configured(self, ctx: &Context) -> bool {
        let settings = &ctx.settings.notify;
        match self {
            Kind::Email => !settings.smtp_addr.is_empty(),
            Kind::Phone => !settings.phone_hook_url.is_empty(),
        }
    }

    /// The form an address is stored and compared in: an email lower-cased (a plain ASCII
    /// `local@domain`, at most 128 characters); a phone number as its digits, with the `+`
    /// when it had one. `Err` says why the text is not one.
    pub fn stored_form(self, text: &str) -> Result<String, String> {
        match self {
            Kind::Email => {
                let address = shared::smtp::Address::parse(text).map_err(|e| e.to_string())?;
                if address.as_str().chars().count() > EMAIL_MAX_CHARS {
                    return Err(format!(
                        "email must be at most {EMAIL_MAX_CHARS} characters"
                    ));
                }
                Ok(address.as_str().to_ascii_lowercase())
            }
            Kind::Phone => {
                notify::check_phone(text).map_err(|e| e.to_string())?;
                let plus = if text.starts_with('+') { "+" } else { "" };
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                Ok(format!("{plus}{digits}"))
            }
        }
    }

    fn code_key(self, uid: &str) -> String {
        format!("verify.{}.code.{uid}", self.name())
    }
}

/// An outstanding code, as stored in Redis.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    code: String,
    /// 0 bind, 1 unbind.
    status: i64,
    /// The stored form of the address.
    address: String,
    /// Wrong codes it survives still.
    attempts: u32,
    /// Unix seconds.
    expires: i64,
}

/// Why a code was not sent; each function answers it with its own table.
enum Refusal {
    NotConfigured,
    RateLimited(String),
    InvalidAddress(String),
    NotSent,
}

/// `n` random decimal digits from the kernel's random source.
fn random_code(digits: u32) -> String {
    let mut bytes = [0u8; 8];
    shared::ids::fill_random(&mut bytes);
    let modulus = 10u64.pow(digits);
    // 2^64 is no multiple of 10^n: reject the top partial range, so every code is as likely.
    let zone = u64::MAX - u64::MAX % modulus;
    let mut n = u64::from_le_bytes(bytes);
    while n >= zone {
        shared::ids::fill_random(&mut bytes);
        n = u64::from_le_bytes(bytes);
    }
    format!("{:0width$}", n % modulus, width = digits as usize)
}

/// The account's (account name, this kind's address); `None` when it does not exist.
fn account_row(
    ctx: &Context,
    uid: &str,
    kind: Kind,
) -> Result<(Option<String>, Option<String>), FnError> {
    let mut conn = ctx.accounts.conn()?;
    let row: Option<(Option<String>, Option<String>)> = conn.exec_first(
        format!(
            "SELECT account, {} FROM accounts WHERE unique_id = ?",
            kind.column()
        ),
        (uid,),
    )?;
    row.ok_or_else(|| AccountStatus::NoSuchAccount.into())
}

/// Rate limit, store, deliver. On any refusal no code is outstanding.
fn send_code(
    ctx: &Context,
    uid: &str,
    kind: Kind,
    status: i64,
    address: &str,
    lang: Lang,
) -> Result<Result<(), Refusal>, FnError> {
    if !kind.configured(ctx) {
        return Ok(Err(Refusal::NotConfigured));
    }
    let now = ctx.now();
    let code = random_code(kind.code_digits());
    let pending = Pending {
        code: code.clone(),
        status,
        address: address.to_string(),
        attempts: ATTEMPTS,
        expires: now + CODE_SECS as i64,
    };
    let key = kind.code_key(uid);
    let value = serde_json::to_string(&pending).expect("a Pending serialises");
    let stored: Option<String> = ctx.redis.run(|c| {
        redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .arg("NX")
            .arg("EX")
            .arg(CODE_SECS)
            .query(c)
    })?;
    if stored.is_none() {
        return Ok(Err(Refusal::RateLimited(format!(
            "a code sent less than {} minutes ago is still valid: use it or wait",
            CODE_SECS / 60
        ))));
    }
    let day = crate::modules::daily::game_day(now);
    let counter = format!("verify.{}.sent.{uid}.{day}", kind.name());
    let sent: i64 = ctx.redis.run(|c| {
        redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&counter)
            .cmd("EXPIRE")
            .arg(&counter)
            .arg(2 * 86_400)
            .ignore()
            .query::<(i64,)>(c)
            .map(|(n,)| n)
    })?;
    let drop_code = |ctx: &Context| {
        ctx.redis
            .run(|c| redis::cmd("DEL").arg(&key).query::<i64>(c))
    };
    if sent > kind.daily_limit() {
        drop_code(ctx)?;
        return Ok(Err(Refusal::RateLimited(format!(
            "at most {} codes a day: try again tomorrow",
            kind.daily_limit()
        ))));
    }
    let delivered = match kind {
        Kind::Email => notify::send_email_code(&ctx.settings.notify, address, &code, lang),
        Kind::Phone => notify::send_phone_code(&ctx.settings.notify, address, &code),
    };
    match delivered {
        Ok(()) => Ok(Ok(())),
        Err(e) => {
            drop_code(ctx)?;
            Ok(Err(match e {
                NotifyError::NotConfigured => Refusal::NotConfigured,
                NotifyError::InvalidRecipient(why) => Refusal::InvalidAddress(why),
                NotifyError::Failed(why) => {
                    shared::warn!(
                        "verification code not delivered",
                        kind = kind.name(),
                        uid = uid,
                        reason = why
                    );
                    Refusal::NotSent
                }
            }))
        }
    }
}

/// The language of a code mail: the optional `lang` tag (`en`, `zh-CN`, ...); Chinese when
/// absent, as the original's mails were.
fn lang(args: &Args) -> Result<Lang, FnError> {
    Ok(args.opt_str("lang")?.map_or(Lang::Zh, Lang::from_tag))
}

fn not_sent_data() -> serde_json::Map<String, Value> {
    data([(
        "message",
        Value::from("the code could not be delivered; try again later"),
    )])
}

fn bind(ctx: &Context, caller: &Account, args: &Args, kind: Kind) -> Outcome {
    let text = args.str(kind.column())?;
    let lang = lang(args)?;
    let uid = caller.uid.as_str();
    let (account, bound) = account_row(ctx, uid, kind)?;
    if account.is_none() {
        return Err(BindContactStatus::NoAccountName.into());
    }
    if bound.is_some() {
        return Err(BindContactStatus::AlreadyBound.into());
    }
    let address = kind
        .stored_form(text)
        .map_err(|why| FnError::module(BindContactStatus::InvalidAddress, why))?;
    let owner: Option<String> = ctx.accounts.conn()?.exec_first(
        format!("SELECT unique_id FROM accounts WHERE {} = ?", kind.column()),
        (&address,),
    )?;
    if owner.is_some() {
        return Err(BindContactStatus::UsedByAnother.into());
    }
    match send_code(ctx, uid, kind, 0, &address, lang)? {
        Ok(()) => Ok(Reply::ok(Default::default())),
        Err(Refusal::NotConfigured) => Err(BindContactStatus::NotConfigured.into()),
        Err(Refusal::RateLimited(why)) => Err(FnError::module(BindContactStatus::RateLimited, why)),
        Err(Refusal::InvalidAddress(why)) => {
            Err(FnError::module(BindContactStatus::InvalidAddress, why))
        }
        Err(Refusal::NotSent) => Ok(Reply::with(BindContactStatus::NotSent, not_sent_data())),
    }
}

fn unbind(ctx: &Context, caller: &Account, args: &Args, kind: Kind) -> Outcome {
    let text = args.str(kind.column())?;
    let lang = lang(args)?;
    let uid = caller.uid.as_str();
    let (account, bound) = account_row(ctx, uid, kind)?;
    if account.is_none() {
        return Err(UnbindContactStatus::NoAccountName.into());
    }
    let Some(bound) = bound else {
        return Err(UnbindContactStatus::NoneBound.into());
    };
    if kind.stored_form(text).ok().as_deref() != Some(bound.as_str()) {
        return Err(UnbindContactStatus::Mismatch.into());
    }
    match send_code(ctx, uid, kind, 1, &bound, lang)? {
        Ok(()) => Ok(Reply::ok(Default::default())),
        Err(Refusal::NotConfigured) => Err(UnbindContactStatus::NotConfigured.into()),
        Err(Refusal::RateLimited(why)) => {
            Err(FnError::module(UnbindContactStatus::RateLimited, why))
        }
        Err(Refusal::InvalidAddress(why)) => {
            Err(FnError::module(UnbindContactStatus::InvalidAddress, why))
        }
        Err(Refusal::NotSent) => Ok(Reply::with(UnbindContactStatus::NotSent, not_sent_data())),
    }
}

/// The `code` argument: a string, or an integer as the original's clients may send (its
/// decimal digits, leading zeros lost as they were there).
fn code_arg(args: &Args) -> Result<String, FnError> {
    match args.0.get("code") {
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        _ => args.str("code").map(str::to_string),
    }
}

/// Takes the outstanding code if `code` and `status` match it; a wrong guess costs an
/// attempt. `Ok(Some(address))` for the winner of the code.
fn redeem(
    ctx: &Context,
    uid: &str,
    kind: Kind,
    code: &str,
    status: i64,
) -> Result<Option<String>, FnError> {
    let key = kind.code_key(uid);
    let taken: Option<String> = ctx.redis.run(|c| redis::cmd("GETDEL").arg(&key).query(c))?;
    let Some(taken) = taken else { return Ok(None) };
    let mut pending: Pending =
        serde_json::from_str(&taken).map_err(|e| FnError::Backend(format!("{key}: {e}")))?;
    if pending.code == code && pending.status == status {
        return Ok(Some(pending.address));
    }
    pending.attempts = pending.attempts.saturating_sub(1);
    let left = pending.expires - ctx.now();
    if pending.attempts > 0 && left > 0 {
        let value = serde_json::to_string(&pending).expect("a Pending serialises");
        // NX: a code sent meanwhile (the key was free) stays the outstanding one.
        ctx.redis.run(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("NX")
                .arg("EX")
                .arg(left)
                .query::<Option<String>>(c)
        })?;
    }
    Ok(None)
}

fn verify(ctx: &Context, caller: &Account, args: &Args, kind: Kind) -> Outcome {
    let code = code_arg(args)?;
    let status = args.opt_int("status")?.unwrap_or(0);
    if !matches!(status, 0 | 1) {
        return Err(VerifyStatus::InvalidStatus.into());
    }
    let uid = caller.uid.as_str();
    let Some(address) = redeem(ctx, uid, kind, &code, status)? else {
        return Err(VerifyStatus::InvalidCode.into());
    };
    let column = kind.column();
    let field = match kind {
        Kind::Email => "email",
        Kind::Phone => "phone",
    };
    let answer = data([(field, Value::from(address.clone()))]);
    let mut conn = ctx.accounts.conn()?;
    if status == 0 {
        let set = conn.exec_drop(
            format!("UPDATE accounts SET {column} = ? WHERE unique_id = ? AND {column} IS NULL"),
            (&address, uid),
        );
        match set {
            Err(e) if duplicate_key(&e).is_some() => return Err(VerifyStatus::Conflict.into()),
            Err(e) => return Err(e.into()),
            Ok(()) if conn.affected_rows() == 0 => return Err(VerifyStatus::AlreadyBound.into()),
            Ok(()) => {}
        }
        let message = match kind {
            Kind::Email => "success, email verified",
            Kind::Phone => "success, phone verified",
        };
        return Ok(Reply {
            status: 0,
            message: Cow::Borrowed(message),
            data: answer,
        });
    }
    conn.exec_drop(
        format!("UPDATE accounts SET {column} = NULL WHERE unique_id = ? AND {column} = ?"),
        (uid, &address),
    )?;
    if conn.affected_rows() == 0 {
        return Err(FnError::module(
            VerifyStatus::Conflict,
            format!("this {} is no longer bound to this account", kind.name()),
        ));
    }
    let message = match kind {
        Kind::Email => "unbind success, email verified",
        Kind::Phone => "unbind success, phone verified",
    };
    Ok(Reply {
        status: VerifyStatus::Unbound.code(),
        message: Cow::Borrowed(message),
        data: answer,
    })
}

/// `bind_email(email, lang?)`: mails a code that `verify_email_code(code, 0)` binds with.
pub fn bind_email(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    bind(ctx, caller, args, Kind::Email)
}

/// `unbind_email(email, lang?)`: mails a code that `verify_email_code(code, 1)` unbinds with.
pub fn unbind_email(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    unbind(ctx, caller, args, Kind::Email)
}

/// `verify_email_code(code, status)`: 0 binds (answer 0), 1 unbinds (answer 1); `email`.
pub fn verify_email_code(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    verify(ctx, caller, args, Kind::Email)
}

/// `bind_phone(phone_number)`: sends a code that `verify_phone_code(code, 0)` binds with.
pub fn bind_phone(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    bind(ctx, caller, args, Kind::Phone)
}

/// `unbind_phone(phone_number)`: sends a code that `verify_phone_code(code, 1)` unbinds with.
pub fn unbind_phone(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    unbind(ctx, caller, args, Kind::Phone)
}

/// `verify_phone_code(code, status)`: 0 binds (answer 0), 1 unbinds (answer 1); `phone`.
pub fn verify_phone_code(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    verify(ctx, caller, args, Kind::Phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_digits_and_vary() {
        for digits in [4, 6] {
            let codes: Vec<String> = (0..50).map(|_| random_code(digits)).collect();
            for c in &codes {
                assert_eq!(c.len(), digits as usize, "{c}");
                assert!(c.bytes().all(|b| b.is_ascii_digit()), "{c}");
            }
            let mut distinct = codes.clone();
            distinct.sort();
            distinct.dedup();
            assert!(distinct.len() > 25, "{codes:?}");
        }
    }

    #[test]
    fn addresses_are_stored_in_one_form() {
        assert_eq!(
            Kind::Email.stored_form("Bob.Smith@Example.COM").unwrap(),
            "bob.smith@example.com"
        );
        for bad in [
            "no-at",
            "a@b\r\nRCPT TO:<x@y>",
            "<a@b.c>",
            "a b@c.d",
            "ü@example.com",
            "'; DROP TABLE accounts; --@x.y",
        ] {
            assert!(Kind::Email.stored_form(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(70));
        assert!(Kind::Email.stored_form(&long).is_err());
        assert_eq!(
            Kind::Phone.stored_form("+86 138-0013-8000").unwrap(),
            "+8613800138000"
        );
        assert_eq!(
            Kind::Phone.stored_form("(555) 123.4567").unwrap(),
            "5551234567"
        );
        for bad in ["", "123", "12a45", "+", "1".repeat(21).as_str()] {
            assert!(Kind::Phone.stored_form(bad).is_err(), "{bad:?}");
        }
    }
}
