-- Undoes 0016_node_encryption_key_ids.sql: nodes no longer report their encryption key ids.
ALTER TABLE "nodes" DROP COLUMN "encryption_key_ids";
