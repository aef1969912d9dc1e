-- The factory of the original game (its `factory` rows, its factory timers and its
-- wishing pool limit), one row per world and player, made on the player's first factory
-- call with the defaults below (`workers` is set from factory.json's `workers.start`).
-- Storage is what the factories hold until gathered; `refreshed_at` is the unix time
-- production was counted up to and `carry` the production seconds (accelerated ones
-- counting twice) of a step begun but not finished. The armor factory makes armor
-- `armor_id` (1..4) of level 1. `pool_end` ends the wishing pool's cooldown, in which
-- `pool_left` wishes are left.
CREATE TABLE IF NOT EXISTS factories (
    world           VARCHAR(32)      NOT NULL,
    unique_id       VARCHAR(64)      NOT NULL,
    workers         INT UNSIGNED     NOT NULL DEFAULT 3,
    food_workers    INT UNSIGNED     NOT NULL DEFAULT 0,
    iron_workers    INT UNSIGNED     NOT NULL DEFAULT 0,
    crystal_workers INT UNSIGNED     NOT NULL DEFAULT 0,
    armor_workers   INT UNSIGNED     NOT NULL DEFAULT 0,
    food_level      INT UNSIGNED     NOT NULL DEFAULT 1,
    iron_level      INT UNSIGNED     NOT NULL DEFAULT 1,
    crystal_level   INT UNSIGNED     NOT NULL DEFAULT 1,
    pool_level      INT UNSIGNED     NOT NULL DEFAULT 1,
    armor_id        TINYINT UNSIGNED NOT NULL DEFAULT 1,
    food            BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    iron            BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    crystal         BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    armor           BIGINT UNSIGNED  NOT NULL DEFAULT 0,
    refreshed_at    BIGINT           NULL,
    carry           INT UNSIGNED     NOT NULL DEFAULT 0,
    accel_start     BIGINT           NULL,
    accel_end       BIGINT           NULL,
    pool_end        BIGINT           NULL,
    pool_left       INT UNSIGNED     NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
