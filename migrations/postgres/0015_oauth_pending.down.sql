-- Undoes 0015_oauth_pending.sql: OAuth sign-ins waiting for their callback.
DROP TABLE "oauth_pending";
