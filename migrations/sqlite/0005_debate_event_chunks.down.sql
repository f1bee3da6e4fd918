-- Undoes 0005_debate_event_chunks.sql: the one-row-per-event table exactly as 0002_debates.sql
-- made it, refilled from the chunks (json_each gives each envelope back byte for byte).
DROP VIEW `debate_events`;
--> statement-breakpoint
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
INSERT INTO `debate_events` (`debate_id`, `seq`, `type`, `round`, `agent`, `ts`, `hash`, `payload`)
	SELECT c.debate_id, c.first_seq + e.key, json_extract(e.value, '$.type'), json_extract(e.value, '$.round'),
		json_extract(e.value, '$.agent'),
		CAST(strftime('%s', json_extract(e.value, '$.ts')) AS INTEGER) * 1000 + CAST(substr(json_extract(e.value, '$.ts'), 21, 3) AS INTEGER),
		substr(c.hashes, e.key * 64 + 1, 64), e.value
	FROM `debate_event_chunks` AS c, json_each(c.events) AS e
	ORDER BY c.debate_id, c.first_seq, e.key;
--> statement-breakpoint
DROP TABLE `debate_event_chunks`;
