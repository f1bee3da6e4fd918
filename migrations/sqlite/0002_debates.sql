CREATE TABLE `debate_events` (
	`debate_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`round` integer,
	`agent` text,
	`ts` integer NOT NULL,
	`hash` text NOT NULL,
	`payload` text NOT NULL,
	PRIMARY KEY(`debate_id`, `seq`),
	FOREIGN KEY (`debate_id`) REFERENCES `debates`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `debate_participants` (
	`debate_id` text NOT NULL,
	`seat` integer NOT NULL,
	`agent` text NOT NULL,
	PRIMARY KEY(`debate_id`, `seat`),
	FOREIGN KEY (`debate_id`) REFERENCES `debates`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `debate_participants_agent_idx` ON `debate_participants` (`agent`);--> statement-breakpoint
CREATE TABLE `debate_receipts` (
	`debate_id` text PRIMARY KEY NOT NULL,
	`receipt` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`debate_id`) REFERENCES `debates`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `debates` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`question` text NOT NULL,
	`config` text NOT NULL,
	`metadata` text NOT NULL,
	`status` text NOT NULL,
	`stop_reason` text,
	`error` text,
	`consensus` text,
	`baseline` text,
	`summary` text,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`elo_applied` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `debates_owner_created_idx` ON `debates` (`user_id`,`org_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `debates_status_idx` ON `debates` (`status`);--> statement-breakpoint
CREATE TABLE `elo_ratings` (
	`name` text PRIMARY KEY NOT NULL,
	`elo` real NOT NULL,
	`debates` integer NOT NULL,
	`wins` integer NOT NULL,
	`losses` integer NOT NULL,
	`updated_at` integer NOT NULL
);
