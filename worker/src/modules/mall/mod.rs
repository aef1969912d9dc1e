//! The mall (the original's mall.py): in-app purchases credited only after a verifier
//! accepted them (`purchase_success`), and exchange (gift) codes that operators make
//! (`create_exchange_code`) and players redeem once each (`exchange_prop`).
//!
//! Products are mall.json's entries (quantity, price per currency) whose name maps to an
//! item as the original's `RMB_LIMIT` did ([`product_item`]): `<FAMILY>_<SIZE>` for the
//! five sizes of eighteen item families, and the three VIP cards. A VIP card product
//! activates the card (`vip::activate_card`) instead of adding an item.
//!
//! Every credit is one transaction under the player's row lock: the order's row in
//! `purchases` (primary key `order_id`) or the redemption's row in `exchange_redemptions`
//! (primary key code and player) is inserted in the transaction that grants, so an order
//! or a player's redemption is credited once however many calls race.

pub mod verifier;

use mysql::prelude::Queryable;
use serde_json::{json, Map, Value};
use shared::envelope::Status;

use crate::db::duplicate_key;
use crate::function::{data, ok, Account, Args, Context, FnError, InWorld, Outcome, Player, Reply};
use crate::game_config::GameConfig;
use crate::modules::common::{transaction, uid_of_player};
use crate::modules::daily;
use crate::modules::enums::{CreateExchangeStatus, ExchangeStatus, PurchaseStatus, ADMIN_ROLE};
use crate::modules::item::{self, Item};
use crate::modules::vip;
use verifier::{Receipt, Verdict};

const ITEM_GROUP: u32 = 3;

/// The three VIP card products and their card item (the original's `RMB_LIMIT`).
const CARD_PRODUCTS: &[(&str, u32)] = &[
    ("VIP_CARD_NORMAL", vip::CARD_MIN),
    ("VIP_CARD_ULTIMATE", vip::CARD_MAX),
    ("VIP_CARD_PERMANENT", vip::CARD_PERPETUAL),
];

/// The sizes every item family is sold in (`DIAMOND_MIN` ... `DIAMOND_BAG`).
const SIZES: &[&str] = &["MIN", "SMALL", "LARGE", "PLENTY", "BAG"];

/// The item families the mall sells and their item of group 3 (the original's `RMB_LIMIT`).
const FAMILIES: &[(&str, u32)] = &[
    ("DIAMOND", 5),
    ("EXP_POINT", 9),
    ("ENERGY_POTION", 10),
    ("IRON", 2),
    ("SKILL_SCROLL_10", 6),
    ("SKILL_SCROLL_30", 7),
    ("SKILL_SCROLL_100", 8),
    ("SUMMON_SCROLL_BASIC", 11),
    ("SUMMON_SCROLL_PRO", 12),
    ("SUMMON_SCROLL_PROPHET", 13),
    ("FORTUNE_WHEEL_BASIC", 14),
    ("FORTUNE_WHEEL_PRO", 15),
    ("COIN_CARD", 18),
    ("EXP_CARD", 19),
    ("FOOD_CARD", 20),
    ("IRON_CARD", 21),
    ("CRYSTAL_CARD", 22),
    ("DIAMOND_CARD", 23),
];

/// The item (of group 3) product `pid` gives, as the original's `RMB_LIMIT`: `None` for a
/// name the mall does not sell for money (mall.json's role, weapon and skill entries
/// included, as in the original).
pub fn product_item(pid: &str) -> Option<u32> {
    if let Some((_, card)) = CARD_PRODUCTS.iter().find(|(name, _)| *name == pid) {
        return Some(*card);
    }
    let (family, size) = pid.rsplit_once('_')?;
    if !SIZES.contains(&size) {
        return None;
    }
    FAMILIES
        .iter()
        .find(|(name, _)| *name == family)
        .map(|(_, item)| *item)
}

/// A product as mall.json sells it.
#[derive(Debug, Clone)]
struct Product<'c> {
    item: u32,
    quantity: u64,
    /// `price`: currency → amount.
    prices: &'c Map<String, Value>,
}

impl Product<'_> {
    fn is_card(&self) -> bool {
        CARD_PRODUCTS.iter().any(|(_, card)| *card == self.item)
    }
}

/// Product `pid`: `unknown` when the mall does not sell it, `broken` when mall.json has
/// no usable entry for it (the original's "config error").
fn product<'c>(
    config: &'c GameConfig,
    pid: &str,
    unknown: FnError,
    broken: FnError,
) -> Result<Product<'c>, FnError> {
    let item = product_item(pid).ok_or(unknown)?;
    let entry = config.file("mall").and_then(|m| m.get(pid));
    let quantity = entry
        .and_then(|e| e.get("quantity"))
        .and_then(Value::as_u64)
        .filter(|q| *q > 0);
    let prices = entry
        .and_then(|e| e.get("price"))
        .and_then(Value::as_object);
    match (quantity, prices) {
        (Some(quantity), Some(prices)) => Ok(Product {
            item,
            quantity,
            prices,
        }),
        _ => Err(broken),
    }
}

/// What a credit gave.
enum Credit {
    /// A VIP card activated: the seconds it has left (-1 perpetual) and its id.
    Card { cooling_time: i64, card_id: u32 },
    /// An item added in full: its id, the holding after and the quantity given.
    Item { iid: u32, held: u64, given: u64 },
}

impl Credit {
    fn card_json(&self) -> Value {
        match self {
            Credit::Card {
                cooling_time,
                card_id,
            } => json!({"cooling_time": cooling_time, "card_id": card_id}),
            Credit::Item { .. } => json!({}),
        }
    }

    fn item_json(&self) -> Value {
        match self {
            Credit::Item { iid, held, given } => json!({
                "remaining": {"iid": iid, "qty": held},
                "reward": {"iid": iid, "qty": given},
            }),
            Credit::Card { .. } => json!({}),
        }
    }
}

/// Why a product was not given: a paid product is given whole or not at all (a grant
/// capped at the item's max would take money for less than was bought).
enum NoCredit {
    /// The player holds too much of the item for the product to fit: once they use some,
    /// the same order or code credits (nothing of it was recorded).
    NoRoom,
    /// The product is larger than the item's max: it can never fit (a config error).
    NeverFits,
}

/// Gives `product` to the player in the caller's transaction (which holds the player's
/// row lock), whole; `refuse` turns a product that does not fit into the caller's status.
fn credit(
    tx: &mut mysql::Transaction<'_>,
    ctx: &Context,
    world: &str,
    uid: &str,
    product: &Product,
    refuse: impl Fn(NoCredit) -> FnError,
) -> Result<Credit, FnError> {
    if product.is_card() {
        let cooling_time = vip::activate_card(tx, ctx.config, world, uid, product.item, ctx.now())?;
        return Ok(Credit::Card {
            cooling_time,
            card_id: product.item,
        });
    }
    let max = item::max_of(ctx.config, ITEM_GROUP, product.item).unwrap_or(u64::MAX);
    if product.quantity > max {
        return Err(refuse(NoCredit::NeverFits));
    }
    let before = item::quantity(tx, world, uid, ITEM_GROUP, product.item)?;
    if before.saturating_add(product.quantity) > max {
        return Err(refuse(NoCredit::NoRoom));
    }
    let grant = Item {
        group: ITEM_GROUP,
        id: product.item,
        qty: product.quantity,
    };
    item::grant(tx, ctx.config, world, uid, &[grant])?;
    Ok(Credit::Item {
        iid: product.item,
        held: before + product.quantity,
        given: product.quantity,
    })
}

/// A text argument of at most `max` characters, not empty, without control characters
/// or whitespace at either end; otherwise 13 naming it.
fn text_arg<'a>(args: &Args<'a>, name: &str, max: usize) -> Result<&'a str, FnError> {
    let value = args.str(name)?;
    let chars = value.chars().count();
    if chars == 0 || chars > max || value.chars().any(char::is_control) || value.trim() != value {
        return Err(FnError::Malformed(format!(
            "`{name}` must be 1 to {max} characters, without control characters or \
             whitespace at either end"
        )));
    }
    Ok(value)
}

// ------------------------------------------------------------------ purchases

/// The longest `order_id`, `channel` and `receipt` taken.
const MAX_ORDER_ID: usize = 128;
const MAX_CHANNEL: usize = 32;
const MAX_RECEIPT_BYTES: usize = 64 * 1024;

/// `purchase_success(pid, order_id, channel, user_name, currency, receipt?)`: credits an
/// in-app purchase of product `pid` (mall.json). Status 0 for an item: `remaining`
/// `{iid, qty}` (holding after), `reward` `{iid, qty}` (what was added); status 1 for a
/// VIP card: `cooling_time`, `card_id`.
///
/// Who is credited, and on whose word:
/// - A caller whose token has the admin role credits the player named `user_name` (99
///   when there is none) without asking the verifier: an operator's credit.
/// - Anyone else needs `--purchase-verifier-url` (else 15, as for any admin function)
///   and is credited on their own player in the request's world, whose name `user_name`
///   must be (99 otherwise); the receipt goes to the verifier first and only its explicit
///   acceptance credits (95 refused, 94 no usable answer: try again).
///
/// An `order_id` is credited once (96 for a replay, nothing credited).
pub fn purchase_success(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    let admin = caller.role.as_deref() == Some(ADMIN_ROLE);
    let settings = &ctx.settings.purchase_verifier;
    if !admin && !settings.configured() {
        return Err(permission_denied());
    }
    let pid = args.str("pid")?;
    let order_id = text_arg(args, "order_id", MAX_ORDER_ID)?;
    let channel = text_arg(args, "channel", MAX_CHANNEL)?;
    let user_name = args.str("user_name")?;
    let currency = args.str("currency")?;
    let receipt = args.opt_str("receipt")?;
    if receipt.is_some_and(|r| r.len() > MAX_RECEIPT_BYTES) {
        return Err(FnError::Malformed(format!(
            "`receipt` must be at most {MAX_RECEIPT_BYTES} bytes"
        )));
    }
    let world = ctx.world()?;
    let product = product(
        ctx.config,
        pid,
        PurchaseStatus::PidError.into(),
        PurchaseStatus::ConfigError.into(),
    )?;
    let price = product
        .prices
        .get(currency)
        .ok_or(PurchaseStatus::Currency)?
        .as_u64()
        .ok_or(PurchaseStatus::ConfigError)?;

    let (uid, gn) = if admin {
        let uid = uid_of_player(ctx.db, world, user_name)?.ok_or(PurchaseStatus::UserName)?;
        (uid, user_name.to_string())
    } else {
        let at = InWorld {
            uid: caller.uid.clone(),
            world: world.to_string(),
        };
        let player = crate::handler::load_player(ctx, &at)?;
        if player.gn != user_name {
            return Err(PurchaseStatus::UserName.into());
        }
        (player.unique_id, player.gn)
    };
    // A replay is answered without asking the verifier; the insert below decides races.
    if credited(ctx, order_id)? {
        return Err(PurchaseStatus::AlreadyCredited.into());
    }
    if !admin {
        let receipt = Receipt {
            order_id,
            pid,
            channel,
            currency,
            price,
            world,
            unique_id: &uid,
            gn: &gn,
            receipt,
        };
        match verifier::verify(settings, &receipt) {
            Verdict::Accepted => {}
            Verdict::Refused(why) => {
                shared::warn!(
                    "purchase refused by the verifier",
                    order_id = order_id,
                    pid = pid,
                    unique_id = uid.as_str(),
                    reason = why
                );
                return Err(PurchaseStatus::NotVerified.into());
            }
            Verdict::Unavailable(why) => {
                shared::warn!(
                    "purchase verifier unavailable",
                    order_id = order_id,
                    reason = why
                );
                return Err(PurchaseStatus::VerifierUnavailable.into());
            }
        }
    }

    let now = ctx.now();
    let record = |tx: &mut mysql::Transaction<'_>| -> Result<(), FnError> {
        let recorded = tx.exec_drop(
            "INSERT INTO purchases (order_id, world, unique_id, pid, channel, currency, price, \
             item_id, qty, verified, credited_by, credited_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order_id,
                world,
                &uid,
                pid,
                channel,
                currency,
                price,
                product.item,
                product.quantity,
                !admin,
                admin.then_some(caller.uid.as_str()),
                now,
            ),
        );
        match recorded {
            Ok(()) => Ok(()),
            Err(e) if duplicate_key(&e) == Some("PRIMARY") => {
                Err(PurchaseStatus::AlreadyCredited.into())
            }
            Err(e) => Err(e.into()),
        }
    };
    let give = |tx: &mut mysql::Transaction<'_>| {
        credit(tx, ctx, world, &uid, &product, |refusal| match refusal {
            NoCredit::NoRoom => PurchaseStatus::NoRoom.into(),
            NoCredit::NeverFits => PurchaseStatus::ConfigError.into(),
        })
    };
    let credit = if ctx.db.same_pool(ctx.accounts) {
        transaction(ctx.db, |tx| {
            daily::lock_player(tx, world, &uid)?;
            record(tx)?;
            give(tx)
        })?
    } else {
        // Orders are global, on the accounts' server (an order is credited once in every
        // world); its record's transaction stays open around the credit's and commits
        // after it, as for exchange codes.
        transaction(ctx.accounts, |orders| {
            record(orders)?;
            transaction(ctx.db, |tx| {
                daily::lock_player(tx, world, &uid)?;
                give(tx)
            })
        })?
    };
    shared::info!(
        "purchase credited",
        order_id = order_id,
        pid = pid,
        world = world,
        unique_id = uid.as_str(),
        by = if admin {
            caller.uid.as_str()
        } else {
            "verifier"
        }
    );
    match credit {
        Credit::Card { .. } => Ok(Reply::with(
            PurchaseStatus::Card,
            credit.card_json().as_object().cloned().unwrap_or_default(),
        )),
        Credit::Item { .. } => ok(credit.item_json().as_object().cloned().unwrap_or_default()),
    }
}

/// The framework's 15: `purchase_success` without a verifier is an admin function.
fn permission_denied() -> FnError {
    FnError::Module {
        code: Status::PermissionDenied.code(),
        message: Status::PermissionDenied.message().into(),
    }
}

/// Whether `order_id` was credited already (orders are kept with the accounts).
fn credited(ctx: &Context, order_id: &str) -> Result<bool, FnError> {
    let mut conn = ctx.accounts.conn()?;
    let found: Option<u8> =
        conn.exec_first("SELECT 1 FROM purchases WHERE order_id = ?", (order_id,))?;
    Ok(found.is_some())
}

// ------------------------------------------------------------------ exchange codes

/// The longest `game_id` and `exchange_id`.
const MAX_CODE: usize = 64;
/// Length of a code the server makes.
const MADE_CODE_LEN: usize = 16;
/// The most uses a code may have, and the longest it may stay valid (ten years).
const MAX_USES: i64 = 100_000_000;
const MAX_VALID_SECS: i64 = 10 * 365 * 86_400;

/// `exchange_prop(game_id, exchange_id)`: redeems exchange code `exchange_id` of
/// `game_id` for its product, once per player. Answers `vip_card` (`{cooling_time,
/// card_id}` or `{}`), `item` (`{remaining: {iid, qty}, reward: {iid, qty}}` or `{}`),
/// `etime` (the code's end, `YYYY-MM-DD HH:MM:SS` on the game's clock) and `receive` (uses
/// left). 99 no such code, 94 redeemed by this player before, 98 used up, 97 expired,
/// 96/95 its product unknown or without config.
pub fn exchange_prop(ctx: &Context, player: &Player, args: &Args) -> Outcome {
    let game_id = args.str("game_id")?;
    let code = args.str("exchange_id")?;
    let too_long = |s: &str| s.is_empty() || s.chars().count() > MAX_CODE;
    if too_long(game_id) || too_long(code) {
        return Err(ExchangeStatus::NoSuchCode.into());
    }
    let (world, uid) = (player.world.as_str(), player.unique_id.as_str());
    let now = ctx.now();
    if ctx.db.same_pool(ctx.accounts) {
        // One server: one transaction, the player's row locked first as everywhere.
        return transaction(ctx.db, |tx| {
            daily::lock_player(tx, world, uid)?;
            let claimed = claim_code(tx, ctx, game_id, code, world, uid, now)?;
            redeem(tx, ctx, world, uid, claimed)
        });
    }
    // The codes are global, on the accounts' server; the world is on another. The claim's
    // transaction stays open around the credit's and commits after it: a refused or failed
    // credit rolls the claim back. (Only a failure between the two commits could credit a
    // redemption that is not recorded; the code row stays locked for that instant.)
    transaction(ctx.accounts, |codes| {
        let claimed = claim_code(codes, ctx, game_id, code, world, uid, now)?;
        transaction(ctx.db, |tx| {
            daily::lock_player(tx, world, uid)?;
            redeem(tx, ctx, world, uid, claimed)
        })
    })
}

/// A code claimed for a player: its product, its uses left before this one, its end.
struct Claimed<'c> {
    product: Product<'c>,
    remaining: u64,
    expires_at: i64,
}

/// Checks code `code` of `game_id` for `(world, uid)` and records its use, in `tx`.
fn claim_code<'c>(
    tx: &mut mysql::Transaction<'_>,
    ctx: &Context<'c>,
    game_id: &str,
    code: &str,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Claimed<'c>, FnError> {
    let row: Option<(String, u64, i64)> = tx.exec_first(
        "SELECT pid, remaining, expires_at FROM exchange_codes \
         WHERE game_id = ? AND code = ? FOR UPDATE",
        (game_id, code),
    )?;
    let (pid, remaining, expires_at) = row.ok_or(ExchangeStatus::NoSuchCode)?;
    let redeemed: Option<u8> = tx.exec_first(
        "SELECT 1 FROM exchange_redemptions \
         WHERE game_id = ? AND code = ? AND world = ? AND unique_id = ?",
        (game_id, code, world, uid),
    )?;
    if redeemed.is_some() {
        return Err(ExchangeStatus::AlreadyRedeemed.into());
    }
    if remaining == 0 {
        return Err(ExchangeStatus::UsedUp.into());
    }
    if expires_at < now {
        return Err(ExchangeStatus::Expired.into());
    }
    let product = product(
        ctx.config,
        &pid,
        ExchangeStatus::PidError.into(),
        ExchangeStatus::ConfigError.into(),
    )?;
    tx.exec_drop(
        "INSERT INTO exchange_redemptions (game_id, code, world, unique_id, redeemed_at) \
         VALUES (?, ?, ?, ?, ?)",
        (game_id, code, world, uid, now),
    )?;
    tx.exec_drop(
        "UPDATE exchange_codes SET remaining = remaining - 1 \
         WHERE game_id = ? AND code = ? AND remaining > 0",
        (game_id, code),
    )?;
    if tx.affected_rows() != 1 {
        return Err(FnError::Backend(
            "exchange code changed under its lock".into(),
        ));
    }
    Ok(Claimed {
        product,
        remaining,
        expires_at,
    })
}

/// Credits a claimed code's product to the player (whose row `tx` holds locked).
fn redeem(
    tx: &mut mysql::Transaction<'_>,
    ctx: &Context,
    world: &str,
    uid: &str,
    claimed: Claimed<'_>,
) -> Outcome {
    let credit = credit(
        tx,
        ctx,
        world,
        uid,
        &claimed.product,
        |refusal| match refusal {
            NoCredit::NoRoom => ExchangeStatus::NoRoom.into(),
            NoCredit::NeverFits => ExchangeStatus::ConfigError.into(),
        },
    )?;
    ok(data([
        ("vip_card", credit.card_json()),
        ("item", credit.item_json()),
        ("etime", Value::from(daily::date_time(claimed.expires_at))),
        ("receive", Value::from(claimed.remaining - 1)),
    ]))
}

/// A code or game id an operator gives: 1 to 64 of `A-Z a-z 0-9 _ -` (what a player can
/// type and read back).
fn check_code(name: &str, value: &str) -> Result<(), FnError> {
    let fine = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if value.is_empty() || value.len() > MAX_CODE || !value.bytes().all(fine) {
        return Err(FnError::module(
            CreateExchangeStatus::InvalidCode,
            format!("{name} must be 1 to {MAX_CODE} of A-Z, a-z, 0-9, '_' and '-'"),
        ));
    }
    Ok(())
}

/// A new code: 16 letters and digits from the kernel's random source (a code is a
/// bearer secret, so not the game's RNG).
fn make_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut code = String::with_capacity(MADE_CODE_LEN);
    while code.len() < MADE_CODE_LEN {
        let mut bytes = [0u8; 32];
        shared::ids::fill_random(&mut bytes);
        // 248 = 4 × 62: below it every letter is equally likely.
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if code.len() < MADE_CODE_LEN {
                code.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    code
}

/// `create_exchange_code(game_id, exchange_id?, pid, receive, valid_seconds)` (admin):
/// makes exchange code `exchange_id` (absent or `""`: the server makes a 16-character
/// one) of `game_id` for product `pid`, redeemable `receive` times (by as many players)
/// for `valid_seconds` from now. Answers `game_id`, `exchange_id`, `pid`, `receive` and
/// `etime`. 99 when the code exists, 98 unknown product, 97 a bad code text.
pub fn create_exchange_code(ctx: &Context, caller: &Account, args: &Args) -> Outcome {
    let game_id = args.str("game_id")?;
    let given = args.opt_str("exchange_id")?.filter(|c| !c.is_empty());
    let pid = args.str("pid")?;
    let receive = args.int_in("receive", 1, MAX_USES)?;
    let valid = args.int_in("valid_seconds", 1, MAX_VALID_SECS)?;
    check_code("game_id", game_id)?;
    if let Some(code) = given {
        check_code("exchange_id", code)?;
    }
    product(
        ctx.config,
        pid,
        CreateExchangeStatus::PidError.into(),
        CreateExchangeStatus::PidError.into(),
    )?;
    let code = given.map_or_else(make_code, str::to_string);
    let now = ctx.now();
    let expires_at = now + valid;
    // Global, like the accounts: redeemable in every world, its uses counted in one place.
    let mut conn = ctx.accounts.conn()?;
    let inserted = conn.exec_drop(
        "INSERT INTO exchange_codes (game_id, code, pid, remaining, expires_at, created_by, \
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (game_id, &code, pid, receive, expires_at, &caller.uid, now),
    );
    match inserted {
        Ok(()) => {}
        Err(e) if duplicate_key(&e) == Some("PRIMARY") => {
            return Err(CreateExchangeStatus::Exists.into())
        }
        Err(e) => return Err(e.into()),
    }
    shared::info!(
        "exchange code created",
        admin = caller.uid.as_str(),
        game_id = game_id,
        pid = pid,
        receive = receive
    );
    ok(data([
        ("game_id", Value::from(game_id)),
        ("exchange_id", Value::from(code)),
        ("pid", Value::from(pid)),
        ("receive", Value::from(receive)),
        ("etime", Value::from(daily::date_time(expires_at))),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original's `RMB_LIMIT` keys: every one maps, to the original's item.
    #[test]
    fn products_map_to_the_originals_items() {
        assert_eq!(product_item("VIP_CARD_NORMAL"), Some(26));
        assert_eq!(product_item("VIP_CARD_ULTIMATE"), Some(27));
        assert_eq!(product_item("VIP_CARD_PERMANENT"), Some(28));
        assert_eq!(product_item("DIAMOND_MIN"), Some(5));
        assert_eq!(product_item("DIAMOND_BAG"), Some(5));
        assert_eq!(product_item("SKILL_SCROLL_100_PLENTY"), Some(8));
        assert_eq!(product_item("ENERGY_POTION_SMALL"), Some(10));
        assert_eq!(product_item("DIAMOND_CARD_LARGE"), Some(23));
        assert_eq!(product_item("IRON_CARD_MIN"), Some(21));
        for unknown in [
            "",
            "DIAMOND",
            "DIAMOND_HUGE",
            "diamond_min",
            "ROLE_SEGMENT_STAR_1",
            "WEAPON_STAR_6",
            "SKILL_LAYER_1",
            "VIP_CARD_MIN",
            "_MIN",
            "DIAMOND_MIN ",
        ] {
            assert_eq!(product_item(unknown), None, "{unknown:?}");
        }
    }

    /// Every product that maps is sold by mall.json with an item items.json defines; the
    /// entries that do not map are the original's too (roles, weapons, skill layers).
    #[test]
    fn every_product_of_mall_json_is_defined() {
        let config = GameConfig::embedded();
        let mall = config.file("mall").unwrap().as_object().unwrap();
        let mut sold = 0;
        for (pid, _) in mall {
            match product_item(pid) {
                Some(iid) => {
                    sold += 1;
                    let p = product(
                        &config,
                        pid,
                        PurchaseStatus::PidError.into(),
                        PurchaseStatus::ConfigError.into(),
                    )
                    .unwrap();
                    assert!(item::max_of(&config, ITEM_GROUP, iid).is_some(), "{pid}");
                    assert!(p.prices.contains_key("RMB"), "{pid}");
                }
                None => assert!(
                    ["ROLE_SEGMENT_STAR_", "WEAPON_STAR_", "SKILL_LAYER_"]
                        .iter()
                        .any(|prefix| pid.starts_with(prefix)),
                    "{pid}"
                ),
            }
        }
        assert_eq!(sold, CARD_PRODUCTS.len() + SIZES.len() * FAMILIES.len());
    }

    #[test]
    fn made_codes_are_sixteen_letters_and_digits_and_differ() {
        let a = make_code();
        let b = make_code();
        assert_eq!(a.len(), MADE_CODE_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
        assert!(check_code("exchange_id", &a).is_ok());
        for bad in ["", "a b", "x'--", "😀", &"a".repeat(65)] {
            assert!(check_code("exchange_id", bad).is_err(), "{bad:?}");
        }
    }
}
