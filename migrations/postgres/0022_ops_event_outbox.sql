CREATE TABLE "ops_event_outbox" (
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"type" text NOT NULL,
	CONSTRAINT "ops_event_outbox_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
