-- Families as the original game's clients know them: experience (check-ins), a
-- blackboard beside the notice, a delayed disband (unix seconds of the deadline; the
-- first family call after it deletes the family), the news list, daily counters and the
-- cooldown after leaving. Existing families keep their rows: exp 0, empty board, no
-- pending disband.
ALTER TABLE families
    ADD COLUMN exp        BIGINT        NOT NULL DEFAULT 0,
    ADD COLUMN board      VARCHAR(1000) NOT NULL DEFAULT '',
    ADD COLUMN disband_at BIGINT        NULL;

-- The family news (`fm_<n>:<game names>`), newest last; deleted with the family.
CREATE TABLE IF NOT EXISTS family_history (
    hid   BIGINT       NOT NULL AUTO_INCREMENT,
    world VARCHAR(32)  NOT NULL,
    fid   CHAR(16)     NOT NULL,
    at    BIGINT       NOT NULL,
    msg   VARCHAR(255) NOT NULL,
    PRIMARY KEY (hid),
    KEY family_history_fid (world, fid, hid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Daily counters of the game day (UTC+8) `day`: per family (`subject` = fid: invites,
-- notices, removals) or per player (`subject` = uid: join requests, check-in, welfare
-- gifts). `what` names the counter; the two kinds use different names.
CREATE TABLE IF NOT EXISTS family_daily (
    world   VARCHAR(32) NOT NULL,
    subject VARCHAR(64) NOT NULL,
    what    VARCHAR(16) NOT NULL,
    day     INT         NOT NULL,
    used    INT         NOT NULL,
    PRIMARY KEY (world, subject, what)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- When a player who left a family may join one again (unix seconds).
CREATE TABLE IF NOT EXISTS family_cooldowns (
    world      VARCHAR(32) NOT NULL,
    unique_id  VARCHAR(64) NOT NULL,
    join_after BIGINT      NOT NULL,
    PRIMARY KEY (world, unique_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
