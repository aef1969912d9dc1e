-- Weapons of the original game: ids `<star tier><2-digit index>` (101..610), star 0 =
-- segments only (locked), skill points and passives. Our six weapons take original ids:
-- wooden_sword 1 -> 301, iron_sword 2 -> 302, hunting_bow 3 -> 303 (tier 3, the
-- original's starting weapons), steel_axe 4 -> 401, fire_staff 5 -> 402 (tier 4),
-- dragon_spear 6 -> 501 (tier 5). Owned weapons were usable at our star 0, which is the
-- original's star 1: every owned weapon goes up one star. Segments (items of group 0,
-- keyed by weapon id) move with their weapon. New ids are all above 300, so no row
-- collides.
UPDATE weapons SET star = star + 1,
  weapon_id = CASE weapon_id WHEN 1 THEN 301 WHEN 2 THEN 302 WHEN 3 THEN 303
                             WHEN 4 THEN 401 WHEN 5 THEN 402 WHEN 6 THEN 501 END
  WHERE weapon_id BETWEEN 1 AND 6;
UPDATE items SET
  item_id = CASE item_id WHEN 1 THEN 301 WHEN 2 THEN 302 WHEN 3 THEN 303
                         WHEN 4 THEN 401 WHEN 5 THEN 402 WHEN 6 THEN 501 END
  WHERE grp = 0 AND item_id BETWEEN 1 AND 6;
-- A weapon row made without a star (create_player) is an unlocked weapon, as the
-- original's starting weapons at star 1.
ALTER TABLE weapons ALTER COLUMN star SET DEFAULT 1;
ALTER TABLE weapons ADD COLUMN skillpoint INT NOT NULL DEFAULT 0;
-- Passive levels of a weapon: pid 1..4 (the original's WeaponPassive).
CREATE TABLE IF NOT EXISTS weapon_passives (
    world     VARCHAR(32) NOT NULL,
    unique_id VARCHAR(64) NOT NULL,
    weapon_id INT         NOT NULL,
    pid       TINYINT     NOT NULL,
    level     INT         NOT NULL DEFAULT 0,
    PRIMARY KEY (world, unique_id, weapon_id, pid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
