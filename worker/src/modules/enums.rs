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
        /// The client address used up its budget of new guest accounts for the day
        /// (`--guests-per-address-per-day`); existing guests still log in. No token.
        TooManyGuests = 3 => "too many new accounts from this address today",
        InvalidUniqueId = 96 => "unique_id contains spaces",
        EmptyUniqueId = 99 => "unique id is empty",
    }
}

crate::module_statuses! {
    /// Statuses of `login`: one for every failure, so an answer does not tell an unknown
    /// account from a wrong password.
    pub enum LoginStatus {
        InvalidCredentials = 1 => "invalid credentials",
        /// The failed-login budget of the account named, or of the client address, is used
        /// up for the window; no password is checked. Known and unknown accounts alike.
        TooManyFailures = 2 => "too many failed logins, try again later",
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

// Role, skill and armor statuses: the original's role.py, skill.py and armor.py codes, one
// table per function (the same number means different things in different functions).

crate::module_statuses! {
    /// Statuses of `level_up_role`.
    pub enum RoleLevelStatus {
        /// No such role id, or the caller has neither the role nor its segments.
        InvalidTarget = 99 => "invalid target",
        /// `delta` below 1, or the role already at its tier's max level (the original
        /// clamps `delta` to the max first, so a role at the max answers this).
        InvalidDelta = 98 => "The delta must be a positive integer",
        /// Not enough exp points or coins (each level costs the same number of both).
        CannotPay = 97 => "can not pay for upgrade",
        /// Star 0: only segments, the role is not unlocked yet.
        NotUnlocked = 96 => "You don't have the role",
    }
}

crate::module_statuses! {
    /// Statuses of `level_up_star_role`.
    pub enum RoleStarStatus {
        InvalidTarget = 99 => "invalid target",
        InsufficientSegments = 98 => "insufficient segments",
        MaxStar = 97 => "max star",
    }
}

crate::module_statuses! {
    /// Statuses of `unlock_passive_role`.
    pub enum RolePassiveStatus {
        /// `rid` is not a role of the game.
        RoleIdError = 99 => "Role id error",
        /// `pid` is not a passive of roles.json (101..110).
        PassiveIdError = 98 => "Passive skill id error",
        /// The caller has neither the role nor its segments.
        InvalidTarget = 97 => "invalid target",
        NotUnlocked = 96 => "You don't have the role",
        LevelTooLow = 95 => "Your role level has not reached the unlock level",
        /// Answered with the caller's unlocked passives, as the original.
        AlreadyUnlocked = 94 => "This passive is unlocked",
        InsufficientMaterials = 93 => "insufficient materials",
    }
}

crate::module_statuses! {
    /// Statuses of `level_up_skill`.
    pub enum SkillLevelStatus {
        /// The scroll was spent and the roll failed: the skill kept its level.
        Unlucky = 1 => "unlucky",
        NotLearned = 96 => "skill not yet unlocked",
        InvalidScroll = 97 => "invalid scroll id",
        InsufficientMaterials = 98 => "insufficient materials",
        MaxLevel = 99 => "already max level",
    }
}

crate::module_statuses! {
    /// Statuses of `upgrade_armor`.
    pub enum ArmorUpgradeStatus {
        /// Fewer lower armors than the recipe needs (three of a level make one above).
        InsufficientArmor = 97 => "Insufficient basic armor",
        InvalidArmor = 98 => "invalid aid",
        /// `level` (the level to make) outside 2..11.
        InvalidLevel = 99 => "invalid level",
    }
}

// Family statuses: the original's codes, which differ per function (99 is "not in a
// family" for most, but "invalid family name" for create_family), so each function has
// its own table. Success messages are the original's too (0 "created family", ...).

crate::module_statuses! {
    /// Statuses of `get_all_family` and `set_blackboard_family`.
    pub enum FamilyStatus {
        NotInFamily = 99 => "not in a family",
        NoPermission = 98 => "insufficient permissions",
    }
}

crate::module_statuses! {
    /// Statuses of `create_family`.
    pub enum CreateFamilyStatus {
        Created = 0 => "created family",
        /// Empty or against `name_rules`; the message says which rule.
        InvalidName = 99 => "invalid family name",
        AlreadyInFamily = 98 => "already in a family",
        InsufficientMaterials = 97 => "insufficient materials",
        NameTaken = 96 => "name already exists!",
        LevelTooLow = 95 => "you must over level 18",
    }
}

crate::module_statuses! {
    /// Statuses of `search_family`.
    pub enum SearchFamilyStatus {
        NoSuchFamily = 99 => "there is no such family",
    }
}

crate::module_statuses! {
    /// Statuses of `request_join_family`.
    pub enum RequestJoinFamilyStatus {
        Requested = 0 => "requested join",
        AlreadyInFamily = 99 => "already in a family",
        /// No such family (or one without an admin or owner).
        InvalidFamily = 98 => "invalid family",
        NotSent = 97 => "request could not be sent",
        /// `data.seconds`: how long until the player may join again.
        Cooldown = 96 => "leaving the family cooldown is not over",
        /// `data.exp_info`.
        LevelTooLow = 95 => "your level is below the family level",
        DailyLimit = 94 => "no more join requests today",
    }
}

crate::module_statuses! {
    /// Statuses of `invite_user_family`.
    pub enum InviteFamilyStatus {
        Invited = 0 => "invited user",
        NotInFamily = 99 => "not in a family",
        NoPermission = 98 => "insufficient permissions",
        MailError = 97 => "internal mail error",
        /// `data.seconds`.
        TargetCooldown = 96 => "the invited player's leave cooldown has not ended",
        TargetLevelTooLow = 95 => "the invited player's level is too low",
        TargetInFamily = 94 => "the invitee has already joined a family",
        NoSuchTarget = 93 => "the invited user does not exist",
        TargetMailboxFull = 92 => "target mailbox full",
        DailyLimit = 91 => "we've run out of invitations today",
        /// An invitation of this family waits in the player's mailbox already.
        AlreadyInvited = 90 => "an invitation from this family is already pending",
    }
}

crate::module_statuses! {
    /// Statuses of `respond_family`.
    pub enum RespondFamilyStatus {
        /// Not a family request or invitation in your mailbox, already answered, or one
        /// whose sender no longer has the role to make it; the message says which.
        InvalidNonce = 99 => "invalid nonce",
        TargetInFamily = 98 => "target user is already in family",
        NoSuchFamily = 97 => "family no longer exists",
        FamilyFull = 96 => "family is full",
    }
}

crate::module_statuses! {
    /// Statuses of `leave_family`.
    pub enum LeaveFamilyStatus {
        Left = 0 => "left family",
        NotInFamily = 99 => "not in a family",
        OwnerCannotLeave = 98 => "owner can not leave family",
    }
}

crate::module_statuses! {
    /// Statuses of `remove_user_family`.
    pub enum RemoveFamilyStatus {
        Removed = 0 => "removed user",
        NotInFamily = 99 => "not in a family",
        TargetNotInYourFamily = 98 => "target is not in your family",
        NoPermission = 97 => "insufficient permissions",
        NotYourself = 96 => "you can't remove yourself",
        /// Also: no such player.
        TargetNotInFamily = 95 => "target doesn't have a family",
        /// `data.cd_time`: seconds until the next game day.
        DailyLimit = 94 => "we have run out of members to remove today",
    }
}

crate::module_statuses! {
    /// Statuses of `set_role_family`.
    pub enum SetRoleFamilyStatus {
        NotYourself = 99 => "can not modify self",
        NotInFamily = 98 => "not in family",
        /// Also: no such player.
        TargetNotInYourFamily = 97 => "target not in your family",
        NoPermission = 96 => "insufficient permissions",
        InvalidRole = 95 => "role type error",
        SameRole = 94 => "the member already has this role",
    }
}

crate::module_statuses! {
    /// Statuses of `set_notice_family`.
    pub enum SetNoticeFamilyStatus {
        NotInFamily = 99 => "not in family",
        NoPermission = 98 => "insufficient permissions",
        DailyLimit = 97 => "the number of announcements today has been used up",
    }
}

crate::module_statuses! {
    /// Statuses of `set_icon_family`.
    pub enum SetIconFamilyStatus {
        /// Below 0 or above 65535.
        InvalidIcon = 99 => "wrong icon number",
        NotInFamily = 98 => "you don't have a family",
        NoPermission = 97 => "you have no access",
        SameIcon = 96 => "cannot be set to the original icon",
    }
}

crate::module_statuses! {
    /// Statuses of `change_name_family`.
    pub enum ChangeNameFamilyStatus {
        InvalidName = 99 => "invalid family name",
        NotInFamily = 98 => "not in family",
        NoPermission = 97 => "insufficient permissions",
        InsufficientFunds = 96 => "insufficient funds",
        NameTaken = 95 => "family names have been used",
    }
}

crate::module_statuses! {
    /// Statuses of `disband_family`.
    pub enum DisbandFamilyStatus {
        NotInFamily = 99 => "not in family",
        NoPermission = 98 => "insufficient permissions",
        AlreadyDisbanding = 97 => "family already disbanded",
    }
}

crate::module_statuses! {
    /// Statuses of `cancel_disband_family`.
    pub enum CancelDisbandFamilyStatus {
        NotInFamily = 99 => "not in family",
        NoPermission = 98 => "insufficient permissions",
        NotDisbanding = 97 => "family is not disbanded",
    }
}

crate::module_statuses! {
    /// Statuses of `check_in_family`.
    pub enum CheckInFamilyStatus {
        NotInFamily = 99 => "not in family",
        AlreadyCheckedIn = 98 => "already checked in today",
    }
}

crate::module_statuses! {
    /// Statuses of `abdicate_family`.
    pub enum AbdicateFamilyStatus {
        NotInFamily = 99 => "you don't have a family",
        NoSuchTarget = 98 => "the target object does not exist",
        TargetNotInFamily = 97 => "objects have no family",
        /// Also: the target is yourself.
        NotSameFamily = 96 => "you and your partner are not in the same family",
        NotOwner = 95 => "you are not a patriarch",
    }
}

crate::module_statuses! {
    /// Statuses of `market_purchase_family` (the original's code: 97 unknown goods, 98 too
    /// few family coins; its document has the two swapped).
    pub enum MarketFamilyStatus {
        NotInFamily = 99 => "not in family",
        LackOfMaterial = 98 => "lack of material",
        NoSuchGoods = 97 => "goods doesn't exist",
    }
}

crate::module_statuses! {
    /// Statuses of `welfare_purchase_family`.
    pub enum WelfareFamilyStatus {
        NotInFamily = 99 => "not in family",
        LackOfMaterial = 98 => "lack of material",
        NoSuchGift = 97 => "gift doesn't exist",
        /// The document's once per person, per gift, per game day.
        AlreadyBoughtToday = 96 => "you already bought this gift today",
    }
}

crate::module_statuses! {
    /// Statuses of the stage functions: the original's stage.py codes, one table for all
    /// of them (each code means the same in every stage function).
    pub enum StageStatus {
        /// `stage_mopping_up` of a stage not cleared yet.
        NotCleared = 99 => "Do not sweep until you pass this checkpoint",
        NoConfig = 98 => "There is no configuration information for this stage",
        NoEnergy = 97 => "energy insufficient",
        /// `stage_mopping_up`'s `count` below 1.
        NotPositive = 96 => "Can only be a positive integer",
        NoMaterials = 95 => "materials insufficient",
        /// A victory without an open enter of that stage.
        Mismatch = 94 => "stage mismatch",
        /// A boss `damage` below 0 or above `constraint.stage.BOSS.damage`.
        AbnormalDamage = 93 => "abnormal damage",
        NoTicket = 92 => "no more ticket, try tomorrow",
        /// A stage outside the mode's range, or beyond the next one to clear.
        StageError = 91 => "stage error",
        LevelTooLow = 90 => "level insufficient",
        PageError = 89 => "Page number error",
        NoPageData = 88 => "No data for this page",
        /// `stage_hang_up` before the first endless stage is cleared.
        EndlessNotCleared = 87 => "You didn't go pass",
        /// `stage_hang_up`'s first call: idling starts now.
        NeverHungUp = 86 => "You never hung up before",
    }
}

// ------------------------------------------------------------------ factory
// The original's factory.py codes, one table per function as its document lists them.

crate::module_statuses! {
    /// Statuses of `upgrade_factory`.
    pub enum UpgradeFactoryStatus {
        /// `fid` is not an upgradable factory (-2 wishing pool, 0 food, 1 iron, 2 crystal).
        InvalidFid = 99 => "invalid fid",
        /// Not enough crystal (nothing paid).
        InsufficientFunds = 98 => "insufficient funds",
        /// factory.json lists no cost for the next level.
        MaxLevel = 97 => "max level",
    }
}

crate::module_statuses! {
    /// Statuses of `buy_worker_factory`.
    pub enum BuyWorkerFactoryStatus {
        InsufficientFood = 98 => "insufficient food",
    }
}

crate::module_statuses! {
    /// Statuses of `update_worker_factory`: nothing changes with any of them.
    pub enum UpdateWorkerFactoryStatus {
        /// The allocation needs more workers than the player owns.
        InsufficientWorkers = 99 => "insufficient workers",
        /// A factory would get more workers than its level allows.
        OverLimits = 98 => "factory worker over limits",
        /// A key that is not a factory with workers (0 food, 1 iron, 2 crystal, 3 armor).
        InvalidFid = 97 => "invalid fid supplied",
    }
}

crate::module_statuses! {
    /// Statuses of `buy_acceleration_factory`.
    pub enum BuyAccelerationStatus {
        InsufficientFunds = 99 => "insufficient funds",
    }
}

crate::module_statuses! {
    /// Statuses of `activate_wishing_pool_factory`.
    pub enum WishingPoolStatus {
        /// Not enough diamonds for this wish (nothing paid, nothing granted).
        InsufficientDiamonds = 99 => "insufficient diamonds",
        /// Every wish of the running cooldown is used.
        NoWishesLeft = 98 => "The number of draws has reached the limit today",
        /// `wid` is not a weapon (ours: the original failed).
        InvalidWid = 97 => "invalid wid",
    }
}

crate::module_statuses! {
    /// Statuses of `set_armor_factory` (ours: the original failed on a bad `aid`).
    pub enum SetArmorFactoryStatus {
        InvalidAid = 99 => "invalid aid",
    }
}

crate::module_statuses! {
    /// Statuses of `gather_resource_factory`.
    pub enum GatherResourceStatus {
        /// `resource` names no factory, or a key that is not 0-3.
        InvalidResource = 99 => "invalid resource",
    }
}

crate::module_statuses! {
    /// Statuses of `iron_convert_factory`.
    pub enum IronConvertStatus {
        /// `aid` not 1-4 ("aid error") or `qty` below 1 ("qty error").
        BadArgument = 99 => "aid error",
        InsufficientIron = 98 => "Insufficient iron",
    }
}

crate::module_statuses! {
    /// Statuses of `get_login_token_chat`.
    pub enum ChatStatus {
        /// More than `--chat-tokens-per-minute` tokens within a minute; nothing issued.
        TooManyTokens = 95 => "too many chat tokens: try again in a minute",
    }
}

#[cfg(test)]
mod family_status_tests {
    use super::*;
    use crate::function::ModuleStatus;

    fn distinct<S: ModuleStatus + std::fmt::Debug>(all: &[S]) {
        for (i, s) in all.iter().enumerate() {
            assert!(!s.message().is_empty(), "{s:?}");
            assert!(
                all[i + 1..].iter().all(|t| t.code() != s.code()),
                "{s:?}: code twice"
            );
            assert!(
                s.code() == 0 || (90..=99).contains(&s.code()),
                "{s:?}: the original's codes"
            );
        }
    }

    #[test]
    fn every_family_table_has_distinct_original_codes() {
        distinct(FamilyStatus::ALL);
        distinct(CreateFamilyStatus::ALL);
        distinct(SearchFamilyStatus::ALL);
        distinct(RequestJoinFamilyStatus::ALL);
        distinct(InviteFamilyStatus::ALL);
        distinct(RespondFamilyStatus::ALL);
        distinct(LeaveFamilyStatus::ALL);
        distinct(RemoveFamilyStatus::ALL);
        distinct(SetRoleFamilyStatus::ALL);
        distinct(SetNoticeFamilyStatus::ALL);
        distinct(SetIconFamilyStatus::ALL);
        distinct(ChangeNameFamilyStatus::ALL);
        distinct(DisbandFamilyStatus::ALL);
        distinct(CancelDisbandFamilyStatus::ALL);
        distinct(CheckInFamilyStatus::ALL);
        distinct(AbdicateFamilyStatus::ALL);
        distinct(MarketFamilyStatus::ALL);
        distinct(WelfareFamilyStatus::ALL);
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
    /// Statuses of `science_up` (the original's science.py codes).
    pub enum ScienceStatus {
        /// The player's level is below the mode's `constraint.level`.
        PlayerLevel = 99 => "insufficient level",
        /// The science is at the mode's `constraint.slv`.
        MaxLevel = 98 => "max level",
        /// No sciences.json entry for the mode, or no cost for the sub-science's next level.
        NoConfig = 97 => "config does not exist",
        /// Too few of an item the level costs (nothing paid).
        Materials = 96 => "materials insufficient",
        /// A sub-science may not go above its mode's master.
        MasterLevel = 95 => "The level of science master is inadequate",
        /// `ssa` is no science the game knows.
        BadSsa = 94 => "ssa error",
    }
}

crate::module_statuses! {
    /// Statuses of `player_element_lv` (the original's player.py codes).
    pub enum ElementLevelStatus {
        /// `eid` is not an element (1000-1003).
        UnknownElement = 99 => "eid error",
        /// Every point the player's level gives is spent.
        NoPoints = 98 => "insufficient element skill points",
        MaxLevel = 97 => "max element skill",
    }
}

crate::module_statuses! {
    /// Statuses of `player_element_reset`.
    pub enum ElementResetStatus {
        /// The player's resets (three for a life, never renewed) are used up.
        NoResets = 99 => "Insufficient resets",
    }
}

crate::module_statuses! {
    /// Statuses of `get_vip_daily_reward` (the original's vip.py code; its document has
    /// the two swapped).
    pub enum VipDailyStatus {
        /// Claimed already this game day (UTC+8).
        Claimed = 99 => "The cooling time is not over",
        /// No month card nor perpetual card is active.
        NotVip = 98 => "You're not a VIP",
    }
}

crate::module_statuses! {
    /// Statuses of `purchase_vip_gift`.
    pub enum VipGiftStatus {
        /// `tier` is above the player's VIP level.
        VipLevel = 99 => "You don't have enough VIP status",
        /// Fewer diamonds than the gift's `cast_diamond` (nothing paid).
        Diamonds = 98 => "Diamond insufficient",
        /// No gift of that tier in vip_config.json (a negative tier).
        UnknownTier = 97 => "no such gift tier",
    }
}

crate::module_statuses! {
    /// Statuses of `purchase_vip_card` (without a card item to use: the shared 18).
    pub enum VipCardStatus {
        /// `card_id` is not a VIP card (26, 27, 28).
        UnknownCard = 99 => "card id error",
        /// The perpetual card is already active (another would change nothing).
        Active = 98 => "VIP card has not expired",
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
        /// A request from this sender to this recipient waits there already (one pending
        /// request per sender and recipient; issue 15).
        RequestPending = 86 => "a request of yours is already pending in that mailbox",
        /// The mail was not delivered (the mailbox is full, or `send_mail`'s subj/body
        /// break the bounds: the message says which).
        NotSent = 98 => "the mail could not be delivered",
        /// The original's 99, with a message per case: the daily send limit is used up, an
        /// empty `key`, an admin mail's unknown `gn_target`.
        Refused = 99 => "refused",
    }
}

// Check-in, daily tasks and achievements: the original's codes (check_in.py, task.py,
// achievement.py), per function.

crate::module_statuses! {
    /// Statuses of `check_in_sign`.
    pub enum CheckInSignStatus {
        Signed = 0 => "Sign-in success",
        AlreadySigned = 99 => "You have already signed in today",
    }
}

crate::module_statuses! {
    /// Statuses of `check_in_supplement`.
    pub enum CheckInSupplementStatus {
        Supplemented = 0 => "Successful signing",
        /// Every day of this month before today is signed.
        NoDayMissing = 98 => "no day missing",
        /// Not enough to pay `consume` for every missing day (nothing was paid).
        MaterialsInsufficient = 97 => "materials insufficient",
    }
}

crate::module_statuses! {
    /// Statuses of `check_in_all`: its success message only.
    pub enum CheckInAllStatus {
        All = 0 => "Successfully obtained all check-in status this month",
    }
}

crate::module_statuses! {
    /// Statuses of `get_task_reward`.
    pub enum TaskRewardStatus {
        Granted = 0 => "get reward success",
        /// The task is not done today, or its reward was claimed already.
        NoReward = 99 => "no reward for this task",
        /// `task_id` is not a task of the original's `Task` ids.
        BadTaskId = 98 => "task id type error",
    }
}

crate::module_statuses! {
    /// Statuses of `get_achievement_reward`.
    pub enum AchievementRewardStatus {
        /// No reward step reached and not claimed (or the achievement has no steps).
        NoReward = 99 => "no reward for this achievement",
        /// The player never made progress on it (the original's 98 for no record; also
        /// its 98 for a config whose `count` and `qty` differ in length).
        NoRecord = 98 => "no reward for this achievement: no progress recorded",
        /// `achievement_id` is not an achievement of the original's ids.
        NoSuchAchievement = 97 => "Aid does not exist",
    }
}

crate::module_statuses! {
    /// Statuses of `activate_achievement`.
    pub enum ActivateAchievementStatus {
        /// `aid` is not an achievement the client activates (101, 102).
        NoSuchAchievement = 97 => "Aid does not exist",
    }
}

// Dark market: the original's darkmarket.py codes, per function.

crate::module_statuses! {
    /// Statuses of `get_all_market`: two successes.
    pub enum GetMarketStatus {
        /// New offers were drawn (the first visit, or a refresh period passed).
        Refreshed = 0 => "Dark market refreshed successfully",
        /// The offers drawn before, unchanged.
        Unchanged = 1 => "Get all black market information",
    }
}

crate::module_statuses! {
    /// Statuses of `refresh_market` (a free refresh while any is left, else a paid one).
    pub enum RefreshMarketStatus {
        Refreshed = 0 => "Dark market refreshed successfully",
        /// No free refresh left and too few diamonds for a paid one (nothing paid).
        Diamonds = 98 => "Insufficient diamond",
        /// The player never opened the market (`get_all_market` draws its first offers).
        NotYet = 99 => "You have not yet done an automatic refresh",
    }
}

crate::module_statuses! {
    /// Statuses of `darkmarket_transaction`.
    pub enum MarketBuyStatus {
        Bought = 0 => "Purchase success",
        /// A stored offer of a group the market does not sell (never drawn by ours).
        BadGroup = 94 => "The server found an abnormal group id",
        /// A skill offer for a skill the player has learned (nothing paid).
        HasSkill = 95 => "You already have this skill",
        /// Too little of the offer's currency (nothing paid).
        Currency = 96 => "Insufficient currency",
        /// This offer was bought already (each is sold once until the next refresh).
        Sold = 97 => "The item has been purchased",
        /// No offer at `pid` yet: the player never opened the market.
        NotYet = 98 => "You have not yet done an automatic refresh",
        /// `pid` is not a slot of the market (0 to `constraint.grid` - 1).
        BadPid = 99 => "parameter error",
    }
}

// Summoning: the original's summoning.py codes.

crate::module_statuses! {
    /// Statuses of the summoning store functions (`refresh_*_store`, `buy_refresh_*`,
    /// `single_pump_*`, `dozen_pump_*`).
    pub enum SummonStatus {
        /// Success of `refresh_*_store` showing the current store (0: a new one was made).
        Shown = 1 => "get all refresh info",
        /// summon.json has no entry for this store.
        NoConfig = 93 => "The configuration file does not exist",
        /// The coin store's pulls of this game day are used up.
        NoDraws = 95 => "Insufficient number of lucky draw",
        /// Too few scrolls and too little of the store's currency (nothing was paid).
        Materials = 99 => "insufficient materials",
    }
}

crate::module_statuses! {
    /// Statuses of `integral_convert`.
    pub enum IntegralStatus {
        /// A step of 200, 400, 600 or 800 unlocked a role.
        Unlocked = 0 => "You unlocked a role",
        /// The step's role was unlocked already: its segments instead.
        Segments = 1 => "You get segments of the role",
        /// The last step (1000): universal segments; the progress starts over.
        Universal = 2 => "You get the universal segments",
        /// The integral has not reached the next step.
        Materials = 99 => "insufficient materials",
    }
}

// The mall: the original's mall.py codes, per function, and ours where the original had
// none (a receipt replayed, refused or not verifiable; a code redeemed twice).

crate::module_statuses! {
    /// Statuses of `purchase_success` (0: an item credited). Without a purchase verifier
    /// configured a caller without the admin role gets the framework's 15.
    pub enum PurchaseStatus {
        /// Success: a VIP card was activated (`cooling_time`, `card_id`), as the original.
        Card = 1 => "success",
        /// The player holds too much of the item for the whole product (nothing is
        /// recorded: the same order credits once there is room).
        NoRoom = 92 => "not enough room for the product: use some of the item, then try again",
        /// `currency` is not one of the product's prices in mall.json.
        Currency = 93 => "currency error",
        /// The verifier could not be asked or gave no usable answer: nothing was credited,
        /// the same order may be sent again.
        VerifierUnavailable = 94 => "purchase could not be verified now, try again later",
        /// The verifier refused the receipt: nothing was credited.
        NotVerified = 95 => "purchase not verified",
        /// This `order_id` was credited before: nothing was credited now.
        AlreadyCredited = 96 => "order already credited",
        /// The product has no usable mall.json entry, or is larger than the item's max
        /// (it could never be credited whole).
        ConfigError = 97 => "config error",
        /// `pid` is not a product the mall sells for money.
        PidError = 98 => "pid error",
        /// `user_name` is not the caller's player (or, for an admin, names no player).
        UserName = 99 => "username error",
    }
}

crate::module_statuses! {
    /// Statuses of `exchange_prop`.
    pub enum ExchangeStatus {
        /// The player holds too much of the item for the whole product (the code's use is
        /// not taken).
        NoRoom = 93 => "not enough room for the product: use some of the item, then try again",
        /// This player redeemed this code before.
        AlreadyRedeemed = 94 => "exchange code already redeemed by you",
        /// The code's product has no usable mall.json entry, or is larger than the
        /// item's max.
        ConfigError = 95 => "config error",
        /// The code's product is not one the mall sells.
        PidError = 96 => "pid error",
        Expired = 97 => "exchange code expired",
        UsedUp = 98 => "exchange code used up",
        /// No such code for this `game_id`.
        NoSuchCode = 99 => "exchange code does not exist",
    }
}

crate::module_statuses! {
    /// Statuses of `create_exchange_code` (an operator's function).
    pub enum CreateExchangeStatus {
        /// `game_id` or `exchange_id` breaks the text rules (the message says which).
        InvalidCode = 97 => "invalid game_id or exchange_id",
        /// `pid` is not a product the mall sells.
        PidError = 98 => "pid error",
        /// A code with this `game_id` and `exchange_id` exists already.
        Exists = 99 => "exchange code exists",
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
        distinct(WeaponLevelStatus::ALL);
        distinct(WeaponStarStatus::ALL);
        distinct(WeaponPassiveStatus::ALL);
        distinct(WeaponResetStatus::ALL);
        distinct(RoleLevelStatus::ALL);
        distinct(RoleStarStatus::ALL);
        distinct(RolePassiveStatus::ALL);
        distinct(SkillLevelStatus::ALL);
        distinct(ArmorUpgradeStatus::ALL);
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
        distinct(ScienceStatus::ALL);
        distinct(ElementLevelStatus::ALL);
        distinct(ElementResetStatus::ALL);
        distinct(VipDailyStatus::ALL);
        distinct(VipGiftStatus::ALL);
        distinct(VipCardStatus::ALL);
        distinct(MailStatus::ALL);
        distinct(CheckInSignStatus::ALL);
        distinct(CheckInSupplementStatus::ALL);
        distinct(CheckInAllStatus::ALL);
        distinct(TaskRewardStatus::ALL);
        distinct(AchievementRewardStatus::ALL);
        distinct(ActivateAchievementStatus::ALL);
        distinct(StageStatus::ALL);
        distinct(GetMarketStatus::ALL);
        distinct(RefreshMarketStatus::ALL);
        distinct(MarketBuyStatus::ALL);
        distinct(SummonStatus::ALL);
        distinct(IntegralStatus::ALL);
        distinct(UpgradeFactoryStatus::ALL);
        distinct(BuyWorkerFactoryStatus::ALL);
        distinct(UpdateWorkerFactoryStatus::ALL);
        distinct(BuyAccelerationStatus::ALL);
        distinct(WishingPoolStatus::ALL);
        distinct(SetArmorFactoryStatus::ALL);
        distinct(GatherResourceStatus::ALL);
        distinct(IronConvertStatus::ALL);
        distinct(PurchaseStatus::ALL);
        distinct(ExchangeStatus::ALL);
        distinct(CreateExchangeStatus::ALL);
    }
}
