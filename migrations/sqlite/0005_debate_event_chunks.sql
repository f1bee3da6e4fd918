CREATE TABLE `debate_event_chunks` (
	`debate_id` text NOT NULL,
	`first_seq` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`hashes` text NOT NULL,
	`events` text NOT NULL,
	PRIMARY KEY(`debate_id`, `first_seq`),
	FOREIGN KEY (`debate_id`) REFERENCES `debates`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Every existing event becomes a chunk of one, so nothing is rewritten: payloads stay byte for byte.
INSERT INTO `debate_event_chunks` (`debate_id`, `first_seq`, `last_seq`, `hashes`, `events`)
	SELECT `debate_id`, `seq`, `seq`, `hash`, '[' || `payload` || ']' FROM `debate_events`;
--> statement-breakpoint
DROP TABLE `debate_events`;--> statement-breakpoint
CREATE VIEW `debate_events` AS SELECT c.debate_id AS debate_id, c.first_seq + e.key AS seq, json_extract(e.value, '$.type') AS type, json_extract(e.value, '$.round') AS round, json_extract(e.value, '$.agent') AS agent, CAST(strftime('%s', json_extract(e.value, '$.ts')) AS INTEGER) * 1000 + CAST(substr(json_extract(e.value, '$.ts'), 21, 3) AS INTEGER) AS ts, substr(c.hashes, e.key * 64 + 1, 64) AS hash, e.value AS payload FROM debate_event_chunks AS c, json_each(c.events) AS e;
