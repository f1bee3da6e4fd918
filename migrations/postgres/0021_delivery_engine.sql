-- One delivery engine: integrations' deliveries join webhook endpoints' in webhook_deliveries (target_kind says which), keeping every row and id; endpoint_id holds the target's id, so its foreign key goes.
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk";
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "target_kind" text DEFAULT 'webhook' NOT NULL;--> statement-breakpoint
INSERT INTO "webhook_deliveries" ("id", "endpoint_id", "target_kind", "org_id", "event_type", "event_key", "payload", "state", "attempts", "retry_base", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "integration_id", 'integration', "org_id", "event_type", "event_key", "payload", "state", "attempts", 0, "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM "integration_deliveries";--> statement-breakpoint
DROP TABLE "integration_deliveries" CASCADE;
