//! Ids the game client shares with the server: each module's statuses, item groups, roles,
//! mail types. One place, so client and server agree on every number.

// The account and player functions answer the original's codes, which mean different
// things in different functions (96 is "unique_id contains spaces" in `register`, "already
// bound" in `bind_account`), so each function (or group of functions answering the same
// codes) has its own table.

crate::module_statuses! {
    /// Statuses of `register`.
    pub enum RegisterStatus {
        /// Success: a new account was made (0 "success": credentials given to a guest).
        Created = 1 => "new account created",
        /// The unique_id already has an account name and password: nothing was changed.
        AccountBound = 2 => "account already bound: log in with its account name and password",
        /// The unique_id contains a space (or breaks another unique_id rule; the message says).
        InvalidUniqueId = 96 => "unique_id contains spaces",
        AccountTaken = 97 => "the account name has been used",
        InvalidPassword = 98 => "invalid password",
        InvalidAccount = 99 => "invalid account name",
    }
}

crate::module_statuses! {
    /// Statuses of `login_unique`.
    pub enum LoginUniqueStatus {
        /// Success: a new guest account was made.
        Created = 1 => "new account created",
        /// The unique_id has an account name and password: use `login`. No token.
        AccountBound = 2 => "account already bound",
        InvalidUniqueId = 96 => "unique_id contains spaces",
        EmptyUniqueId = 99 => "unique id is empty",
    }
}

crate::module_statuses! {
    /// Statuses of `login`: one for every failure, so an answer does not tell an unknown
    /// account from a wrong password.
    pub enum LoginStatus {
        InvalidCredentials = 1 => "invalid credentials",
    }
}

crate::module_statuses! {
    /// Statuses of `bind_account`.
    pub enum BindAccountStatus {
        AlreadyBound = 96 => "account already bound",
        AccountTaken = 97 => "the account name has been used",
        InvalidPassword = 98 => "invalid password",
        InvalidAccount = 99 => "invalid account name",
    }
}

crate::module_statuses! {
    /// Statuses any account function may answer.
    pub enum AccountStatus {
        /// The token's account row does not exist (deleted, or never created).
        NoSuchAccount = 85 => "account does not exist",
    }
}

crate::module_statuses! {
    /// Statuses of `enter_world`.
    pub enum EnterWorldStatus {
        /// Not an error: the session is in `data`; the client creates its player next.
        NewToWorld = 98 => "have not been in this world before",
    }
}

crate::module_statuses! {
    /// Statuses of `bind_email` and `bind_phone`.
    pub enum BindContactStatus {
        /// Not a plain `local@domain` address / not a phone number.
        InvalidAddress = 93 => "invalid email address or phone number",
        /// The server has no SMTP server (email) or phone hook (phone) configured.
        NotConfigured = 94 => "verification codes cannot be sent from this server",
        /// Daily limit used up, or a code sent less than 5 minutes ago is still valid.
        RateLimited = 95 => "too many codes sent today",
        /// Delivery failed; `data.message` says so. No code is outstanding.
        NotSent = 96 => "code could not be sent",
        UsedByAnother = 97 => "already used by another account",
        AlreadyBound = 98 => "this account already has one bound",
        NoAccountName = 99 => "account is not bound",
    }
}

crate::module_statuses! {
    /// Statuses of `unbind_email` and `unbind_phone`.
    pub enum UnbindContactStatus {
        InvalidAddress = 93 => "invalid email address or phone number",
        NotConfigured = 94 => "verification codes cannot be sent from this server",
        RateLimited = 95 => "too many codes sent today",
        NotSent = 96 => "code could not be sent",
        /// Not the address / number bound to this account.
        Mismatch = 97 => "does not match the one bound to this account",
        NoneBound = 98 => "none bound to this account",
        NoAccountName = 99 => "account is not bound",
    }
}

crate::module_statuses! {
    /// Statuses of `verify_email_code` and `verify_phone_code`.
    pub enum VerifyStatus {
        /// Success of an unbind (status 1): the address was removed.
        Unbound = 1 => "unbind success, verified",
        /// `status` is neither 0 (bind) nor 1 (unbind).
        InvalidStatus = 90 => "invalid status",
        /// Bind: another account bound it meanwhile. Unbind: it is no longer this
        /// account's.
        Conflict = 97 => "already used by another account",
        AlreadyBound = 98 => "account already has one bound",
        /// No such code outstanding: wrong, expired, used, or out of attempts.
        InvalidCode = 99 => "invalid code",
    }
}

crate::module_statuses! {
    /// Statuses any function may answer, from the handler and the shared helpers (the
    /// player check before a [`Run::Player`](crate::function::Run::Player) function,
    /// `item::spend`, `item::grant`). The original's module documents use 0–6 and 86–99, so
    /// these sit beside the framework's 10–16 (docs/PROTOCOL.md, "Project additions"). A
    /// module whose document names its own status for the same condition (e.g. "materials
    /// insufficient") maps to that instead.
    pub enum SharedStatus {
        /// The caller (or the target) has no player in this world.
        NoPlayer = 17 => "no player in this world: create one first",
        /// A spend would take an item below zero; nothing was spent.
        NotEnoughItems = 18 => "not enough items",
        /// An item string is malformed or names an item `items.json` does not define.
        InvalidItem = 19 => "invalid item",
    }
}

crate::module_statuses! {
    /// Statuses of `create_player`.
    pub enum CreatePlayerStatus {
        /// The name breaks the name rules; the message says which.
        InvalidName = 98 => "player name is empty or not legal",
        /// This account has a player in this world, or the name is taken there.
        Exists = 99 => "player uid or name already exists",
    }
}

crate::module_statuses! {
    /// Statuses of `change_player_name`.
    pub enum ChangeNameStatus {
        /// The name breaks the name rules (or is the current name); the message says which.
        InvalidName = 97 => "player name is empty or not legal",
        /// Fewer diamonds than `name_change_cost`: nothing was paid.
        MaterialsInsufficient = 98 => "materials insufficient",
        NameTaken = 99 => "the player name has been used",
    }
}

crate::module_statuses! {
    /// Statuses of `player_set_intro` and `player_set_icon`.
    pub enum ProfileStatus {
        /// Too long, a forbidden character, or out of range; the message says which.
        InvalidValue = 99 => "invalid value",
    }
}

crate::module_statuses! {
    /// Statuses of `add_resources`.
    pub enum PlayerStatus {
        /// `add_resources` names no target or two targets.
        InvalidTarget = 83 => "name exactly one target: gn_target or uid_target",
    }
}

crate::module_statuses! {
    /// Statuses of the weapon functions.
    pub enum WeaponStatus {
        /// `weapon.json` defines no weapon with this id.
        UnknownWeapon = 80 => "no such weapon",
        /// The player does not own this weapon.
        NotOwned = 81 => "you do not own this weapon",
        /// The level asked for is above the weapon's `max_level`.
        MaxLevel = 82 => "the weapon cannot go above its max level",
        /// The weapon has its highest star already.
        MaxStar = 83 => "the weapon has its highest star already",
        /// `delta` is below 1.
        InvalidDelta = 84 => "delta must be at least 1",
    }
}

crate::module_statuses! {
    /// Statuses of the family functions (`*_family`). An unknown `gn_target` answers the
    /// shared `NoPlayer` (90), a create the caller cannot pay the shared `NotEnoughItems` (91).
    pub enum FamilyStatus {
        /// A bad name, notice or role, or acting on yourself; the message says which.
        InvalidArgument = 80 => "invalid argument",
        NameTaken = 81 => "family name is already taken",
        AlreadyInFamily = 82 => "you are already in a family",
        NotInFamily = 83 => "you are not in a family",
        NoSuchFamily = 84 => "family does not exist",
        FamilyFull = 85 => "family is full",
        RoleTooLow = 86 => "your family role does not allow this",
        NotAMember = 87 => "player is not a member of your family",
        TargetInFamily = 88 => "player is already in a family",
        InvalidRequest = 89 => "not a valid family invitation or request",
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

crate::module_statuses! {
    /// Statuses of the friend functions (`*_friend`, `find_person`). An unknown `gn_target`
    /// answers the shared `NoPlayer` (90).
    pub enum FriendStatus {
        NotYourself = 80 => "not possible on yourself",
        AlreadyFriends = 81 => "already friends",
        NotFriends = 82 => "not friends",
        FriendLimit = 83 => "your friend list is full",
        TargetFriendLimit = 84 => "their friend list is full",
        GiftAlreadySent = 85 => "gift to this friend already sent today",
        InvalidRequest = 86 => "not a valid friend request",
    }
}

crate::module_statuses! {
    /// Statuses of the mail functions (`*_mail`, `accept_gifts`) and of accepting any request
    /// mail (`respond_friend`, `respond_family` answer 82–84 for the mail itself). An unknown
    /// `gn_target` answers the shared `NoPlayer` (90).
    pub enum MailStatus {
        MailboxFull = 80 => "the recipient's mailbox is full",
        DailyLimit = 81 => "daily mail limit reached, try again tomorrow",
        NoSuchMail = 82 => "no such mail in your mailbox",
        AlreadyAccepted = 83 => "this mail was already accepted",
        WrongKind = 84 => "this mail is not of that kind",
        InvalidArgument = 85 => "invalid argument",
    }
}

/// Token claim `role` that admin-only functions require.
pub const ADMIN_ROLE: &str = "admin";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::ModuleStatus;

    fn distinct<S: ModuleStatus + std::fmt::Debug>(all: &[S]) {
        for (i, s) in all.iter().enumerate() {
            assert!(!s.message().is_empty(), "{s:?}");
            assert!(
                all[i + 1..].iter().all(|t| t.code() != s.code()),
                "{s:?}: code twice"
            );
            assert!(!(10..=16).contains(&s.code()), "{s:?}: a framework status");
        }
    }

    #[test]
    fn every_table_has_distinct_codes_and_a_message_each() {
        distinct(RegisterStatus::ALL);
        distinct(LoginUniqueStatus::ALL);
        distinct(LoginStatus::ALL);
        distinct(BindAccountStatus::ALL);
        distinct(AccountStatus::ALL);
        distinct(EnterWorldStatus::ALL);
        distinct(BindContactStatus::ALL);
        distinct(UnbindContactStatus::ALL);
        distinct(VerifyStatus::ALL);
        distinct(CreatePlayerStatus::ALL);
        distinct(ChangeNameStatus::ALL);
        distinct(ProfileStatus::ALL);
        distinct(SharedStatus::ALL);
        for s in SharedStatus::ALL {
            assert!(
                (17..=19).contains(&s.code()),
                "{s:?}: beside the framework's"
            );
        }
        distinct(PlayerStatus::ALL);
        distinct(WeaponStatus::ALL);
        distinct(FamilyStatus::ALL);
        distinct(FriendStatus::ALL);
        distinct(MailStatus::ALL);
    }
}
