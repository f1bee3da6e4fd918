-- Undoes 0017_provider_keys.sql: organisations lose their own provider keys (their debates use the server's keys again).
DROP TABLE "provider_keys";
