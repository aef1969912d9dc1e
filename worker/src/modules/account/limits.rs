//! What one client may cost the account functions: a failed-login budget per account and
//! per client address, and a budget of new guest accounts per client address. Counters are
//! Redis keys with a fixed window from their first use (`SET NX EX`, then `INCR`), so every
//! worker shares them. The key names are all spelled here.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::function::{Context, FnError};

/// The budgets; `Default` is the service's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// `login` attempts that may fail for one account name / email / phone within the window.
    pub login_failures_per_account: u32,
    /// `login` attempts that may fail from one client address within the window.
    pub login_failures_per_address: u32,
    pub login_window_secs: u64,
    /// Guest accounts `login_unique` may create for one client address per day.
    pub guests_per_address_per_day: u32,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            login_failures_per_account: 10,
            login_failures_per_address: 100,
            login_window_secs: 900,
            guests_per_address_per_day: 50,
        }
    }
}

const DAY_SECS: u64 = 24 * 3600;

/// The failed-login counter of what a `login` names. Hashed: the key's length does not
/// depend on the client's text, and the text never reaches a key name.
pub fn login_account_key(identifier: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{identifier}:{}", value.to_lowercase()).as_bytes());
    format!("login.fail.account.{}", hex(&digest[..16]))
}

/// The failed-login counter of a client address.
pub fn login_address_key(ip: IpAddr) -> String {
    format!("login.fail.addr.{ip}")
}

/// The counter of guest accounts created for a client address today.
pub fn guest_address_key(ip: IpAddr) -> String {
    format!("guest.new.addr.{ip}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts one use of each key (creating it with `ttl_secs`), returning the counts.
fn spend(ctx: &Context, keys: &[&str], ttl_secs: u64) -> Result<Vec<u64>, FnError> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("SET")
            .arg(*key)
            .arg(0)
            .arg("EX")
            .arg(ttl_secs)
            .arg("NX")
            .ignore();
        pipe.cmd("INCR").arg(*key);
    }
    ctx.redis
        .run(|c| pipe.query::<Vec<u64>>(c))
        .map_err(|e| FnError::Backend(format!("rate counters: {e}")))
}

/// One `login` attempt, counted before the password work so that concurrent attempts (a
/// pipelined flood) cannot all pass the check before any failure is recorded.
pub struct LoginAttempt {
    keys: Vec<String>,
    /// Within budget: the password may be checked.
    pub allowed: bool,
}

impl LoginAttempt {
    /// Counts the attempt against the account and (when known) the client address.
    pub fn begin(ctx: &Context, identifier: &str, value: &str) -> Result<LoginAttempt, FnError> {
        let limits = &ctx.settings.account_limits;
        let mut keys = vec![login_account_key(identifier, value)];
        let mut budgets = vec![limits.login_failures_per_account];
        if let Some(ip) = ctx.client {
            keys.push(login_address_key(ip));
            budgets.push(limits.login_failures_per_address);
        }
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let counts = spend(ctx, &refs, limits.login_window_secs)?;
        let allowed = counts
            .iter()
            .zip(&budgets)
            .all(|(count, budget)| *count <= u64::from(*budget));
        Ok(LoginAttempt { keys, allowed })
    }

    /// The attempt succeeded: it was no failure, so it is taken back.
    pub fn succeeded(self, ctx: &Context) {
        let mut pipe = redis::pipe();
        for key in &self.keys {
            pipe.cmd("DECR").arg(key).ignore();
        }
        if let Err(e) = ctx.redis.run(|c| pipe.query::<()>(c)) {
            // The counter expires with its window; a login is not refused for this.
            shared::warn!("login counter not taken back", error = e);
        }
    }
}

/// Counts a new guest account for the client address; `false` when its budget for the
/// day is used up. Requests without an address (not through a gate) are not metered.
pub fn take_guest(ctx: &Context) -> Result<bool, FnError> {
    let Some(ip) = ctx.client else {
        return Ok(true);
    };
    let key = guest_address_key(ip);
    let counts = spend(ctx, &[&key], DAY_SECS)?;
    let budget = ctx.settings.account_limits.guests_per_address_per_day;
    Ok(counts.first().is_some_and(|n| *n <= u64::from(budget)))
}

/// Whether the client address has guest creations left today, without spending one.
pub fn guests_left(ctx: &Context) -> Result<bool, FnError> {
    let Some(ip) = ctx.client else {
        return Ok(true);
    };
    let used: Option<u64> = ctx
        .redis
        .run(|c| redis::cmd("GET").arg(guest_address_key(ip)).query(c))
        .map_err(|e| FnError::Backend(format!("rate counters: {e}")))?;
    Ok(used.unwrap_or(0) < u64::from(ctx.settings.account_limits.guests_per_address_per_day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_length_and_case_blind_for_the_account() {
        let a = login_account_key("account", "Bob");
        assert_eq!(a, login_account_key("account", "bob"));
        assert_ne!(a, login_account_key("email", "bob"));
        assert_eq!(a.len(), "login.fail.account.".len() + 32);
        let long = login_account_key("account", &"x~\r\n ".repeat(10_000));
        assert_eq!(long.len(), a.len());
        assert!(long[19..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            login_address_key("10.1.2.3".parse().unwrap()),
            "login.fail.addr.10.1.2.3"
        );
        assert_eq!(
            guest_address_key("2001:db8::1".parse().unwrap()),
            "guest.new.addr.2001:db8::1"
        );
    }
}
