-- Item ids of the original game, so its clients read our item strings: coins were 0:0 and
-- are 3:1, diamonds 0:1 -> 3:5, energy 0:2 -> 3:10 (the original's energy potion); weapon
-- segments move from group 1 (the original's skills) to group 0 (its weapons).
-- Group 3 was unused before this migration, so no row can collide.
UPDATE items SET grp = 3, item_id = 1 WHERE grp = 0 AND item_id = 0;
UPDATE items SET grp = 3, item_id = 5 WHERE grp = 0 AND item_id = 1;
UPDATE items SET grp = 3, item_id = 10 WHERE grp = 0 AND item_id = 2;
UPDATE items SET grp = 0 WHERE grp = 1;
