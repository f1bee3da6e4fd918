CREATE TABLE "ops_approvals" (
	"run_id" text NOT NULL,
	"step_id" text NOT NULL,
	"approver" text NOT NULL,
	"roles" text NOT NULL,
	"at" bigint NOT NULL,
	CONSTRAINT "ops_approvals_run_id_step_id_approver_pk" PRIMARY KEY("run_id","step_id","approver")
);
--> statement-breakpoint
CREATE TABLE "ops_journal" (
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"at" bigint NOT NULL,
	"step_id" text,
	"kind" text NOT NULL,
	"data" text NOT NULL,
	CONSTRAINT "ops_journal_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "ops_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"playbook" text NOT NULL,
	"file" text NOT NULL,
	"source" text NOT NULL,
	"params" text NOT NULL,
	"status" text NOT NULL,
	"started_by" text NOT NULL,
	"executor" text NOT NULL,
	"created_at" bigint NOT NULL,
	"heartbeat_at" bigint NOT NULL,
	"finished_at" bigint,
	"current_step" text,
	"error" text,
	"cancel_requested" integer DEFAULT 0 NOT NULL,
	"decision" text
);
--> statement-breakpoint
CREATE TABLE "ops_steps" (
	"run_id" text NOT NULL,
	"step_id" text NOT NULL,
	"idx" integer NOT NULL,
	"action" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer NOT NULL,
	"idempotent" integer NOT NULL,
	"started_at" bigint,
	"finished_at" bigint,
	"outputs" text,
	"error" text,
	CONSTRAINT "ops_steps_run_id_step_id_pk" PRIMARY KEY("run_id","step_id")
);
--> statement-breakpoint
CREATE INDEX "ops_runs_created_at_idx" ON "ops_runs" USING btree ("created_at");