-- Receipts are stored without hash_chain.events: the event log holds every event's payload and
-- chain link, and the server rebuilds the entries when it serves a receipt. A receipt stored with
-- its events by an earlier version gives them up only when the log still holds its whole chain:
-- one event for every seq up to hash_chain.length, and at that seq the link hash_chain.head.
-- Anything else (not JSON, no such chain, a log that differs) is left as it is: served as stored,
-- and `aragora verify` names the difference. The function reads text that is not JSON as NULL.
CREATE OR REPLACE FUNCTION pg_temp.aragora_jsonb_or_null(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN t::jsonb;
EXCEPTION WHEN others THEN
	RETURN NULL;
END $$;
--> statement-breakpoint
UPDATE "debate_receipts" AS r SET "receipt" = (j.doc #- '{receipt,hash_chain,events}')::text
FROM (
	SELECT "debate_id", doc, CASE WHEN jsonb_typeof(doc #> '{receipt,hash_chain,events}') = 'array'
			AND (doc #>> '{receipt,hash_chain,length}') ~ '^[0-9]{1,15}$'
		THEN (doc #>> '{receipt,hash_chain,length}')::bigint END AS length
	FROM (SELECT "debate_id", pg_temp.aragora_jsonb_or_null("receipt") AS doc FROM "debate_receipts") AS parsed
) AS j
WHERE j."debate_id" = r."debate_id" AND j.length IS NOT NULL
	AND (j.doc #>> '{receipt,hash_chain,head}') = (
		SELECT substr(c."hashes", ((j.length - c."first_seq") * 64 + 1)::integer, 64)
		FROM "debate_event_chunks" AS c
		WHERE c."debate_id" = r."debate_id" AND c."first_seq" <= j.length AND c."last_seq" >= j.length
		LIMIT 1)
	AND j.length = (
		SELECT sum(least(c."last_seq", j.length) - c."first_seq" + 1)
		FROM "debate_event_chunks" AS c
		WHERE c."debate_id" = r."debate_id" AND c."first_seq" <= j.length);
--> statement-breakpoint
DROP FUNCTION pg_temp.aragora_jsonb_or_null(text);
