-- Undoes 0022_ops_event_outbox.sql: ops run events journaled and not yet made into webhook deliveries are dropped with it.
DROP TABLE "ops_event_outbox";
