DROP INDEX `debates_owner_created_idx`;--> statement-breakpoint
CREATE INDEX `debates_org_created_idx` ON `debates` (`org_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `__new_elo_ratings` (
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`elo` real NOT NULL,
	`debates` integer NOT NULL,
	`wins` integer NOT NULL,
	`losses` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `name`)
);
--> statement-breakpoint
INSERT INTO `__new_elo_ratings`("org_id", "name", "elo", "debates", "wins", "losses", "updated_at") SELECT 'local', "name", "elo", "debates", "wins", "losses", "updated_at" FROM `elo_ratings`;--> statement-breakpoint
DROP TABLE `elo_ratings`;--> statement-breakpoint
ALTER TABLE `__new_elo_ratings` RENAME TO `elo_ratings`;
