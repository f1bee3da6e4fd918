/**
 * The one prom-client registry. Every metric the server exposes is declared here,
 * with the `aragora_` prefix and base units, so operators find every name in one file.
 *
 * @example
 * import { metrics } from "./metrics.ts";
 * metrics.websocketConnections.inc();
 * const text = await registry.metrics(); // Prometheus exposition for GET /api/metrics
 */
// Each class from its own module, not prom-client's index (see prom-client-collectors.d.ts).
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Histogram from "prom-client/lib/histogram.js";
// Static imports (not collectDefaultMetrics) so the bundler keeps them and one can be left out.
import eventLoopLag from "prom-client/lib/metrics/eventLoopLag.js";
import gc from "prom-client/lib/metrics/gc.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap.js";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js";
import processHandles from "prom-client/lib/metrics/processHandles.js";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import processRequests from "prom-client/lib/metrics/processRequests.js";
import processResources from "prom-client/lib/metrics/processResources.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import version from "prom-client/lib/metrics/version.js";
import Registry from "prom-client/lib/registry.js";
import { SeriesHistogram, UnlabelledHistogram } from "./series-histogram.ts";
import { TallyCounter } from "./tally-counter.ts";

export const registry = new Registry();
/**
 * prom-client's process defaults, minus one: `nodejs_heap_space_size_*` walks the whole heap on
 * every scrape under Bun (about 140 ms with two million live objects), stalling the event loop each
 * time Prometheus asks. Everything else collectDefaultMetrics() would register is kept.
 */
for (const collect of [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  eventLoopLag,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  version,
  gc,
]) {
  collect(registry, { eventLoopMonitoringPrecision: 10 });
}

export const metrics = {
  // HTTP shell
  // Observed on every request: a SeriesHistogram keeps that to a few Map lookups (see its doc).
  httpRequestDuration: new SeriesHistogram({
    name: "aragora_http_request_duration_seconds",
    help: "HTTP request duration by method, route template and status code",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  websocketConnections: new Gauge({
    name: "aragora_websocket_connections",
    help: "Open WebSocket connections on both listeners",
    registers: [registry],
  }),
  websocketMessages: new Counter({
    name: "aragora_websocket_messages_total",
    help: "WebSocket messages by direction (in, out)",
    labelNames: ["direction"] as const,
    registers: [registry],
  }),

  httpStreamFailures: new Counter({
    name: "aragora_http_stream_failures_total",
    help: "Streamed responses (exports) that broke off after their status was sent, by route",
    labelNames: ["route"] as const,
    registers: [registry],
  }),
  authFailures: new Counter({
    name: "aragora_auth_failures_total",
    help: "Requests refused by authentication, by reason (missing, invalid, or the refusal's error code such as admin_disabled)",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  // Counted on every limited request: a tally is a property write.
  rateLimitRequests: new TallyCounter({
    name: "aragora_rate_limit_requests_total",
    help: "Requests checked against a rate limit, by policy (api: per API key or user; auth: per client address on /api/auth/*) and result (allowed, limited: answered 429)",
    labelNames: ["policy", "result"] as const,
    registers: [registry],
  }),
  rateLimitStoreErrors: new Counter({
    name: "aragora_rate_limit_store_errors_total",
    help: "Rate-limit takes the shared store (Redis) did not answer; each was decided by this process's own buckets instead",
    registers: [registry],
  }),
  costCapRefusals: new Counter({
    name: "aragora_cost_cap_refusals_total",
    help: "New debates refused with 402 cost_cap_reached: the organisation's debates of the month cost its cap or more",
    registers: [registry],
  }),
  // Counted and observed on every request: tallies and a cheap series (their docs) keep each to a
  // property write or two.
  rbacPermissionChecks: new TallyCounter({
    name: "aragora_rbac_permission_checks_total",
    help: "Route permission checks, by permission and result (granted, denied, unauthenticated)",
    labelNames: ["permission", "result"] as const,
    registers: [registry],
  }),
  rbacPermissionDenied: new Counter({
    name: "aragora_rbac_permission_denied_total",
    help: "Requests refused by a route's permission check, by permission and handler (METHOD route)",
    labelNames: ["permission", "handler"] as const,
    registers: [registry],
  }),
  rbacCheckLatency: new UnlabelledHistogram({
    name: "aragora_rbac_check_latency_seconds",
    help: "Time a route's permission check takes (the policy lookup for the request's principal)",
    buckets: [0.000_000_5, 0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_1, 0.001],
    registers: [registry],
  }),

  // Encryption at rest (runtime/security/field-sealer.ts). Counted per store, so an operator sees
  // which store's reads fail after a key change.
  encryptionOperations: new TallyCounter({
    name: "aragora_encryption_operations_total",
    help: "Field encryptions and decryptions, by operation (encrypt, decrypt) and store",
    labelNames: ["operation", "store"] as const,
    registers: [registry],
  }),
  encryptionLatency: new Histogram({
    name: "aragora_encryption_operation_latency_seconds",
    help: "Time one field encryption or decryption takes, by operation",
    labelNames: ["operation"] as const,
    buckets: [0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.01],
    registers: [registry],
  }),
  encryptionErrors: new Counter({
    name: "aragora_encryption_errors_total",
    help: "Field encryptions and decryptions that failed, by operation and error type (key_not_found, tampered, malformed, no_key)",
    labelNames: ["operation", "error_type"] as const,
    registers: [registry],
  }),
  // The key source (runtime/security/key-source.ts): reloads of the key file, and what the last
  // check of the stored data found (app/stored-keys-check.ts).
  encryptionKeyReloads: new Counter({
    name: "aragora_encryption_key_reloads_total",
    help: "Reloads of the encryption key file, by trigger (sighup, request) and result (ok, failed, not_reloadable)",
    labelNames: ["trigger", "result"] as const,
    registers: [registry],
  }),
  encryptionMissingKeyIds: new Gauge({
    name: "aragora_encryption_missing_key_ids",
    help: "Key ids stored secrets are encrypted with that the configured keys do not include, as the last check found (at start and after each reload); their records cannot be read",
    registers: [registry],
  }),
  encryptionMissingKeyChecks: new Counter({
    name: "aragora_encryption_missing_key_checks_total",
    help: "Checks of the stored secrets (at start and after each reload) that found records needing a key that is not configured",
    registers: [registry],
  }),
  encryptionUnencrypted: new Gauge({
    name: "aragora_encryption_unencrypted",
    help: "1 while no encryption key is configured, so secrets are stored unencrypted; 0 otherwise",
    registers: [registry],
  }),
  // `aragora encrypt-existing --execute` (runtime/security/encrypt-existing.ts), counted a batch at
  // a time; a dry run writes nothing and counts nothing here.
  migrationRecords: new Counter({
    name: "aragora_migration_records_total",
    help: "Records encrypt-existing handled, by store and status (encrypted: was plaintext; reencrypted: was on another key; skipped: already on the active key; changed: a server wrote it meanwhile and its value stands; failed: could not be read)",
    labelNames: ["store", "status"] as const,
    registers: [registry],
  }),
  migrationErrors: new Counter({
    name: "aragora_migration_errors_total",
    help: "Records encrypt-existing could not read and skipped, by store and error type (key_not_found, tampered, malformed, other)",
    labelNames: ["store", "error_type"] as const,
    registers: [registry],
  }),

  // Actor kernel
  actorsAlive: new Gauge({
    name: "aragora_actors_alive",
    help: "Live actors by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorMailboxDepth: new Gauge({
    name: "aragora_actor_mailbox_depth",
    help: "Messages waiting in mailboxes, summed by actor kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorMessagesProcessed: new Counter({
    name: "aragora_actor_messages_processed_total",
    help: "Messages handled by actors, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorRestarts: new Counter({
    name: "aragora_actor_restarts_total",
    help: "Actor restarts performed by supervisors, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorDeadLetters: new Counter({
    name: "aragora_actor_dead_letters_total",
    help: "Messages that could not be delivered, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  actorAskTimeouts: new Counter({
    name: "aragora_actor_ask_timeouts_total",
    help: "ask() calls that timed out before a reply",
    registers: [registry],
  }),
  actorLateReplies: new Counter({
    name: "aragora_actor_late_replies_total",
    help: "Replies that arrived after their ask() had timed out and were dropped",
    registers: [registry],
  }),
  // --- providers and agents ---
  agentLatency: new Histogram({
    name: "aragora_agent_latency_seconds",
    help: "Time from the start of an agent turn to its first streamed token, by agent",
    labelNames: ["agent"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
    registers: [registry],
  }),
  agentResponse: new Histogram({
    name: "aragora_agent_response_seconds",
    help: "Duration of a whole agent turn (retries and fallback included), by agent and outcome (ok, error)",
    labelNames: ["agent", "outcome"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    registers: [registry],
  }),
  agentTokens: new Counter({
    name: "aragora_agent_tokens_total",
    help: "Tokens used by agent turns, by agent and kind (input, output, cache_read, cache_write, reasoning)",
    labelNames: ["agent", "kind"] as const,
    registers: [registry],
  }),
  agentCost: new Counter({
    name: "aragora_agent_cost_usd_total",
    help: "Cost of agent turns in US dollars (price table or provider-reported), by agent",
    labelNames: ["agent"] as const,
    registers: [registry],
  }),
  agentTurns: new Counter({
    name: "aragora_agent_turns_total",
    help: "Agent turns by agent and outcome (ok, or the AgentTurnError kind)",
    labelNames: ["agent", "outcome"] as const,
    registers: [registry],
  }),
  agentRetries: new Counter({
    name: "aragora_agent_retries_total",
    help: "Provider calls retried within a turn, by agent and reason (status code or error kind)",
    labelNames: ["agent", "reason"] as const,
    registers: [registry],
  }),
  circuitBreakerState: new Gauge({
    name: "aragora_circuit_breaker_state",
    help: "Agent circuit breaker state: 0 closed, 1 half-open, 2 open",
    labelNames: ["agent"] as const,
    registers: [registry],
  }),
  fallbackActivations: new Counter({
    name: "aragora_fallback_activations_total",
    help: "Turns moved to the OpenRouter fallback, by primary agent and reason (rate_limited, quota, circuit_open, stream_failed)",
    labelNames: ["agent", "reason"] as const,
    registers: [registry],
  }),
  fallbackSuccess: new Counter({
    name: "aragora_fallback_success_total",
    help: "Fallback turns that completed, by primary agent",
    labelNames: ["agent"] as const,
    registers: [registry],
  }),
  fallbackLatency: new Histogram({
    name: "aragora_fallback_latency_seconds",
    help: "Duration of the fallback part of a turn, by primary agent",
    labelNames: ["agent"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [registry],
  }),
  // --- debates, receipts, leaderboard ---
  debatesTotal: new Counter({
    name: "aragora_debates_total",
    help: "Debates started",
    registers: [registry],
  }),
  // The runbook names these two without _total, and promtool rejects a counter without that
  // suffix; so they are gauges holding the cumulative count since the process started (they only
  // ever go up, and rate()/increase() work on them as on a counter that resets at restart).
  debatesCompleted: new Gauge({
    name: "aragora_debates_completed",
    help: "Debates that ended with status completed since the process started (cumulative)",
    registers: [registry],
  }),
  debatesFailed: new Gauge({
    name: "aragora_debates_failed",
    help: "Debates that ended with status failed since the process started (cumulative)",
    registers: [registry],
  }),
  debatesActive: new Gauge({
    name: "aragora_debates_active",
    help: "Debates running in this process",
    registers: [registry],
  }),
  debateEventAppendSeconds: new Histogram({
    name: "aragora_debate_event_append_seconds",
    help: "Commit time of one batch of debate events (the delay before they are published)",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  }),
  debateEventsAppended: new Counter({
    name: "aragora_debate_events_appended_total",
    help: "Debate events written to the event log",
    registers: [registry],
  }),
  // --- store health ---
  storeWritable: new Gauge({
    name: "aragora_store_writable",
    help: "Whether the store's last writes went through (1) or it cannot write (0: disk full, corrupt, read-only, I/O error, locked, unavailable), by store",
    labelNames: ["store"] as const,
    registers: [registry],
  }),
  storeWriteFailures: new Counter({
    name: "aragora_store_write_failures_total",
    help: "Store operations that failed because the store cannot write, by store part (debates, event_log, nodes) and reason (full, corrupt, read_only, io_error, locked, unavailable)",
    labelNames: ["store", "reason"] as const,
    registers: [registry],
  }),
  debateEventsUnwritten: new Gauge({
    name: "aragora_debate_events_unwritten",
    help: "Debate events sealed but not yet written to the event log (waiting while the store cannot write)",
    registers: [registry],
  }),
  sqliteCheckpointSeconds: new Histogram({
    name: "aragora_sqlite_checkpoint_seconds",
    help: "Duration of the background WAL checkpoints that copied pages into the SQLite file (off the event loop)",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  sqliteWalBytes: new Gauge({
    name: "aragora_sqlite_wal_bytes",
    help: "Size of the SQLite WAL file (core.db-wal) when the checkpointer last looked (every 50 ms)",
    registers: [registry],
  }),
  sqliteWalTruncateSeconds: new Histogram({
    name: "aragora_sqlite_wal_truncate_seconds",
    help: "TRUNCATE checkpoints run because the WAL passed a quarter of ARAGORA_SQLITE_WAL_LIMIT_MB, by outcome (done, or busy: a writer or reader was in the way, tried again 50 ms later); a done one holds the write lock, so server writes wait up to its duration",
    labelNames: ["outcome"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }),
  // --- ops playbooks, backups, schedulers ---
  schedulerRuns: new Counter({
    name: "aragora_scheduler_runs_total",
    help: "Scheduled runs by schedule and outcome (succeeded, failed, skipped: previous run still going, missed: server down)",
    labelNames: ["schedule", "outcome"] as const,
    registers: [registry],
  }),
  schedulerRunDuration: new Histogram({
    name: "aragora_scheduler_run_duration_seconds",
    help: "Duration of scheduled runs, by schedule",
    labelNames: ["schedule"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [registry],
  }),
  receiptCleanups: new Counter({
    name: "aragora_receipt_cleanup_total",
    help: "Receipt retention cleanup operations, by status (success, failure)",
    labelNames: ["status"] as const,
    registers: [registry],
  }),
  receiptCleanupDuration: new Histogram({
    name: "aragora_receipt_cleanup_duration_seconds",
    help: "Duration of receipt retention cleanup operations",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [registry],
  }),
  receiptsDeleted: new Counter({
    name: "aragora_receipts_deleted_total",
    help: "Decision receipts deleted by the retention scheduler (older than ARAGORA_RECEIPT_RETENTION_DAYS)",
    registers: [registry],
  }),

  // Webhooks (actors/webhook): the runbook's names and labels.
  webhookDeliveries: new Counter({
    name: "aragora_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (status: delivered, failed, gone) and event type",
    labelNames: ["status", "event_type"] as const,
    registers: [registry],
  }),
  webhookDeliveryLatency: new Histogram({
    name: "aragora_webhook_delivery_latency_seconds",
    help: "Time of a webhook delivery attempt that got an answer, request to the answer's last byte, by event type",
    labelNames: ["event_type"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  webhookRetries: new Counter({
    name: "aragora_webhook_retries_total",
    help: "Webhook deliveries scheduled for another attempt after a failed one, by event type",
    labelNames: ["event_type"] as const,
    registers: [registry],
  }),
  webhookDeadLettered: new Counter({
    name: "aragora_webhook_dead_lettered_total",
    help: "Webhook deliveries moved to the dead-letter queue (retries exhausted, or the endpoint answered 410 Gone), by event type",
    labelNames: ["event_type"] as const,
    registers: [registry],
  }),
  deliveryLeasesHeld: new Gauge({
    name: "aragora_delivery_leases_held",
    help: "Webhook endpoints (kind webhook) and integrations (kind integration) whose deliveries this node sends: the leases it holds while several nodes share one PostgreSQL database, by node id",
    labelNames: ["kind", "node"] as const,
    registers: [registry],
  }),
  webhookCircuitBreakerState: new Gauge({
    name: "aragora_webhook_circuit_breaker_state",
    help: "A webhook endpoint's circuit breaker (0 closed, 1 open: its deliveries wait), by endpoint id",
    labelNames: ["endpoint"] as const,
    registers: [registry],
  }),

  // Integrations' deliveries (the delivery engine, actors/delivery/): webhooks' figures, for integrations.
  integrationDeliveries: new Counter({
    name: "aragora_integration_deliveries_total",
    help: "Integration delivery attempts by outcome (status: delivered, failed, gone) and event type",
    labelNames: ["status", "event_type"] as const,
    registers: [registry],
  }),
  integrationDeliveryLatency: new Histogram({
    name: "aragora_integration_delivery_latency_seconds",
    help: "Time of an integration delivery attempt that got an answer, by event type",
    labelNames: ["event_type"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  integrationRetries: new Counter({
    name: "aragora_integration_retries_total",
    help: "Integration deliveries scheduled for another attempt after a failed one, by event type",
    labelNames: ["event_type"] as const,
    registers: [registry],
  }),
  integrationDeadLettered: new Counter({
    name: "aragora_integration_dead_lettered_total",
    help: "Integration deliveries moved to the dead-letter queue (retries exhausted, an answer retrying cannot change, or 410 Gone), by event type",
    labelNames: ["event_type"] as const,
    registers: [registry],
  }),
  integrationCircuitBreakerState: new Gauge({
    name: "aragora_integration_circuit_breaker_state",
    help: "An integration's circuit breaker (0 closed, 1 open: its deliveries wait), by integration id",
    labelNames: ["integration"] as const,
    registers: [registry],
  }),

  // Accounts (access/)
  authEvents: new Counter({
    name: "aragora_auth_events_total",
    help: "Account and session events, by event (sign_in, sign_in_failed, sign_in_locked, sign_up, setup_claimed, refresh, refresh_reused, sign_out, password_changed, password_reset, api_key_created, api_key_revoked, oauth_sign_in, oauth_sign_in_failed, oauth_sign_up, oauth_linked, mfa_enabled, mfa_disabled, mfa_challenge, mfa_verified, mfa_failed, mfa_locked, mfa_recovery_code_used, mfa_recovery_codes_regenerated)",
    labelNames: ["event"] as const,
    registers: [registry],
  }),
  auditEntries: new Counter({
    name: "aragora_audit_entries_total",
    help: "Entries appended to the audit log by this process",
    registers: [registry],
  }),
  auditWriteFailures: new Counter({
    name: "aragora_audit_write_failures_total",
    help: "Audit events that could not be stored (each is logged at ERROR instead); alert on any",
    registers: [registry],
  }),
  auditAppendConflicts: new Counter({
    name: "aragora_audit_append_conflicts_total",
    help: "Audit appends that lost their place in a chain to another process and were re-chained",
    registers: [registry],
  }),
  // The runbook alerts on any increase: every impersonation is reviewed in the audit log.
  adminImpersonate: new Counter({
    name: "aragora_admin_impersonate_total",
    help: "Impersonations an operator asked for, by outcome (success: a token was issued; failure: refused)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  // --- integrations (actors/integrations/instrumented-integration-store.ts) ---
  integrationStoreOperations: new Counter({
    name: "aragora_integration_store_operations_total",
    help: "Integration store operations (get, save, delete, list, refresh_token) by status (success, failure)",
    labelNames: ["operation", "status"] as const,
    registers: [registry],
  }),
  integrationStoreLatency: new Histogram({
    name: "aragora_integration_store_latency_seconds",
    help: "Integration store operation latency, by operation",
    labelNames: ["operation"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  integrationStoreHealth: new Gauge({
    name: "aragora_integration_store_health",
    help: "Integration store health (1 healthy, 0 unhealthy: 3 or more consecutive failures), by backend",
    labelNames: ["backend"] as const,
    registers: [registry],
  }),
  integrationStoreActive: new Gauge({
    name: "aragora_integration_store_active_integrations",
    help: "Enabled integrations, every organisation's",
    registers: [registry],
  }),
  integrationStoreCacheHitRate: new Gauge({
    name: "aragora_integration_store_cache_hit_rate",
    help: "Share of integration store gets answered from the cache, in percent",
    registers: [registry],
  }),
  integrationStoreConsecutiveFailures: new Gauge({
    name: "aragora_integration_store_consecutive_failures",
    help: "Integration store operations that failed in a row since the last success",
    registers: [registry],
  }),
};
