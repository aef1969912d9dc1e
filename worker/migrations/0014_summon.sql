-- The summoning stores (the original's `summon` table and its summoning timers and
-- limits). A store is one of three (`cid`: its currency item, 5 diamond, 1 coin, 16
-- friend gift) of `grid` cells per player: `pid` the cell, `mid` its item string, `wgt`
-- its draw weight, `isb` 1 once drawn. A refresh replaces every cell of the store.
CREATE TABLE IF NOT EXISTS summon_cells (
    world     VARCHAR(32)  NOT NULL,
    unique_id VARCHAR(64)  NOT NULL,
    cid       INT          NOT NULL,
    pid       INT          NOT NULL,
    mid       VARCHAR(64)  NOT NULL,
    wgt       BIGINT UNSIGNED NOT NULL,
    isb       TINYINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, cid, pid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A store's clocks (unix seconds): `ends` when its cells are replaced by themselves (the
-- original's SUMMON_*_END timers), `free_refresh` when `buy_refresh_*` is free again
-- (SUMMON_*_REFRESH). No row: a store never made, free to refresh.
CREATE TABLE IF NOT EXISTS summon_stores (
    world        VARCHAR(32) NOT NULL,
    unique_id    VARCHAR(64) NOT NULL,
    cid          INT         NOT NULL,
    ends         BIGINT      NOT NULL,
    free_refresh BIGINT      NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, cid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The integral step a player has converted last (the original's Limits INTEGRAL, `acp`):
-- 0, 200, 400, 600 or 800; the 1000 step puts it back to 0. No row: 0.
CREATE TABLE IF NOT EXISTS summon_integral (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    acp       INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
