//! Ids the game client shares with the server: module statuses (80–99) and, as modules
//! arrive, item groups and roles. One place, so client and server agree on every number.

/// Statuses of the account functions. Each module has its own 80–99 range; the function
/// that answered says which module's table applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    UniqueIdTaken = 80,
    AccountTaken = 81,
    WrongCredentials = 82,
    GuestHasCredentials = 83,
    AlreadyBound = 84,
    NoSuchAccount = 85,
    InvalidArgument = 86,
}

impl AccountStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            AccountStatus::UniqueIdTaken => "unique_id is already in use",
            AccountStatus::AccountTaken => "account name is already taken",
            AccountStatus::WrongCredentials => "wrong account or password",
            AccountStatus::GuestHasCredentials => {
                "this unique_id has an account and password: log in with them"
            }
            AccountStatus::AlreadyBound => "this account already has an account name and password",
            AccountStatus::NoSuchAccount => "account does not exist",
            AccountStatus::InvalidArgument => "invalid argument",
        }
    }
}

/// Every module answers this when a backend (MySQL, Redis) fails mid-request: the request
/// may be retried, nothing half-done was kept.
pub const BACKEND_UNAVAILABLE: i32 = 99;
pub const BACKEND_UNAVAILABLE_MESSAGE: &str = "service temporarily unavailable, try again";

/// Token claim `role` that admin-only functions require.
pub const ADMIN_ROLE: &str = "admin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_statuses_are_in_the_module_range() {
        for s in [
            AccountStatus::UniqueIdTaken,
            AccountStatus::AccountTaken,
            AccountStatus::WrongCredentials,
            AccountStatus::GuestHasCredentials,
            AccountStatus::AlreadyBound,
            AccountStatus::NoSuchAccount,
            AccountStatus::InvalidArgument,
        ] {
            assert!((80..=98).contains(&s.code()), "{s:?}");
            assert!(!s.message().is_empty());
        }
        assert_eq!(BACKEND_UNAVAILABLE, 99);
    }
}
