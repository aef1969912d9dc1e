-- The game day (UTC+8) a player last sent a heart to another, kept apart from `friends`
-- so that unfriending (which deletes both `friends` rows) and re-friending does not make
-- a second heart the same day possible (issue 15, finding 6). A row older than today
-- means nothing; the sender's old rows are deleted on the next send.
CREATE TABLE IF NOT EXISTS friend_gift_days (
    world      VARCHAR(32) NOT NULL,
    unique_id  VARCHAR(64) NOT NULL,
    friend_uid VARCHAR(64) NOT NULL,
    gift_day   DATE        NOT NULL,
    PRIMARY KEY (world, unique_id, friend_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
