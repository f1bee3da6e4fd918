CREATE TABLE "debate_event_chunks" (
	"debate_id" text NOT NULL,
	"first_seq" bigint NOT NULL,
	"last_seq" bigint NOT NULL,
	"hashes" text NOT NULL,
	"events" text NOT NULL,
	CONSTRAINT "debate_event_chunks_debate_id_first_seq_pk" PRIMARY KEY("debate_id","first_seq")
);
--> statement-breakpoint
-- Every existing event becomes a chunk of one, so nothing is rewritten: payloads stay byte for byte.
INSERT INTO "debate_event_chunks" ("debate_id", "first_seq", "last_seq", "hashes", "events")
	SELECT "debate_id", "seq", "seq", "hash", '[' || "payload" || ']' FROM "debate_events";
--> statement-breakpoint
DROP TABLE "debate_events";--> statement-breakpoint
ALTER TABLE "debate_event_chunks" ADD CONSTRAINT "debate_event_chunks_debate_id_debates_id_fk" FOREIGN KEY ("debate_id") REFERENCES "public"."debates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE VIEW "public"."debate_events" AS (SELECT c.debate_id, c.first_seq + e.n - 1 AS seq, h.envelope ->> 'type' AS type,
  (h.envelope ->> 'round')::integer AS round, h.envelope ->> 'agent' AS agent,
  (h.envelope ->> 'ts')::timestamp(3) with time zone AS ts, substr(c.hashes, (e.n::integer - 1) * 64 + 1, 64) AS hash,
  e.value::text AS payload
FROM debate_event_chunks AS c
CROSS JOIN LATERAL json_array_elements(c.events::json) WITH ORDINALITY AS e(value, n)
CROSS JOIN LATERAL (
  SELECT regexp_replace(e.value::text, '(?<=(^|[^\\])(\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\ufffd', 'g')::json
) AS h(envelope));
