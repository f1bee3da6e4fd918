-- Undoes 0018_webhooks.sql: webhook endpoints, their deliveries and attempts, and the debate event outbox are dropped (events not yet turned into deliveries are not delivered).
DROP TABLE "webhook_attempts";
--> statement-breakpoint
DROP TABLE "webhook_deliveries";
--> statement-breakpoint
DROP TABLE "webhook_endpoints";
--> statement-breakpoint
DROP TABLE "debate_event_outbox";
