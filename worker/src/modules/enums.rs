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

/// Statuses any module's function may answer, because they come from the shared helpers
/// (`common::require_player`, `item::spend`, `item::grant`): 90–98 mean the same in every
/// module, so module tables use 80–89.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedStatus {
    /// The caller (or the target) has no player in this world.
    NoPlayer = 90,
    /// A spend would take an item below zero; nothing was spent.
    NotEnoughItems = 91,
    /// An item string is malformed or names an item `items.json` does not define.
    InvalidItem = 92,
}

impl SharedStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            SharedStatus::NoPlayer => "no player in this world: create one first",
            SharedStatus::NotEnoughItems => "not enough items",
            SharedStatus::InvalidItem => "invalid item",
        }
    }
}

/// Statuses of the player functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerStatus {
    /// `create_player` for an account that already has a player in this world.
    PlayerExists = 80,
    NameTaken = 81,
    /// The name breaks the name rules; the message says which.
    InvalidName = 82,
    /// `add_resources` names no target or two targets.
    InvalidTarget = 83,
}

impl PlayerStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            PlayerStatus::PlayerExists => "this account already has a player in this world",
            PlayerStatus::NameTaken => "player name is already taken in this world",
            PlayerStatus::InvalidName => "invalid player name",
            PlayerStatus::InvalidTarget => "name exactly one target: gn_target or uid_target",
        }
    }
}

/// Statuses of the weapon functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeaponStatus {
    /// `weapon.json` defines no weapon with this id.
    UnknownWeapon = 80,
    /// The player does not own this weapon.
    NotOwned = 81,
    /// The level asked for is above the weapon's `max_level`.
    MaxLevel = 82,
    /// The weapon has its highest star already.
    MaxStar = 83,
    /// `delta` is below 1.
    InvalidDelta = 84,
}

impl WeaponStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            WeaponStatus::UnknownWeapon => "no such weapon",
            WeaponStatus::NotOwned => "you do not own this weapon",
            WeaponStatus::MaxLevel => "the weapon cannot go above its max level",
            WeaponStatus::MaxStar => "the weapon has its highest star already",
            WeaponStatus::InvalidDelta => "delta must be at least 1",
        }
    }
}

/// Statuses of the family functions (`*_family`). An unknown `gn_target` answers the
/// shared `NoPlayer` (90), a create the caller cannot pay the shared `NotEnoughItems` (91).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyStatus {
    /// A bad name, notice or role, or acting on yourself; the message says which.
    InvalidArgument = 80,
    NameTaken = 81,
    AlreadyInFamily = 82,
    NotInFamily = 83,
    NoSuchFamily = 84,
    FamilyFull = 85,
    RoleTooLow = 86,
    NotAMember = 87,
    TargetInFamily = 88,
    InvalidRequest = 89,
}

impl FamilyStatus {
    pub const ALL: [FamilyStatus; 10] = [
        FamilyStatus::InvalidArgument,
        FamilyStatus::NameTaken,
        FamilyStatus::AlreadyInFamily,
        FamilyStatus::NotInFamily,
        FamilyStatus::NoSuchFamily,
        FamilyStatus::FamilyFull,
        FamilyStatus::RoleTooLow,
        FamilyStatus::NotAMember,
        FamilyStatus::TargetInFamily,
        FamilyStatus::InvalidRequest,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            FamilyStatus::InvalidArgument => "invalid argument",
            FamilyStatus::NameTaken => "family name is already taken",
            FamilyStatus::AlreadyInFamily => "you are already in a family",
            FamilyStatus::NotInFamily => "you are not in a family",
            FamilyStatus::NoSuchFamily => "family does not exist",
            FamilyStatus::FamilyFull => "family is full",
            FamilyStatus::RoleTooLow => "your family role does not allow this",
            FamilyStatus::NotAMember => "player is not a member of your family",
            FamilyStatus::TargetInFamily => "player is already in a family",
            FamilyStatus::InvalidRequest => "not a valid family invitation or request",
        }
    }
}

/// Family roles of the contract; a higher number may do more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FamilyRole {
    Basic = 0,
    Elite = 4,
    Admin = 8,
    Owner = 10,
}

impl FamilyRole {
    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Option<FamilyRole> {
        match id {
            0 => Some(FamilyRole::Basic),
            4 => Some(FamilyRole::Elite),
            8 => Some(FamilyRole::Admin),
            10 => Some(FamilyRole::Owner),
            _ => None,
        }
    }
}

/// Statuses of the friend functions (`*_friend`, `find_person`). An unknown `gn_target`
/// answers the shared `NoPlayer` (90).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FriendStatus {
    NotYourself = 80,
    AlreadyFriends = 81,
    NotFriends = 82,
    FriendLimit = 83,
    TargetFriendLimit = 84,
    GiftAlreadySent = 85,
    InvalidRequest = 86,
}

impl FriendStatus {
    pub const ALL: [FriendStatus; 7] = [
        FriendStatus::NotYourself,
        FriendStatus::AlreadyFriends,
        FriendStatus::NotFriends,
        FriendStatus::FriendLimit,
        FriendStatus::TargetFriendLimit,
        FriendStatus::GiftAlreadySent,
        FriendStatus::InvalidRequest,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            FriendStatus::NotYourself => "not possible on yourself",
            FriendStatus::AlreadyFriends => "already friends",
            FriendStatus::NotFriends => "not friends",
            FriendStatus::FriendLimit => "your friend list is full",
            FriendStatus::TargetFriendLimit => "their friend list is full",
            FriendStatus::GiftAlreadySent => "gift to this friend already sent today",
            FriendStatus::InvalidRequest => "not a valid friend request",
        }
    }
}

/// Statuses of the mail functions (`*_mail`, `accept_gifts`) and of accepting any request
/// mail (`respond_friend`, `respond_family` answer 82–84 for the mail itself). An unknown
/// `gn_target` answers the shared `NoPlayer` (90).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailStatus {
    MailboxFull = 80,
    DailyLimit = 81,
    NoSuchMail = 82,
    AlreadyAccepted = 83,
    WrongKind = 84,
    InvalidArgument = 85,
}

impl MailStatus {
    pub const ALL: [MailStatus; 6] = [
        MailStatus::MailboxFull,
        MailStatus::DailyLimit,
        MailStatus::NoSuchMail,
        MailStatus::AlreadyAccepted,
        MailStatus::WrongKind,
        MailStatus::InvalidArgument,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn message(self) -> &'static str {
        match self {
            MailStatus::MailboxFull => "the recipient's mailbox is full",
            MailStatus::DailyLimit => "daily mail limit reached, try again tomorrow",
            MailStatus::NoSuchMail => "no such mail in your mailbox",
            MailStatus::AlreadyAccepted => "this mail was already accepted",
            MailStatus::WrongKind => "this mail is not of that kind",
            MailStatus::InvalidArgument => "invalid argument",
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

    #[test]
    fn shared_player_and_weapon_statuses_keep_their_ranges() {
        use SharedStatus::*;
        for s in [NoPlayer, NotEnoughItems, InvalidItem] {
            assert!((90..=98).contains(&s.code()), "{s:?}");
            assert!(!s.message().is_empty());
        }
        use PlayerStatus::*;
        for s in [PlayerExists, NameTaken, InvalidName, InvalidTarget] {
            assert!((80..=89).contains(&s.code()), "{s:?}");
            assert!(!s.message().is_empty());
        }
        use WeaponStatus::*;
        for s in [UnknownWeapon, NotOwned, MaxLevel, MaxStar, InvalidDelta] {
            assert!((80..=89).contains(&s.code()), "{s:?}");
            assert!(!s.message().is_empty());
        }
    }
}
