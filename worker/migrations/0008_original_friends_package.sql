-- Friends as the original game keeps them: a request makes a one-sided row at once
-- (since NULL = requested, not yet accepted); accepting makes both rows confirmed.
-- `gift_day` is the game day (UTC+8) the row's owner last sent a heart to its friend;
-- `isre` = 0 while the friend has not collected it (1: collected, or none sent).
ALTER TABLE friends MODIFY since TIMESTAMP NULL DEFAULT NULL;
ALTER TABLE friends ADD COLUMN isre TINYINT NOT NULL DEFAULT 1;
ALTER TABLE friends DROP COLUMN gifts_today;

-- Daily quotas per game day (UTC+8): `lid` is the original's Limits id (6 friend
-- requests, 24 energy purchases); `used` counts on `day`, another day starts at 0.
CREATE TABLE IF NOT EXISTS daily_limits (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    lid       INT         NOT NULL,
    day       DATE        NOT NULL,
    used      INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, lid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Energy: `energy` as of `recover_from` (unix seconds), from which one point comes back
-- every `cooling_time` minutes while below the maximum; NULL when not recovering. No row:
-- full energy.
CREATE TABLE IF NOT EXISTS energy (
    world        VARCHAR(32)  NOT NULL,
    unique_id    VARCHAR(64)  NOT NULL,
    energy       INT UNSIGNED NOT NULL,
    recover_from BIGINT       NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The player's experience that friend answers show (`exp`; `intro` came with 0005).
ALTER TABLE players ADD COLUMN exp BIGINT UNSIGNED NOT NULL DEFAULT 0;
