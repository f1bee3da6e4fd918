CREATE TABLE "delivery_leases" (
	"kind" text NOT NULL,
	"resource_id" text NOT NULL,
	"node_id" text NOT NULL,
	"epoch" integer NOT NULL,
	"acquired_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "delivery_leases_kind_resource_id_pk" PRIMARY KEY("kind","resource_id")
);
--> statement-breakpoint
CREATE INDEX "delivery_leases_node_idx" ON "delivery_leases" USING btree ("kind","node_id");