-- Check-ins (the original's `check_in` table): one row per signed game day (UTC+8) of a
-- player, made by `check_in_sign` (today) or `check_in_supplement` (a missed earlier day
-- of the month). The primary key makes a day's reward a one-time grant.
CREATE TABLE IF NOT EXISTS check_ins (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    day       DATE        NOT NULL,
    reward    TINYINT     NOT NULL DEFAULT 1,
    PRIMARY KEY (world, unique_id, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The last game day a player's login counted for the login achievements (the original's
-- LOGIN and CONTINUOUS_LOGIN timers): `get_all_achievement` counts one login a game day,
-- and consecutive days for KEEPING_LOGIN.
CREATE TABLE IF NOT EXISTS login_days (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    last_day  DATE        NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
