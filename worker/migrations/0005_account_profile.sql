-- `cid`: a stable per-account id that `enter_world` answers (the original's `cuid`); made
-- on first use, so accounts of earlier versions get one too. `intro`: the player's profile
-- text (`player_set_intro`); existing players get the empty intro.
ALTER TABLE accounts ADD COLUMN cid CHAR(32) NULL, ADD UNIQUE KEY accounts_cid (cid);
ALTER TABLE players ADD COLUMN intro VARCHAR(128) NOT NULL DEFAULT '';
