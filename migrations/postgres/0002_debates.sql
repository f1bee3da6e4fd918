CREATE TABLE "debate_events" (
	"debate_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"round" integer,
	"agent" text,
	"ts" timestamp (3) with time zone NOT NULL,
	"hash" text NOT NULL,
	"payload" text NOT NULL,
	CONSTRAINT "debate_events_debate_id_seq_pk" PRIMARY KEY("debate_id","seq")
);
--> statement-breakpoint
CREATE TABLE "debate_participants" (
	"debate_id" text NOT NULL,
	"seat" integer NOT NULL,
	"agent" text NOT NULL,
	CONSTRAINT "debate_participants_debate_id_seat_pk" PRIMARY KEY("debate_id","seat")
);
--> statement-breakpoint
CREATE TABLE "debate_receipts" (
	"debate_id" text PRIMARY KEY NOT NULL,
	"receipt" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "debates" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"org_id" text NOT NULL,
	"question" text NOT NULL,
	"config" text NOT NULL,
	"metadata" text NOT NULL,
	"status" text NOT NULL,
	"stop_reason" text,
	"error" text,
	"consensus" text,
	"baseline" text,
	"summary" text,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"elo_applied" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"finished_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "elo_ratings" (
	"name" text PRIMARY KEY NOT NULL,
	"elo" double precision NOT NULL,
	"debates" integer NOT NULL,
	"wins" integer NOT NULL,
	"losses" integer NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "debate_events" ADD CONSTRAINT "debate_events_debate_id_debates_id_fk" FOREIGN KEY ("debate_id") REFERENCES "public"."debates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "debate_participants" ADD CONSTRAINT "debate_participants_debate_id_debates_id_fk" FOREIGN KEY ("debate_id") REFERENCES "public"."debates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "debate_receipts" ADD CONSTRAINT "debate_receipts_debate_id_debates_id_fk" FOREIGN KEY ("debate_id") REFERENCES "public"."debates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "debate_participants_agent_idx" ON "debate_participants" USING btree ("agent");--> statement-breakpoint
CREATE INDEX "debates_owner_created_idx" ON "debates" USING btree ("user_id","org_id","created_at");--> statement-breakpoint
CREATE INDEX "debates_status_idx" ON "debates" USING btree ("status");