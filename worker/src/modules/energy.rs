//! Energy, as the original's `try_energy`: up to `max_energy`, one point back every
//! `cooling_time` minutes while below it; purchases and potions may take it above the maximum.
//! Table `energy` (no row: full). Changes lock the player's row, then the energy row, for
//! their transaction.
//!
//! The original added purchased energy to the value before recovery, losing the points
//! recovered meanwhile; here the recovery is settled first.

use mysql::prelude::Queryable;
use serde_json::{json, Value};

use crate::function::{Context, FnError};
use crate::modules::daily;

/// Energy never goes above this, whatever is added (the column is 32-bit).
const CEILING: u64 = 999_999_999;

/// player.json's `energy` (the original's): `max_energy`, `cooling_time` (minutes a point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnergyRules {
    pub max_energy: u64,
    pub cooling_secs: i64,
}

impl EnergyRules {
    pub fn from_config(ctx: &Context) -> EnergyRules {
        let e = ctx.config.file("player").and_then(|f| f.get("energy"));
        let field = |name: &str| e.and_then(|e| e.get(name)).and_then(Value::as_u64);
        EnergyRules {
            max_energy: field("max_energy").unwrap_or(120),
            cooling_secs: field("cooling_time").unwrap_or(6).max(1) as i64 * 60,
        }
    }
}

/// Energy at some moment: `energy`, and since when points come back (`None`: full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Energy {
    pub energy: u64,
    pub recover_from: Option<i64>,
}

impl Energy {
    /// The energy at `now`, with the points recovered since `recover_from`.
    pub fn settle(self, rules: EnergyRules, now: i64) -> Energy {
        match self.recover_from {
            _ if self.energy >= rules.max_energy => Energy {
                energy: self.energy,
                recover_from: None,
            },
            None => Energy {
                energy: self.energy,
                recover_from: Some(now),
            },
            Some(from) => {
                let points = (now - from).max(0) / rules.cooling_secs;
                let energy = self.energy + points as u64;
                if energy >= rules.max_energy {
                    Energy {
                        energy: rules.max_energy,
                        recover_from: None,
                    }
                } else {
                    Energy {
                        energy,
                        recover_from: Some(from + points * rules.cooling_secs),
                    }
                }
            }
        }
    }

    /// The original's energy data: `energy`, `recover_time` (`""` when full) and
    /// `cooling_time` (seconds to the next point, -1 when full).
    pub fn info(self, rules: EnergyRules, now: i64) -> Value {
        match self.recover_from {
            None => json!({"energy": self.energy, "recover_time": "", "cooling_time": -1}),
            Some(from) => json!({
                "energy": self.energy,
                "recover_time": daily::date_time(from),
                "cooling_time": rules.cooling_secs - (now - from).max(0) % rules.cooling_secs,
            }),
        }
    }
}

/// The player's energy now, read without a lock (for answers that only show it).
pub fn read(
    conn: &mut impl Queryable,
    rules: EnergyRules,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Energy, FnError> {
    stored(conn, rules, world, uid, now, "")
}

/// The player's energy now, its row locked until the transaction ends.
pub fn lock(
    tx: &mut mysql::Transaction<'_>,
    rules: EnergyRules,
    world: &str,
    uid: &str,
    now: i64,
) -> Result<Energy, FnError> {
    daily::lock_player(tx, world, uid)?;
    tx.exec_drop(
        "INSERT IGNORE INTO energy (world, unique_id, energy, recover_from) VALUES (?, ?, ?, NULL)",
        (world, uid, rules.max_energy),
    )?;
    stored(tx, rules, world, uid, now, " FOR UPDATE")
}

/// The stored energy settled to `now` (no row: full); `lock` is `""` or `" FOR UPDATE"`.
fn stored(
    conn: &mut impl Queryable,
    rules: EnergyRules,
    world: &str,
    uid: &str,
    now: i64,
    lock: &str,
) -> Result<Energy, FnError> {
    let row: Option<(u64, Option<i64>)> = conn.exec_first(
        format!("SELECT energy, recover_from FROM energy WHERE world = ? AND unique_id = ?{lock}"),
        (world, uid),
    )?;
    let (energy, recover_from) = row.unwrap_or((rules.max_energy, None));
    Ok(Energy {
        energy,
        recover_from,
    }
    .settle(rules, now))
}

/// Adds `amount` to the player's energy (above the maximum too) in the caller's
/// transaction; answers the new energy.
pub fn add(
    tx: &mut mysql::Transaction<'_>,
    rules: EnergyRules,
    world: &str,
    uid: &str,
    now: i64,
    amount: u64,
) -> Result<Energy, FnError> {
    let before = lock(tx, rules, world, uid, now)?;
    let energy = before.energy.saturating_add(amount).min(CEILING);
    let after = Energy {
        energy,
        recover_from: if energy >= rules.max_energy {
            None
        } else {
            before.recover_from
        },
    };
    tx.exec_drop(
        "UPDATE energy SET energy = ?, recover_from = ? WHERE world = ? AND unique_id = ?",
        (after.energy, after.recover_from, world, uid),
    )?;
    Ok(after)
}

/// Takes `amount` from the player's energy in the caller's transaction; `None` (nothing
/// changed) when it has less. Below the maximum, points come back from where recovery
/// stood (or from `now` when it was full).
pub fn spend(
    tx: &mut mysql::Transaction<'_>,
    rules: EnergyRules,
    world: &str,
    uid: &str,
    now: i64,
    amount: u64,
) -> Result<Option<Energy>, FnError> {
    let before = lock(tx, rules, world, uid, now)?;
    let Some(energy) = before.energy.checked_sub(amount) else {
        return Ok(None);
    };
    let after = Energy {
        energy,
        recover_from: if energy >= rules.max_energy {
            None
        } else {
            Some(before.recover_from.unwrap_or(now))
        },
    };
    tx.exec_drop(
        "UPDATE energy SET energy = ?, recover_from = ? WHERE world = ? AND unique_id = ?",
        (after.energy, after.recover_from, world, uid),
    )?;
    Ok(Some(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: EnergyRules = EnergyRules {
        max_energy: 120,
        cooling_secs: 360,
    };

    #[test]
    fn a_point_comes_back_every_six_minutes_up_to_the_maximum() {
        let e = Energy {
            energy: 100,
            recover_from: Some(1_000),
        };
        assert_eq!(e.settle(RULES, 1_359), e);
        assert_eq!(
            e.settle(RULES, 1_360),
            Energy {
                energy: 101,
                recover_from: Some(1_360)
            }
        );
        assert_eq!(
            e.settle(RULES, 1_000 + 360 * 20),
            Energy {
                energy: 120,
                recover_from: None
            }
        );
        let over = Energy {
            energy: 150,
            recover_from: Some(0),
        };
        assert_eq!(
            over.settle(RULES, 10_000),
            Energy {
                energy: 150,
                recover_from: None
            }
        );
        let info = e.info(RULES, 1_100);
        assert_eq!(info["cooling_time"], 260);
        assert_eq!(info["recover_time"], "1970-01-01 08:16:40");
        assert_eq!(
            Energy {
                energy: 120,
                recover_from: None
            }
            .info(RULES, 5)["cooling_time"],
            -1
        );
    }
}
