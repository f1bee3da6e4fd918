-- One delivery engine: integrations' deliveries join webhook endpoints' in webhook_deliveries (target_kind says which), keeping every row and id; endpoint_id holds the target's id, so its foreign key goes. The attempts are set aside while the table is rebuilt: dropping it (foreign keys on, inside the migration's transaction) would cascade to them.
CREATE TABLE `__keep_webhook_attempts` AS SELECT * FROM `webhook_attempts`;--> statement-breakpoint
CREATE TABLE `__new_webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`endpoint_id` text NOT NULL,
	`target_kind` text DEFAULT 'webhook' NOT NULL,
	`org_id` text NOT NULL,
	`event_type` text NOT NULL,
	`event_key` text NOT NULL,
	`payload` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer NOT NULL,
	`retry_base` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`last_status` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_webhook_deliveries`("id", "endpoint_id", "target_kind", "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "endpoint_id", 'webhook', "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM `webhook_deliveries`;--> statement-breakpoint
INSERT INTO `__new_webhook_deliveries`("id", "endpoint_id", "target_kind", "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "integration_id", 'integration', "org_id", "event_type", "event_key", "payload", "state", "attempts", 0, "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM `integration_deliveries`;--> statement-breakpoint
DROP TABLE `integration_deliveries`;--> statement-breakpoint
DROP TABLE `webhook_deliveries`;--> statement-breakpoint
ALTER TABLE `__new_webhook_deliveries` RENAME TO `webhook_deliveries`;--> statement-breakpoint
INSERT INTO `webhook_attempts` SELECT * FROM `__keep_webhook_attempts`;--> statement-breakpoint
DROP TABLE `__keep_webhook_attempts`;--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_endpoint_event` ON `webhook_deliveries` (`endpoint_id`,`event_key`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`endpoint_id`,`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_endpoint_created_idx` ON `webhook_deliveries` (`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_org_state_idx` ON `webhook_deliveries` (`org_id`,`state`,`updated_at`);
