-- Exchange (gift) codes, made by operators with `create_exchange_code` (the original kept
-- them in a separate `exchange` database: gid, eid, pid, etime, receive). `remaining` is
-- decremented under the row's lock by each redemption; `expires_at` is unix seconds.
CREATE TABLE IF NOT EXISTS exchange_codes (
    game_id    VARCHAR(64)     NOT NULL,
    code       VARCHAR(64)     NOT NULL,
    pid        VARCHAR(64)     NOT NULL,
    remaining  BIGINT UNSIGNED NOT NULL,
    expires_at BIGINT          NOT NULL,
    created_by VARCHAR(64)     NOT NULL,
    created_at BIGINT          NOT NULL,
    PRIMARY KEY (game_id, code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Who redeemed which code: the primary key lets a player redeem a code once (the original
-- let one player redeem a code until it ran out).
CREATE TABLE IF NOT EXISTS exchange_redemptions (
    game_id     VARCHAR(64) NOT NULL,
    code        VARCHAR(64) NOT NULL,
    world       VARCHAR(32) NOT NULL,
    unique_id   VARCHAR(64) NOT NULL,
    redeemed_at BIGINT      NOT NULL,
    PRIMARY KEY (game_id, code, world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Credited in-app purchases (the original's `mall` table), one row per store order: the
-- primary key makes an order creditable once, in every world. Written in the transaction
-- that credits it. `verified` 1: a verifier accepted the receipt; 0: an operator credited
-- it (`credited_by` is the operator's account).
CREATE TABLE IF NOT EXISTS purchases (
    order_id    VARCHAR(128)    NOT NULL,
    world       VARCHAR(32)     NOT NULL,
    unique_id   VARCHAR(64)     NOT NULL,
    pid         VARCHAR(64)     NOT NULL,
    channel     VARCHAR(32)     NOT NULL,
    currency    VARCHAR(16)     NOT NULL,
    price       BIGINT UNSIGNED NOT NULL,
    item_id     INT UNSIGNED    NOT NULL,
    qty         BIGINT UNSIGNED NOT NULL,
    verified    TINYINT         NOT NULL,
    credited_by VARCHAR(64)     NULL,
    credited_at BIGINT          NOT NULL,
    PRIMARY KEY (order_id),
    KEY purchases_player (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
