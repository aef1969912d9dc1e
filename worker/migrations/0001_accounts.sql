-- Accounts are global (not per world). `unique_id` is the device id of a guest or the id
-- chosen at register; it is the `uid` in every token. Per-world game data goes in later
-- tables keyed by (world, unique_id).
-- utf8mb4_bin: names compare byte for byte, so two different emoji never collide.
CREATE TABLE IF NOT EXISTS accounts (
    unique_id    VARCHAR(64)  NOT NULL,
    account      VARCHAR(32)  NULL,
    email        VARCHAR(128) NULL,
    phone_number VARCHAR(32)  NULL,
    password     VARCHAR(255) NULL,
    created_at   TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (unique_id),
    UNIQUE KEY accounts_account (account),
    UNIQUE KEY accounts_email (email),
    UNIQUE KEY accounts_phone_number (phone_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
