-- One player per (world, account). `gn` is the in-game name, unique per world;
-- utf8mb4_bin so names of any script compare code point by code point.
CREATE TABLE IF NOT EXISTS players (
    world      VARCHAR(32) NOT NULL,
    unique_id  VARCHAR(64) NOT NULL,
    gn         VARCHAR(20) NOT NULL,
    icon       INT         NOT NULL DEFAULT 0,
    level      INT         NOT NULL DEFAULT 1,
    created_at TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (world, unique_id),
    UNIQUE KEY players_gn (world, gn),
    KEY players_unique_id (unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What a player holds: one row per item, `"<grp>:<item_id>:<qty>"` on the wire.
-- UNSIGNED: a spend that would go below zero fails in the database too, not only in code.
CREATE TABLE IF NOT EXISTS items (
    world     VARCHAR(32)     NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    grp       INT             NOT NULL,
    item_id   INT             NOT NULL,
    qty       BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, grp, item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Weapons a player owns; their segments are items of group 1 with the weapon's id.
CREATE TABLE IF NOT EXISTS weapons (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    weapon_id INT         NOT NULL,
    level     INT         NOT NULL DEFAULT 1,
    star      INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, weapon_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
