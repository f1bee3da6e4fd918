-- Undoes 0001_nodes_started_at_index.sql.
DROP INDEX "nodes_started_at_idx";
