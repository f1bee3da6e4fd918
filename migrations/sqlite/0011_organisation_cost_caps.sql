CREATE TABLE `organisation_cost_caps` (
	`org_id` text PRIMARY KEY NOT NULL,
	`monthly_cost_cap_usd` real NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL
);
