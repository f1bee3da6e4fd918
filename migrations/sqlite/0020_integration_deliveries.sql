CREATE TABLE `integration_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`integration_id` text NOT NULL,
	`org_id` text NOT NULL,
	`event_type` text NOT NULL,
	`event_key` text NOT NULL,
	`payload` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`last_status` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`integration_id`) REFERENCES `integrations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `integration_deliveries_integration_event` ON `integration_deliveries` (`integration_id`,`event_key`);--> statement-breakpoint
CREATE INDEX `integration_deliveries_due_idx` ON `integration_deliveries` (`integration_id`,`state`,`next_attempt_at`);--> statement-breakpoint
ALTER TABLE `integrations` ADD `disabled_reason` text;