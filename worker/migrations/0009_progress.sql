-- Daily tasks and achievements (the original's `task` and `achievement` tables), per
-- world and player. A task row holds one game day (UTC+8): a row of an earlier day counts
-- as not done. `rewarded` marks a task's reward claimed; an achievement's `rewarded` is
-- the count its last claimed reward was for (the original's `reward`).
CREATE TABLE IF NOT EXISTS tasks (
    world     VARCHAR(32)     NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    tid       SMALLINT        NOT NULL,
    day       DATE            NOT NULL,
    done_at   BIGINT          NOT NULL,
    rewarded  TINYINT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, tid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS achievements (
    world     VARCHAR(32)     NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    aid       SMALLINT        NOT NULL,
    value     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    rewarded  BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, aid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
