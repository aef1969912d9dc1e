-- Stages (the original's `stages`, `leaderboard` and its stage timers), per world and
-- player. No row in `stages` means the mode's starting value (general 1, endless 1000,
-- boss 3000, coin 4000, experience 4150), so players made before this migration need none.
CREATE TABLE IF NOT EXISTS stages (
    world     VARCHAR(32)      NOT NULL,
    unique_id VARCHAR(64)      NOT NULL,
    sid       TINYINT UNSIGNED NOT NULL,
    stage     INT              NOT NULL,
    PRIMARY KEY (world, unique_id, sid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The player's open enter: the stage entered (what was paid for it is already spent).
-- One per player, as the original's; a victory deletes it, so it pays out once.
CREATE TABLE IF NOT EXISTS stage_entries (
    world      VARCHAR(32) NOT NULL,
    unique_id  VARCHAR(64) NOT NULL,
    stage      INT         NOT NULL,
    entered_at BIGINT      NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Idle (hang-up) rewards accrue from `since` (unix seconds).
CREATE TABLE IF NOT EXISTS stage_hang_up (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    since     BIGINT      NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- World boss damage per player: the best single fight and the total (the ranking's).
CREATE TABLE IF NOT EXISTS stage_boss_damage (
    world     VARCHAR(32)     NOT NULL,
    stage     INT             NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    best      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    total     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (world, stage, unique_id),
    KEY stage_boss_rank (world, stage, total)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Damage dealt to each world boss of a world in game month `month` (UTC+8, year * 12 +
-- month - 1); a new month starts the boss at full HP again.
CREATE TABLE IF NOT EXISTS stage_world_boss (
    world  VARCHAR(32)     NOT NULL,
    stage  INT             NOT NULL,
    month  INT             NOT NULL,
    damage BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (world, stage)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
