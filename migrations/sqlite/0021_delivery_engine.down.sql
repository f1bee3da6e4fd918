-- Undoes 0021_delivery_engine.sql: integrations' deliveries go back to integration_deliveries (their attempt log, which that table has no place for, is lost), webhook_deliveries loses target_kind and regains its foreign key to webhook_endpoints. The webhook attempts are set aside while the table is rebuilt (see the up script).
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
INSERT INTO `integration_deliveries`("id", "integration_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "endpoint_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM `webhook_deliveries` WHERE "target_kind" = 'integration' AND "endpoint_id" IN (SELECT "id" FROM `integrations`);--> statement-breakpoint
CREATE UNIQUE INDEX `integration_deliveries_integration_event` ON `integration_deliveries` (`integration_id`,`event_key`);--> statement-breakpoint
CREATE INDEX `integration_deliveries_due_idx` ON `integration_deliveries` (`integration_id`,`state`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `__keep_webhook_attempts` AS SELECT `webhook_attempts`.* FROM `webhook_attempts` JOIN `webhook_deliveries` ON `webhook_deliveries`.`id` = `webhook_attempts`.`delivery_id` WHERE `webhook_deliveries`.`target_kind` = 'webhook';--> statement-breakpoint
CREATE TABLE `__new_webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`endpoint_id` text NOT NULL,
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
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`endpoint_id`) REFERENCES `webhook_endpoints`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_webhook_deliveries`("id", "endpoint_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "endpoint_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM `webhook_deliveries` WHERE "target_kind" = 'webhook' AND "endpoint_id" IN (SELECT "id" FROM `webhook_endpoints`);--> statement-breakpoint
DROP TABLE `webhook_deliveries`;--> statement-breakpoint
ALTER TABLE `__new_webhook_deliveries` RENAME TO `webhook_deliveries`;--> statement-breakpoint
INSERT INTO `webhook_attempts` SELECT * FROM `__keep_webhook_attempts` WHERE "delivery_id" IN (SELECT "id" FROM `webhook_deliveries`);--> statement-breakpoint
DROP TABLE `__keep_webhook_attempts`;--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_endpoint_event` ON `webhook_deliveries` (`endpoint_id`,`event_key`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`endpoint_id`,`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_endpoint_created_idx` ON `webhook_deliveries` (`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_org_state_idx` ON `webhook_deliveries` (`org_id`,`state`,`updated_at`);
