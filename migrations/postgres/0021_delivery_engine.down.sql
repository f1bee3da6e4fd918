-- Undoes 0021_delivery_engine.sql: integrations' deliveries go back to integration_deliveries (their attempt log, which that table has no place for, is lost), webhook_deliveries loses target_kind and regains its foreign key to webhook_endpoints.
CREATE TABLE "integration_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"integration_id" text NOT NULL,
	"org_id" text NOT NULL,
	"event_type" text NOT NULL,
	"event_key" text NOT NULL,
	"payload" text NOT NULL,
	"state" text NOT NULL,
	"attempts" integer NOT NULL,
	"next_attempt_at" timestamp (3) with time zone NOT NULL,
	"last_error" text,
	"last_status" integer,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
INSERT INTO "integration_deliveries" ("id", "integration_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at") SELECT "id", "endpoint_id", "org_id", "event_type", "event_key", "payload", "state", "attempts", "next_attempt_at", "last_error", "last_status", "created_at", "updated_at" FROM "webhook_deliveries" WHERE "target_kind" = 'integration' AND "endpoint_id" IN (SELECT "id" FROM "integrations");--> statement-breakpoint
ALTER TABLE "integration_deliveries" ADD CONSTRAINT "integration_deliveries_integration_id_integrations_id_fk" FOREIGN KEY ("integration_id") REFERENCES "public"."integrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "integration_deliveries_integration_event" ON "integration_deliveries" USING btree ("integration_id","event_key");--> statement-breakpoint
CREATE INDEX "integration_deliveries_due_idx" ON "integration_deliveries" USING btree ("integration_id","state","next_attempt_at");--> statement-breakpoint
DELETE FROM "webhook_deliveries" WHERE "target_kind" <> 'webhook' OR "endpoint_id" NOT IN (SELECT "id" FROM "webhook_endpoints");--> statement-breakpoint
ALTER TABLE "webhook_deliveries" DROP COLUMN "target_kind";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;
