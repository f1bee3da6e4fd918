-- Back to one leaderboard: every organisation's ratings of an agent merge into one row (debates,
-- wins and losses summed; the rating of the organisation that played it most kept), and debates
-- are listed by creator and organisation again.
CREATE TABLE `__old_elo_ratings` (
	`name` text PRIMARY KEY NOT NULL,
	`elo` real NOT NULL,
	`debates` integer NOT NULL,
	`wins` integer NOT NULL,
	`losses` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__old_elo_ratings`("name", "elo", "debates", "wins", "losses", "updated_at")
SELECT "name",
	(SELECT r."elo" FROM `elo_ratings` AS r WHERE r."name" = e."name" ORDER BY r."debates" DESC, r."org_id" LIMIT 1),
	SUM("debates"), SUM("wins"), SUM("losses"), MAX("updated_at")
FROM `elo_ratings` AS e GROUP BY "name";--> statement-breakpoint
DROP TABLE `elo_ratings`;--> statement-breakpoint
ALTER TABLE `__old_elo_ratings` RENAME TO `elo_ratings`;--> statement-breakpoint
DROP INDEX `debates_org_created_idx`;--> statement-breakpoint
CREATE INDEX `debates_owner_created_idx` ON `debates` (`user_id`,`org_id`,`created_at`);
