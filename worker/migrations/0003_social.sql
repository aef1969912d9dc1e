-- Families (guilds) and friends, per world. utf8mb4_bin: names compare byte for byte.
-- `fid` is a generated 16-hex-digit id: it names the family's chat channel
-- (chat.<world>.family.<fid>), so the free-text name never reaches a NATS subject.
CREATE TABLE IF NOT EXISTS families (
    world      VARCHAR(32)  NOT NULL,
    fid        CHAR(16)     NOT NULL,
    name       VARCHAR(64)  NOT NULL,
    icon       INT          NOT NULL DEFAULT 0,
    notice     VARCHAR(1000) NOT NULL DEFAULT '',
    created_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (world, fid),
    UNIQUE KEY families_name (world, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per member; the primary key makes "one family per player per world" a rule of
-- the table, not of the code.
CREATE TABLE IF NOT EXISTS family_members (
    world     VARCHAR(32)  NOT NULL,
    unique_id VARCHAR(64)  NOT NULL,
    fid       CHAR(16)     NOT NULL,
    role      TINYINT      NOT NULL,
    joined_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (world, unique_id),
    KEY family_members_fid (world, fid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A friendship is two rows, one per direction; each direction counts its own gifts.
CREATE TABLE IF NOT EXISTS friends (
    world       VARCHAR(32) NOT NULL,
    unique_id   VARCHAR(64) NOT NULL,
    friend_uid  VARCHAR(64) NOT NULL,
    since       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    gift_day    DATE        NULL,
    gifts_today INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, friend_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
