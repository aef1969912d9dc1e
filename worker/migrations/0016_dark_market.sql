-- The dark market (the original's darkmarket.py): per world and player, the offers of its
-- grid and the clock of its free refreshes. New tables only; nothing existing changes.

-- The free-refresh clock: `refreshed_at` (unix seconds) starts the running refresh
-- period (the original's DARK_MARKET timer), `refreshable` the free refreshes left (its
-- DARK_MARKET limit). No row: the player never opened the market.
CREATE TABLE IF NOT EXISTS dark_market (
    world        VARCHAR(32)  NOT NULL,
    unique_id    VARCHAR(64)  NOT NULL,
    refreshed_at BIGINT       NOT NULL,
    refreshable  INT UNSIGNED NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One offer per grid slot `pid`: `qty` of item `gid`:`mid` (group 1: skill `mid`) for
-- `amt` of item 3:`cid`. `bought` marks it sold until the next refresh replaces it (the
-- original stored a negative `amt` instead; answers still show a sold offer's `amt`
-- negative).
CREATE TABLE IF NOT EXISTS dark_market_offers (
    world     VARCHAR(32)      NOT NULL,
    unique_id VARCHAR(64)      NOT NULL,
    pid       INT UNSIGNED     NOT NULL,
    gid       INT UNSIGNED     NOT NULL,
    mid       INT UNSIGNED     NOT NULL,
    qty       BIGINT UNSIGNED  NOT NULL,
    cid       INT UNSIGNED     NOT NULL,
    amt       BIGINT UNSIGNED  NOT NULL,
    bought    TINYINT(1)       NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, pid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
