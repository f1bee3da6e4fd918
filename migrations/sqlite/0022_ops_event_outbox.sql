CREATE TABLE `ops_event_outbox` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	PRIMARY KEY(`run_id`, `seq`)
);
