-- Receipts are stored without hash_chain.events: the event log holds every event's payload and
-- chain link, and the server rebuilds the entries when it serves a receipt. A receipt stored with
-- its events by an earlier version gives them up only when the log still holds its whole chain:
-- one event for every seq up to hash_chain.length, and at that seq the link hash_chain.head.
-- Anything else (not JSON, no such chain, a log that differs) is left as it is: served as stored,
-- and `aragora verify` names the difference. CASE keeps json_* away from text that is not JSON.
UPDATE `debate_receipts` SET `receipt` = json_remove(`receipt`, '$.receipt.hash_chain.events')
WHERE CASE WHEN json_valid(`receipt`)
		AND json_type(`receipt`, '$.receipt.hash_chain.events') = 'array'
		AND json_type(`receipt`, '$.receipt.hash_chain.length') = 'integer'
	THEN json_extract(`receipt`, '$.receipt.hash_chain.head') = (
			SELECT substr(c.`hashes`, (json_extract(`receipt`, '$.receipt.hash_chain.length') - c.`first_seq`) * 64 + 1, 64)
			FROM `debate_event_chunks` AS c
			WHERE c.`debate_id` = `debate_receipts`.`debate_id`
				AND c.`first_seq` <= json_extract(`receipt`, '$.receipt.hash_chain.length')
				AND c.`last_seq` >= json_extract(`receipt`, '$.receipt.hash_chain.length')
			LIMIT 1)
		AND json_extract(`receipt`, '$.receipt.hash_chain.length') = (
			SELECT sum(min(c.`last_seq`, json_extract(`receipt`, '$.receipt.hash_chain.length')) - c.`first_seq` + 1)
			FROM `debate_event_chunks` AS c
			WHERE c.`debate_id` = `debate_receipts`.`debate_id`
				AND c.`first_seq` <= json_extract(`receipt`, '$.receipt.hash_chain.length'))
	ELSE 0 END;
