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
    /// Statuses of `level_up_weapon` (the original's weapon.py codes).
    pub enum WeaponLevelStatus {
        /// No such weapon id, or the caller has neither the weapon nor its segments.
        InvalidTarget = 99 => "invalid target",
        /// `delta` below 1.
        InvalidDelta = 98 => "The delta must be a positive integer",
        /// Not enough iron or coins (each level costs the same number of both).
        CannotPay = 97 => "can not pay for upgrade",
        /// Star 0: only segments, the weapon is not unlocked yet.
        NotUnlocked = 96 => "You don't have the weapon",
        MaxLevel = 95 => "max lv",
    }
}

crate::module_statuses! {
    /// Statuses of `level_up_star_weapon`.
    pub enum WeaponStarStatus {
        InvalidTarget = 99 => "invalid target",
        InsufficientSegments = 98 => "insufficient segments",
        MaxStar = 97 => "max star",
    }
}

crate::module_statuses! {
    /// Statuses of `level_up_passive_weapon`: every refusal is 99, the message says which.
    pub enum WeaponPassiveStatus {
        /// A passive id the weapon's tier does not have (below 1 or above 3/4).
        PidError = 99 => "pid error",
    }
}

crate::module_statuses! {
    /// Statuses of `reset_skill_point_weapon`.
    pub enum WeaponResetStatus {
        InvalidTarget = 99 => "invalid target",
        /// The reset is paid in diamonds; the original's message says coins.
        InsufficientDiamonds = 98 => "insufficient diamonds",
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
    /// Statuses of `request_friend` (the original's friend.py codes).
    pub enum FriendRequestStatus {
        NotYourself = 99 => "do not be an idiot",
        /// The mail service failed (other than a full mailbox); nothing was kept.
        MailError = 98 => "could not send mail",
        NoSuchPerson = 97 => "no such person",
        /// Six requests a game day (UTC+8) at most.
        DailyLimit = 96 => "6 request for 1 day, try tommorrow",
        /// Already friends, or already requested.
        AlreadyFriends = 95 => "already friends",
        MailboxFull = 94 => "target mailbox full",
    }
}

crate::module_statuses! {
    /// Statuses of `respond_friend`.
    pub enum FriendRespondStatus {
        /// Not a friend request mail in the caller's mailbox, or already accepted.
        InvalidNonce = 99 => "invalid nonce",
        /// The requester has no player any more.
        NoSuchPerson = 98 => "this person has date exception",
        /// The caller's (or the requester's) list has `friend_limit` friends.
        ListFull = 97 => "Your buddy list is full",
    }
}

crate::module_statuses! {
    /// Statuses of `remove_friend`.
    pub enum FriendRemoveStatus {
        NotYourself = 99 => "don't be an idiot",
    }
}

crate::module_statuses! {
    /// Statuses of `send_gift_friend`.
    pub enum FriendGiftStatus {
        /// No confirmed friendship with that player (or no such player).
        NotFriends = 99 => "not friends",
        /// Already sent to this friend this game day (UTC+8).
        Cooldown = 98 => "gift cooldown",
    }
}

crate::module_statuses! {
    /// Statuses of `send_gift_all`.
    pub enum FriendGiftAllStatus {
        NoFriendToGift = 99 => "no friend to send gift",
    }
}

crate::module_statuses! {
    /// Statuses of `find_person`.
    pub enum FindPersonStatus {
        NoSuchPerson = 99 => "no such person",
        NotYourself = 98 => "can't add yourself",
    }
}

crate::module_statuses! {
    /// Statuses of `buy_energy` (the original's package.py codes).
    pub enum BuyEnergyStatus {
        InsufficientDiamonds = 99 => "Insufficient materials",
        /// Six purchases a game day (UTC+8).
        NoPurchasesLeft = 98 => "Insufficient purchase times",
    }
}

crate::module_statuses! {
    /// Statuses of `buy_coin`.
    pub enum BuyCoinStatus {
        InsufficientDiamonds = 99 => "Insufficient materials",
    }
}

crate::module_statuses! {
    /// Statuses of `exchange_card`.
    pub enum ExchangeCardStatus {
        /// `cid` is not an item id of items.json group 3.
        UnknownItem = 99 => "iid error",
        /// The item is not a card of package.json `exchange_card`.
        NotACard = 98 => "card kind error (kind:18-23)",
        /// package.json names a target other than `item` (e.g. the VIP card's `progress`).
        UnsupportedTarget = 97 => "config sql table kind error",
        InvalidQuantity = 96 => "The quantity can only be positive",
        InsufficientCards = 95 => "Insufficient card",
    }
}

crate::module_statuses! {
    /// Statuses of `use_item`: 0 (energy potions) and 1-4 are successes, by what was
    /// exchanged.
    pub enum UseItemStatus {
        /// A weapon universal segment became segments of a random weapon of its tier.
        WeaponSegments = 1 => "success",
        /// A role universal segment became segments of a random role of its tier.
        RoleSegments = 2 => "success",
        /// A universal segment became segments of the weapon or role named in `exchange_id`.
        ChosenSegments = 3 => "success",
        /// Three skill scrolls became one of the next kind.
        Scroll = 4 => "success",
        /// `item_id` is not of item group 3.
        NotAnItem = 99 => "unexpected item",
        /// The item cannot be used (nothing was spent).
        NotUsable = 98 => "this item cannot be used",
        /// `exchange_id` names no weapon or role of the universal segment's tier.
        Mismatch = 97 => "exchange target does not match the segment's tier",
        NotEnough = 96 => "not enough items to use",
        /// Skill scrolls go up in threes.
        ScrollMultiple = 95 => "Scroll upgrades require multiples of 3",
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
        distinct(AccountStatus::ALL);
        distinct(SharedStatus::ALL);
        for s in SharedStatus::ALL {
            assert!(
                (17..=19).contains(&s.code()),
                "{s:?}: beside the framework's"
            );
        }
        distinct(PlayerStatus::ALL);
        distinct(WeaponLevelStatus::ALL);
        distinct(WeaponStarStatus::ALL);
        distinct(WeaponPassiveStatus::ALL);
        distinct(WeaponResetStatus::ALL);
        distinct(FamilyStatus::ALL);
        distinct(FriendRequestStatus::ALL);
        distinct(FriendRespondStatus::ALL);
        distinct(FriendRemoveStatus::ALL);
        distinct(FriendGiftStatus::ALL);
        distinct(FriendGiftAllStatus::ALL);
        distinct(FindPersonStatus::ALL);
        distinct(BuyEnergyStatus::ALL);
        distinct(BuyCoinStatus::ALL);
        distinct(ExchangeCardStatus::ALL);
        distinct(UseItemStatus::ALL);
        distinct(MailStatus::ALL);
    }
}
