CREATE TABLE `delivery_leases` (
	`kind` text NOT NULL,
	`resource_id` text NOT NULL,
	`node_id` text NOT NULL,
	`epoch` integer NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `resource_id`)
);
--> statement-breakpoint
CREATE INDEX `delivery_leases_node_idx` ON `delivery_leases` (`kind`,`node_id`);