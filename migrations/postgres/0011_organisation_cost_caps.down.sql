-- Organisations lose their own monthly cost caps (the configured default is all that is left).
DROP TABLE "organisation_cost_caps";
