//! factory.json read into numbers, and the arithmetic of production: pure functions,
//! tested without a database.
//!
//! Production runs in steps of `general.step` seconds (5 while an acceleration runs, so
//! accelerated seconds count twice). Over `n` steps, as the original's `update_state`:
//! food is made first (`n` × food workers); then iron, armor and crystal, in that order,
//! each make up to `n` × their workers, no more than their storage limit leaves room for
//! and no more than their costs' sources (`general.costs`) can pay from the factory's
//! storage; last, food is cut to its storage limit. Every amount is `u64` with saturating
//! or checked arithmetic, so a year away (or a config with huge numbers) cannot overflow.

use serde_json::{Map, Value};

use crate::function::{FnError, Rng};

/// Factories with storage, as indices into the arrays below (the original's ids 0..3).
pub const FOOD: usize = 0;
pub const IRON: usize = 1;
pub const CRYSTAL: usize = 2;
pub const ARMOR: usize = 3;
/// The original's ids of the wishing pool and of the unassigned workers.
pub const WISHING_POOL: i64 = -2;
pub const UNASSIGNED: i64 = -1;
/// The factories that use up what others made, in the order the original served them.
const CONSUMERS: [usize; 3] = [IRON, ARMOR, CRYSTAL];

/// The wishing pool's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRules {
    pub base_segment: u64,
    /// Hours a cooldown lasts, less one per pool level.
    pub base_recover: u64,
    pub base_diamond: u64,
    /// Wishes per cooldown; the first is free, each later one `base_diamond` more.
    pub limit: u32,
    /// Seconds an upgrade of the pool takes off a running cooldown.
    pub upgrade_secs: i64,
    /// Segment multipliers and their weights (the config's fractions × 1,000,000).
    pub population: Vec<u64>,
    pub weights: Vec<u64>,
}

/// The numbers of factory.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub step: u64,
    pub acceleration_cost: u64,
    pub acceleration_secs: i64,
    /// `costs[f]`: (source factory, amount) paid for one unit of `f`.
    pub costs: [Vec<(usize, u64)>; 4],
    /// `storage_limits[f][level - 1]` (armor: level 1 only).
    pub storage_limits: [Vec<u64>; 4],
    /// `worker_limits[f][level - 1]` (armor: level 1 only).
    pub worker_limits: [Vec<u64>; 4],
    /// Crystal to reach level `i + 2` of food, iron, crystal (`[0..3]`) and the pool (`[3]`).
    pub upgrade_costs: [Vec<u64>; 4],
    pub workers_start: u64,
    /// Food for the n-th worker owned is `worker_costs[min(n, max) - 1]`.
    pub worker_costs: Vec<u64>,
    pub workers_max: u64,
    pub pool: PoolRules,
}

fn broken(what: &str) -> FnError {
    FnError::Backend(format!("factory.json: {what} is missing or broken"))
}

fn uint(v: &Value, key: &str) -> Result<u64, FnError> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| broken(key))
}

/// A map `{"<level>": n}` with the levels `first..first + len` and nothing else.
fn by_level(v: Option<&Value>, first: u64, what: &str) -> Result<Vec<u64>, FnError> {
    let map = v.and_then(Value::as_object).ok_or_else(|| broken(what))?;
    let mut entries: Vec<(u64, u64)> = Vec::with_capacity(map.len());
    for (k, n) in map {
        if k == "comment" {
            continue;
        }
        let level = k.parse::<u64>().map_err(|_| broken(what))?;
        entries.push((level, n.as_u64().ok_or_else(|| broken(what))?));
    }
    entries.sort_unstable();
    let contiguous = entries
        .iter()
        .enumerate()
        .all(|(i, (level, _))| *level == first + i as u64);
    if entries.is_empty() || !contiguous {
        return Err(broken(what));
    }
    Ok(entries.into_iter().map(|(_, n)| n).collect())
}

/// The per-factory maps of `general` (`costs`, limits) for factories 0..3.
fn per_factory<T>(
    general: &Value,
    key: &str,
    read: impl Fn(Option<&Value>, &str) -> Result<T, FnError>,
) -> Result<[T; 4], FnError> {
    let map = general.get(key).ok_or_else(|| broken(key))?;
    let one = |f: usize| read(map.get(f.to_string()), &format!("{key}.{f}"));
    Ok([one(FOOD)?, one(IRON)?, one(CRYSTAL)?, one(ARMOR)?])
}

fn costs_of(v: Option<&Value>, what: &str) -> Result<Vec<(usize, u64)>, FnError> {
    let map: &Map<String, Value> = v.and_then(Value::as_object).ok_or_else(|| broken(what))?;
    map.iter()
        .map(|(k, n)| {
            let source = k
                .parse::<usize>()
                .ok()
                .filter(|s| *s <= ARMOR)
                .ok_or_else(|| broken(what))?;
            let amount = n.as_u64().filter(|a| *a > 0).ok_or_else(|| broken(what))?;
            Ok((source, amount))
        })
        .collect()
}

impl Rules {
    pub fn parse(file: &Value) -> Result<Rules, FnError> {
        let general = file.get("general").ok_or_else(|| broken("general"))?;
        let workers = file.get("workers").ok_or_else(|| broken("workers"))?;
        let pool = file
            .get("wishing_pool")
            .ok_or_else(|| broken("wishing_pool"))?;
        let roll = pool
            .get("roll")
            .ok_or_else(|| broken("wishing_pool.roll"))?;
        let population: Vec<u64> = roll
            .get("population")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect())
            .ok_or_else(|| broken("roll.population"))?;
        let weights: Vec<u64> = roll
            .get("weights")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|w| {
                        let w = w.as_f64().filter(|w| w.is_finite() && *w >= 0.0)?;
                        Some((w * 1_000_000.0).round() as u64)
                    })
                    .collect()
            })
            .ok_or_else(|| broken("roll.weights"))?;
        if population.is_empty()
            || population.len() != weights.len()
            || weights.iter().sum::<u64>() == 0
        {
            return Err(broken("wishing_pool.roll"));
        }
        let upgrade = general
            .get("upgrade_cost")
            .ok_or_else(|| broken("upgrade_cost"))?;
        let upgrade_of = |f: i64| by_level(upgrade.get(f.to_string()), 2, "upgrade_cost");
        let step = uint(general, "step")?;
        if step == 0 {
            return Err(broken("step"));
        }
        let secs = |v: &Value, key: &str| -> Result<i64, FnError> {
            i64::try_from(uint(v, key)?).map_err(|_| broken(key))
        };
        let worker_costs = by_level(workers.get("cost"), 1, "workers.cost")?;
        let workers_max = uint(workers, "max")?.clamp(1, worker_costs.len() as u64);
        Ok(Rules {
            step,
            acceleration_cost: uint(general, "acceleration_cost")?,
            acceleration_secs: secs(general, "acceleration_secs")?,
            costs: per_factory(general, "costs", costs_of)?,
            storage_limits: per_factory(general, "storage_limits", |v, w| by_level(v, 1, w))?,
            worker_limits: per_factory(general, "worker_limits", |v, w| by_level(v, 1, w))?,
            upgrade_costs: [
                upgrade_of(0)?,
                upgrade_of(1)?,
                upgrade_of(2)?,
                upgrade_of(WISHING_POOL)?,
            ],
            workers_start: uint(workers, "start")?,
            worker_costs,
            workers_max,
            pool: PoolRules {
                base_segment: uint(pool, "base_segment")?,
                base_recover: uint(pool, "base_recover")?,
                base_diamond: uint(pool, "base_diamond")?,
                limit: u32::try_from(uint(pool, "limit")?).map_err(|_| broken("limit"))?,
                upgrade_secs: secs(pool, "upgrade_secs")?,
                population,
                weights,
            },
        })
    }

    /// The storage limit of factory `f` at `level` (armor: its one level); `None` beyond
    /// the config's levels.
    pub fn storage_limit(&self, f: usize, level: u32) -> Option<u64> {
        let level = if f == ARMOR { 1 } else { level };
        self.storage_limits[f]
            .get((level as usize).checked_sub(1)?)
            .copied()
    }

    /// The most workers factory `f` may have at `level` (armor: its one level).
    pub fn worker_limit(&self, f: usize, level: u32) -> Option<u64> {
        let level = if f == ARMOR { 1 } else { level };
        self.worker_limits[f]
            .get((level as usize).checked_sub(1)?)
            .copied()
    }

    /// Crystal to raise factory `index` (0 food, 1 iron, 2 crystal, 3 pool) from `level`
    /// to the next; `None` at the highest level.
    pub fn upgrade_cost(&self, index: usize, level: u32) -> Option<u64> {
        // upgrade_costs[index][0] is the cost of level 2.
        self.upgrade_costs[index]
            .get((level as usize).checked_sub(1)?)
            .copied()
    }

    /// Food for the worker that makes `owned + 1`.
    pub fn worker_cost(&self, owned: u64) -> u64 {
        let n = owned.saturating_add(1).min(self.workers_max);
        self.worker_costs[(n - 1) as usize]
    }

    /// Runs `steps` steps of production on `storage` with `workers` and the storage
    /// `limits` of the factories' levels.
    pub fn produce(
        &self,
        steps: u64,
        workers: &[u64; 4],
        limits: &[u64; 4],
        storage: &mut [u64; 4],
    ) {
        storage[FOOD] = storage[FOOD].saturating_add(steps.saturating_mul(workers[FOOD]));
        for f in CONSUMERS {
            let mut made = workers[f]
                .saturating_mul(steps)
                .min(limits[f].saturating_sub(storage[f]));
            for (source, amount) in &self.costs[f] {
                made = made.min(storage[*source] / amount);
            }
            for (source, amount) in &self.costs[f] {
                // made × amount <= storage[source]: the line above
                storage[*source] -= made * amount;
            }
            storage[f] += made;
        }
        storage[FOOD] = storage[FOOD].min(limits[FOOD]);
    }

    /// A wish's segments: `base_segment` times a multiplier drawn by the config's weights.
    pub fn roll_segments(&self, rng: &Rng) -> u64 {
        let i = rng.weighted(&self.pool.weights).unwrap_or(0);
        self.pool
            .base_segment
            .saturating_mul(self.pool.population[i])
    }

    /// Seconds one cooldown of the pool lasts at `level` (at least an hour).
    pub fn pool_cooldown(&self, level: u32) -> i64 {
        let hours = self
            .pool
            .base_recover
            .saturating_sub(u64::from(level))
            .max(1);
        i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }
}

/// Production seconds in `from..to`: each second once, and once more inside the
/// acceleration window `accel` (start, end).
pub fn effective_secs(from: i64, to: i64, accel: Option<(i64, i64)>) -> u64 {
    if to <= from {
        return 0;
    }
    let span = |a: i64, b: i64| u64::try_from(i128::from(b) - i128::from(a)).unwrap_or(0);
    let extra = accel.map_or(0, |(start, end)| span(start.max(from), end.min(to)));
    span(from, to).saturating_add(extra)
}

/// Real seconds from `now` until `need` production seconds have passed, the
/// acceleration window `accel` counting double.
pub fn secs_until(now: i64, need: u64, accel: Option<(i64, i64)>) -> u64 {
    let fast = match accel {
        Some((start, end)) if start <= now => {
            u64::try_from(i128::from(end) - i128::from(now)).unwrap_or(0)
        }
        _ => 0,
    };
    if fast.saturating_mul(2) >= need {
        need.div_ceil(2)
    } else {
        fast + (need - 2 * fast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_config::GameConfig;

    fn rules() -> Rules {
        Rules::parse(GameConfig::embedded().file("factory").unwrap()).unwrap()
    }

    #[test]
    fn the_embedded_config_has_every_number() {
        let r = rules();
        assert_eq!(
            (r.step, r.acceleration_cost, r.acceleration_secs),
            (10, 30, 86_400)
        );
        assert_eq!(r.costs[FOOD], []);
        assert_eq!(r.costs[IRON], [(FOOD, 3)]);
        assert_eq!(r.costs[CRYSTAL], [(FOOD, 12)]);
        assert_eq!(r.costs[ARMOR], [(IRON, 20)]);
        assert_eq!(r.storage_limit(FOOD, 1), Some(4320));
        assert_eq!(r.storage_limit(FOOD, 60), Some(259_200));
        assert_eq!(r.storage_limit(FOOD, 61), None);
        assert_eq!(r.storage_limit(IRON, 30), Some(86_400));
        assert_eq!(r.storage_limit(CRYSTAL, 15), Some(194_400));
        assert_eq!(r.storage_limit(ARMOR, 4), Some(1000), "armor: one level");
        assert_eq!(r.worker_limit(FOOD, 2), Some(6));
        assert_eq!(r.worker_limit(ARMOR, 1), Some(10));
        assert_eq!(r.upgrade_cost(0, 1), Some(50));
        assert_eq!(r.upgrade_cost(0, 59), Some(161_450));
        assert_eq!(r.upgrade_cost(0, 60), None, "food's highest level is 60");
        assert_eq!(r.upgrade_cost(2, 14), Some(95_000));
        assert_eq!(r.upgrade_cost(3, 1), Some(200));
        assert_eq!(r.upgrade_cost(3, 30), None);
        assert_eq!(r.workers_start, 3);
        assert_eq!(r.worker_cost(3), 130, "the 4th worker");
        assert_eq!(r.worker_cost(44), 6000);
        assert_eq!(r.worker_cost(u64::MAX), 6000);
        assert_eq!(r.pool.limit, 6);
        assert_eq!(r.pool.weights, [600_000, 300_000, 100_000]);
        assert_eq!(r.pool_cooldown(1), 48 * 3600);
        assert_eq!(r.pool_cooldown(200), 3600);
        // every level that can be reached has its limits
        for (f, index) in [(FOOD, 0), (IRON, 1), (CRYSTAL, 2)] {
            let top = r.upgrade_costs[index].len() as u32 + 1;
            assert!(r.storage_limit(f, top).is_some() && r.worker_limit(f, top).is_some());
        }
    }

    #[test]
    fn broken_configs_are_refused() {
        let good = GameConfig::embedded().file("factory").unwrap().clone();
        let mut gap = good.clone();
        gap["general"]["storage_limits"]["0"]
            .as_object_mut()
            .unwrap()
            .remove("7");
        let mut zero_cost = good.clone();
        zero_cost["general"]["costs"]["1"]["0"] = 0.into();
        let mut weights = good.clone();
        weights["wishing_pool"]["roll"]["weights"] = serde_json::json!([0.5]);
        let mut step = good.clone();
        step["general"]["step"] = 0.into();
        for bad in [gap, zero_cost, weights, step] {
            assert!(Rules::parse(&bad).is_err());
        }
    }

    #[test]
    fn food_comes_first_then_iron_armor_and_crystal_pay_from_it() {
        let r = rules();
        let limits = [4320, 2880, 12_960, 1000];
        // 3 food workers, 1 iron, 1 crystal, 1 armor for 100 steps: 300 food; iron takes
        // 100 (300 food); armor needs 20 iron each: 5; crystal finds no food left.
        let mut s = [0; 4];
        r.produce(100, &[3, 1, 1, 1], &limits, &mut s);
        assert_eq!(s, [0, 0, 0, 5]);
        // with food in store, crystal gets its share: 12 food each
        let mut s = [1200, 0, 0, 0];
        r.produce(100, &[3, 1, 1, 0], &limits, &mut s);
        // food 1500; iron 100 (-300) -> 1200; crystal 100 (-1200) -> 0
        assert_eq!(s, [0, 100, 100, 0]);
        // storage limits: food is cut last, the others stop at theirs
        let mut s = [0, 2870, 0, 0];
        r.produce(1000, &[3, 2, 0, 0], &limits, &mut s);
        assert_eq!(
            s,
            [2970, 2880, 0, 0],
            "3000 food, 30 paid for the last 10 iron"
        );
        let mut s = [0, 2870, 0, 0];
        r.produce(2000, &[3, 2, 0, 0], &limits, &mut s);
        assert_eq!(s, [4320, 2880, 0, 0], "5970 food cut to the limit");
        let mut s = [5000, 0, 0, 0];
        r.produce(0, &[3, 0, 0, 0], &limits, &mut s);
        assert_eq!(s[FOOD], 4320);
    }

    #[test]
    fn a_year_or_huge_numbers_do_not_overflow() {
        let r = rules();
        let limits = [u64::MAX; 4];
        let mut s = [u64::MAX - 1, 5, u64::MAX, 0];
        r.produce(u64::MAX, &[u64::MAX; 4], &limits, &mut s);
        assert_eq!(
            s[ARMOR],
            (5 + u64::MAX / 3) / 20,
            "as much as the iron pays"
        );
        assert!(s[IRON] < 20);
        assert_eq!(s[CRYSTAL], u64::MAX, "no room left");
        let year = 365 * 86_400;
        assert_eq!(effective_secs(0, year, None), year as u64);
        assert_eq!(
            effective_secs(i64::MIN, i64::MAX, Some((i64::MIN, i64::MAX))),
            u64::MAX,
            "saturates"
        );
        assert_eq!(
            effective_secs(5, 3, Some((0, 10))),
            0,
            "the clock went back"
        );
    }

    #[test]
    fn accelerated_seconds_count_twice() {
        assert_eq!(effective_secs(0, 100, None), 100);
        assert_eq!(effective_secs(0, 100, Some((50, 70))), 120);
        assert_eq!(effective_secs(0, 100, Some((-50, 10))), 110);
        assert_eq!(effective_secs(60, 100, Some((0, 50))), 40, "ended before");
        assert_eq!(secs_until(0, 10, None), 10);
        assert_eq!(secs_until(0, 10, Some((0, 100))), 5);
        assert_eq!(secs_until(0, 9, Some((0, 100))), 5);
        assert_eq!(secs_until(0, 10, Some((0, 3))), 7, "3 fast (6) then 4");
        assert_eq!(secs_until(0, 10, Some((-100, -1))), 10);
    }

    #[test]
    fn wishes_draw_the_configs_multipliers_by_its_weights() {
        let r = rules();
        let rng = Rng::new(2024);
        let draws = 100_000u64;
        let mut seen = [0u64; 3];
        for _ in 0..draws {
            let seg = r.roll_segments(&rng);
            let i = r.pool.population.iter().position(|m| *m == seg).unwrap();
            seen[i] += 1;
        }
        eprintln!("wishing pool roll, {draws} draws of Rng seed 2024:");
        eprintln!("segments  weight  expected  observed  5 sigma");
        let total: u64 = r.pool.weights.iter().sum();
        for (i, m) in r.pool.population.iter().enumerate() {
            let p = r.pool.weights[i] as f64 / total as f64;
            let expected = draws as f64 * p;
            let sigma = (expected * (1.0 - p)).sqrt();
            eprintln!(
                "{m:>8}  {p:>6.3}  {expected:>8.1}  {:>8}  {:>7.1}",
                seen[i],
                5.0 * sigma
            );
            assert!(
                (seen[i] as f64 - expected).abs() <= 5.0 * sigma,
                "{m}: {seen:?}"
            );
        }
    }
}
