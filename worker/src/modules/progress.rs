//! What daily tasks and achievements count, recorded by the modules where it happens: a
//! module calls [`task_done`] or [`achieve`] inside the transaction of the action, so the
//! count commits with it or not at all. Reading and claiming them are the functions of the
//! task and achievement modules. Ids are the original's (`enums.py` `Task`, `Achievement`).

use mysql::prelude::Queryable;

use crate::function::FnError;
use crate::modules::daily;

/// The original's daily tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Login = 1,
    CheckIn = 2,
    RoleLevelUp = 3,
    WeaponLevelUp = 4,
    PassMainStage = 5,
    PassSpecialStage = 6,
    PassWorldBoss = 7,
    BasicSummoning = 8,
    ProSummoning = 9,
    CheckFactory = 10,
    SendFriendGift = 11,
    FamilyCheckIn = 12,
    /// Done when ten other tasks are done on one game day.
    Done10Tasks = 13,
}

impl Task {
    pub const ALL: [Task; 13] = [
        Task::Login,
        Task::CheckIn,
        Task::RoleLevelUp,
        Task::WeaponLevelUp,
        Task::PassMainStage,
        Task::PassSpecialStage,
        Task::PassWorldBoss,
        Task::BasicSummoning,
        Task::ProSummoning,
        Task::CheckFactory,
        Task::SendFriendGift,
        Task::FamilyCheckIn,
        Task::Done10Tasks,
    ];

    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.id() == id)
    }
}

/// The original's achievements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Achievement {
    TotalLogin = 1,
    KeepingLogin = 2,
    LvVip = 3,
    Get4R = 4,
    Get5R = 5,
    Get6R = 6,
    LvUpR = 7,
    Get4W = 8,
    Get5W = 9,
    Get6W = 10,
    LvUpW = 11,
    SummonC = 12,
    SummonD = 13,
    Summon3W = 14,
    Summon4W = 15,
    Summon5W = 16,
    Summon3R = 17,
    Summon4R = 18,
    Summon5R = 19,
    PassStage = 20,
    CollectFood = 21,
    CollectIron = 22,
    CollectCrystal = 23,
    UpgradeFood = 24,
    UpgradeIron = 25,
    UpgradeCrystal = 26,
    FriendRequest = 27,
    FriendGift = 28,
    FamilyCheckIn = 29,
    /// "The AI's first awakening": the one the client activates itself
    /// (`activate_achievement`).
    ActAi = 101,
    /// Clearing without using a skill: the other one the client activates.
    ActUns = 102,
}

impl Achievement {
    pub const ALL: [Achievement; 31] = [
        Achievement::TotalLogin,
        Achievement::KeepingLogin,
        Achievement::LvVip,
        Achievement::Get4R,
        Achievement::Get5R,
        Achievement::Get6R,
        Achievement::LvUpR,
        Achievement::Get4W,
        Achievement::Get5W,
        Achievement::Get6W,
        Achievement::LvUpW,
        Achievement::SummonC,
        Achievement::SummonD,
        Achievement::Summon3W,
        Achievement::Summon4W,
        Achievement::Summon5W,
        Achievement::Summon3R,
        Achievement::Summon4R,
        Achievement::Summon5R,
        Achievement::PassStage,
        Achievement::CollectFood,
        Achievement::CollectIron,
        Achievement::CollectCrystal,
        Achievement::UpgradeFood,
        Achievement::UpgradeIron,
        Achievement::UpgradeCrystal,
        Achievement::FriendRequest,
        Achievement::FriendGift,
        Achievement::FamilyCheckIn,
        Achievement::ActAi,
        Achievement::ActUns,
    ];

    /// The achievements the client itself reports (`activate_achievement`): the original's
    /// ids above 100.
    pub fn client_activated(self) -> bool {
        self.id() > 100
    }

    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Option<Achievement> {
        Achievement::ALL.into_iter().find(|a| a.id() == id)
    }
}

/// Highest count an achievement keeps (far above any reward step; no overflow).
const MAX_COUNT: u64 = 1 << 40;

/// Marks `task` done today for the player (once a day: a second call changes nothing but
/// keeps the first time), and [`Task::Done10Tasks`] when that makes ten.
pub fn task_done(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    task: Task,
    now: i64,
) -> Result<(), FnError> {
    let today = daily::date(daily::game_day(now));
    mark(conn, world, uid, task, &today, now)?;
    if task != Task::Done10Tasks {
        let done: Option<i64> = conn.exec_first(
            "SELECT COUNT(*) FROM tasks WHERE world = ? AND unique_id = ? AND day = ? AND tid <> ?",
            (world, uid, &today, Task::Done10Tasks.id()),
        )?;
        if done.unwrap_or(0) >= 10 {
            mark(conn, world, uid, Task::Done10Tasks, &today, now)?;
        }
    }
    Ok(())
}

fn mark(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    task: Task,
    today: &str,
    now: i64,
) -> Result<(), FnError> {
    // A row of an earlier day starts over: done now, reward not claimed.
    conn.exec_drop(
        "INSERT INTO tasks (world, unique_id, tid, day, done_at, rewarded) VALUES (?, ?, ?, ?, ?, 0)
         ON DUPLICATE KEY UPDATE
           rewarded = IF(day = VALUES(day), rewarded, 0),
           done_at = IF(day = VALUES(day), done_at, VALUES(done_at)),
           day = VALUES(day)",
        (world, uid, task.id(), today, now),
    )?;
    Ok(())
}

/// Adds `n` (at least 1) to the player's count of `achievement`.
pub fn achieve(
    conn: &mut impl Queryable,
    world: &str,
    uid: &str,
    achievement: Achievement,
    n: u64,
) -> Result<(), FnError> {
    let n = n.clamp(1, MAX_COUNT);
    conn.exec_drop(
        "INSERT INTO achievements (world, unique_id, aid, value) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE value = LEAST(value + VALUES(value), ?)",
        (world, uid, achievement.id(), n, MAX_COUNT),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_originals_and_round_trip() {
        assert_eq!(Task::Done10Tasks.id(), 13);
        assert_eq!(Achievement::FamilyCheckIn.id(), 29);
        assert_eq!(Achievement::ActAi.id(), 101);
        for t in Task::ALL {
            assert_eq!(Task::from_id(t.id()), Some(t));
        }
        for a in Achievement::ALL {
            assert_eq!(Achievement::from_id(a.id()), Some(a));
        }
        assert_eq!(Task::from_id(0), None);
        assert_eq!(Achievement::from_id(30), None);
        assert_eq!(Achievement::from_id(102), Some(Achievement::ActUns));
        assert!(
            Achievement::ActUns.client_activated()
                && !Achievement::FamilyCheckIn.client_activated()
        );
    }

    #[test]
    fn tasks_are_daily_and_ten_make_the_eleventh() {
        let server = crate::test_support::start_mariadb();
        let db = crate::db::Db::open(&server.url(), 2).unwrap();
        crate::db::migrate(&db).unwrap();
        let mut conn = db.conn().unwrap();
        // 2024-01-01 12:00 UTC+8
        let noon = 1_704_081_600;
        let done = |conn: &mut crate::db::DbConn, day: &str| -> Vec<i64> {
            conn.exec(
                "SELECT tid FROM tasks WHERE unique_id = 'u' AND day = ? ORDER BY tid",
                (day,),
            )
            .unwrap()
        };
        for task in &Task::ALL[..9] {
            task_done(&mut conn, "s0", "u", *task, noon).unwrap();
        }
        task_done(&mut conn, "s0", "u", Task::Login, noon + 60).unwrap();
        assert_eq!(done(&mut conn, "2024-01-01").len(), 9, "once a day");
        task_done(&mut conn, "s0", "u", Task::CheckFactory, noon).unwrap();
        assert_eq!(
            done(&mut conn, "2024-01-01"),
            (1..=10).chain([13]).collect::<Vec<_>>()
        );
        // The next game day starts over.
        task_done(&mut conn, "s0", "u", Task::Login, noon + 86_400).unwrap();
        assert_eq!(done(&mut conn, "2024-01-02"), [1]);

        achieve(&mut conn, "s0", "u", Achievement::PassStage, 2).unwrap();
        achieve(&mut conn, "s0", "u", Achievement::PassStage, 0).unwrap();
        achieve(&mut conn, "s0", "u", Achievement::PassStage, u64::MAX).unwrap();
        let value: Option<u64> = conn
            .exec_first(
                "SELECT value FROM achievements WHERE unique_id = 'u' AND aid = 20",
                (),
            )
            .unwrap();
        assert_eq!(value, Some(MAX_COUNT), "2 + 1 + capped");
    }
}
