-- Science, element skills and VIP (the original's `sciences`, `elements`, the limit 23 row
-- of `limits`, the `vipexp` column of `progress`, the VIP timers and card items), per world
-- and player. A science without a row is at level 0, except the factory master (ssa 65536),
-- which every player has at level 1 (the original's init); an element without a row is at
-- level 0; a player without an `element_resets` row has used none of its resets.
CREATE TABLE IF NOT EXISTS sciences (
    world     VARCHAR(32)  NOT NULL,
    unique_id VARCHAR(64)  NOT NULL,
    ssa       INT UNSIGNED NOT NULL,
    level     INT UNSIGNED NOT NULL,
    PRIMARY KEY (world, unique_id, ssa)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS elements (
    world     VARCHAR(32)  NOT NULL,
    unique_id VARCHAR(64)  NOT NULL,
    eid       INT UNSIGNED NOT NULL,
    level     INT UNSIGNED NOT NULL,
    PRIMARY KEY (world, unique_id, eid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS element_resets (
    world     VARCHAR(32)  NOT NULL,
    unique_id VARCHAR(64)  NOT NULL,
    used      INT UNSIGNED NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- VIP: experience, the end (unix seconds) of the month cards, NULL when never active, and
-- the perpetual card. The daily reward is a quota of `daily_limits`.
CREATE TABLE IF NOT EXISTS vip (
    world     VARCHAR(32)     NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    exp       BIGINT UNSIGNED NOT NULL DEFAULT 0,
    min_end   BIGINT          NULL,
    max_end   BIGINT          NULL,
    perpetual TINYINT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
