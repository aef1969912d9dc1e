//! Ids the game client shares with the server: each module's statuses, item groups, roles,
//! mail types. One place, so client and server agree on every number.

crate::module_statuses! {
    /// Statuses of the account functions. Each module has its own 80–99 range; the function
    /// that answered says which module's table applies.
    pub enum AccountStatus {
        UniqueIdTaken = 80 => "unique_id is already in use",
        AccountTaken = 81 => "account name is already taken",
        WrongCredentials = 82 => "wrong account or password",
        GuestHasCredentials = 83 => "this unique_id has an account and password: log in with them",
        AlreadyBound = 84 => "this account already has an account name and password",
        NoSuchAccount = 85 => "account does not exist",
        InvalidArgument = 86 => "invalid argument",
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
    /// Statuses of the player functions.
    pub enum PlayerStatus {
        /// `create_player` for an account that already has a player in this world.
        PlayerExists = 80 => "this account already has a player in this world",
        NameTaken = 81 => "player name is already taken in this world",
        /// The name breaks the name rules; the message says which.
        InvalidName = 82 => "invalid player name",
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
    /// mail. The original's codes are 98 and 99; 80 and 82–84 are answered by the request
    /// machinery other modules use (`respond_friend`, `respond_family`, and per key in
    /// `accept_gifts`' `reasons`). An unknown `gn_target` of `send_mail` answers the shared
    /// `NoPlayer` (17).
    pub enum MailStatus {
        /// A request mail's recipient has a full mailbox.
        MailboxFull = 80 => "the recipient's mailbox is full",
        NoSuchMail = 82 => "no such mail in your mailbox",
        AlreadyAccepted = 83 => "this mail was already accepted",
        WrongKind = 84 => "this mail is not of that kind",
        /// Admin mail text over mail.json's bounds, an empty `items` list, too many keys.
        InvalidArgument = 85 => "invalid argument",
        /// The mail was not delivered (the mailbox is full, or `send_mail`'s subj/body
        /// break the bounds: the message says which).
        NotSent = 98 => "the mail could not be delivered",
        /// The original's 99, with a message per case: the daily send limit is used up, an
        /// empty `key`, an admin mail's unknown `gn_target`.
        Refused = 99 => "refused",
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
        distinct(AccountStatus::ALL);
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
