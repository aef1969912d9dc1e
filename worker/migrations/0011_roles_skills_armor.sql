-- Roles, skills and armor of the original game (its `role`, `rolepassive`, `skill` and
-- `armor` tables), per world and player. Role ids are the original's `<star tier><2-digit
-- index>` (101..610); a role's segments are items of group 2 keyed by role id (as weapon
-- segments are group 0), so a role row holds only its star and level: no row and
-- segments means star 0 (locked). Every player of the original started with role 402 at
-- star 1; players made before this migration get it here.
CREATE TABLE IF NOT EXISTS roles (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    role_id   INT         NOT NULL,
    star      INT         NOT NULL DEFAULT 1,
    level     INT         NOT NULL DEFAULT 1,
    PRIMARY KEY (world, unique_id, role_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Unlocked passive skills of a role: pid 101..110 (the original's RolePassive), level 1.
CREATE TABLE IF NOT EXISTS role_passives (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    role_id   INT         NOT NULL,
    pid       SMALLINT    NOT NULL,
    level     INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, role_id, pid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Skills a player has learned, level 1..10.
CREATE TABLE IF NOT EXISTS skills (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    skill_id  INT         NOT NULL,
    level     INT         NOT NULL DEFAULT 1,
    PRIMARY KEY (world, unique_id, skill_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Armor pieces: how many of armor `armor_id` (1..4) at `level` (1..11) a player holds.
CREATE TABLE IF NOT EXISTS armors (
    world     VARCHAR(32)     NOT NULL,
    unique_id VARCHAR(64)     NOT NULL,
    armor_id  INT             NOT NULL,
    level     INT             NOT NULL,
    qty       BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, armor_id, level)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO roles (world, unique_id, role_id, star, level)
  SELECT world, unique_id, 402, 1, 1 FROM players
  ON DUPLICATE KEY UPDATE role_id = role_id;
