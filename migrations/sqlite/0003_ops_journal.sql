CREATE TABLE `ops_approvals` (
	`run_id` text NOT NULL,
	`step_id` text NOT NULL,
	`approver` text NOT NULL,
	`roles` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`run_id`, `step_id`, `approver`)
);
--> statement-breakpoint
CREATE TABLE `ops_journal` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`step_id` text,
	`kind` text NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`run_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `ops_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`playbook` text NOT NULL,
	`file` text NOT NULL,
	`source` text NOT NULL,
	`params` text NOT NULL,
	`status` text NOT NULL,
	`started_by` text NOT NULL,
	`executor` text NOT NULL,
	`created_at` integer NOT NULL,
	`heartbeat_at` integer NOT NULL,
	`finished_at` integer,
	`current_step` text,
	`error` text,
	`cancel_requested` integer DEFAULT 0 NOT NULL,
	`decision` text
);
--> statement-breakpoint
CREATE INDEX `ops_runs_created_at_idx` ON `ops_runs` (`created_at`);--> statement-breakpoint
CREATE TABLE `ops_steps` (
	`run_id` text NOT NULL,
	`step_id` text NOT NULL,
	`idx` integer NOT NULL,
	`action` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`idempotent` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`outputs` text,
	`error` text,
	PRIMARY KEY(`run_id`, `step_id`)
);
