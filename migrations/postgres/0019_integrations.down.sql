-- Undoes 0018_integrations.sql: organisations lose their integrations (Slack, Discord, Teams, OAuth2) and the credentials stored for them.
DROP TABLE "integrations";
