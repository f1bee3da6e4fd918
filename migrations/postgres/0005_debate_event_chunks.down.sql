-- Undoes 0005_debate_event_chunks.sql: the one-row-per-event table exactly as 0002_debates.sql
-- made it, refilled from the chunks with the view's own expansion (json_array_elements on json
-- gives each envelope back byte for byte).
DROP VIEW "debate_events";
--> statement-breakpoint
CREATE TABLE "debate_events" (
	"debate_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"round" integer,
	"agent" text,
	"ts" timestamp (3) with time zone NOT NULL,
	"hash" text NOT NULL,
	"payload" text NOT NULL,
	CONSTRAINT "debate_events_debate_id_seq_pk" PRIMARY KEY("debate_id","seq")
);
--> statement-breakpoint
INSERT INTO "debate_events" ("debate_id", "seq", "type", "round", "agent", "ts", "hash", "payload")
	SELECT c.debate_id, c.first_seq + e.n - 1, h.envelope ->> 'type', (h.envelope ->> 'round')::integer,
		h.envelope ->> 'agent', (h.envelope ->> 'ts')::timestamp(3) with time zone,
		substr(c.hashes, (e.n::integer - 1) * 64 + 1, 64), e.value::text
	FROM "debate_event_chunks" AS c
	CROSS JOIN LATERAL json_array_elements(c.events::json) WITH ORDINALITY AS e(value, n)
	CROSS JOIN LATERAL (
		SELECT regexp_replace(e.value::text, '(?<=(^|[^\\])(\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\ufffd', 'g')::json
	) AS h(envelope)
	ORDER BY c.debate_id, c.first_seq, e.n;
--> statement-breakpoint
ALTER TABLE "debate_events" ADD CONSTRAINT "debate_events_debate_id_debates_id_fk" FOREIGN KEY ("debate_id") REFERENCES "public"."debates"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
DROP TABLE "debate_event_chunks";
