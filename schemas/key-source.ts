/** The answers of POST /api/admin/keys/reload and GET /api/admin/nodes: key ids and paths, never key material. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const KeySourceView = lazy(() =>
  type({
    kind: type("'env' | 'file' | 'dev_file' | 'none'").describe(
      "env: ARAGORA_ENCRYPTION_KEY; file: ARAGORA_ENCRYPTION_KEY_FILE; dev_file: the development key in the data dir; none: secrets stored unencrypted",
    ),
    path: type("string | null").describe("the key file (file, dev_file)"),
    variable: type("'ARAGORA_ENCRYPTION_KEY' | 'ARAGORA_ENCRYPTION_KEY_FILE' | null").describe(
      "the variable the keys come from",
    ),
    reloadable: type("boolean").describe("whether SIGHUP and POST /api/admin/keys/reload re-read the keys"),
    active_key_id: type("string | null").describe("the key that encrypts"),
    key_ids: type("string[]").describe("every configured key id, the active one first"),
    loaded_at: type("string").describe("when the keys in use were read (ISO 8601)"),
    last_reload: type({
      at: "string",
      trigger: "'start' | 'sighup' | 'request' | 'file_change'",
      ok: "boolean",
      error: type("string | null").describe(
        "why it failed (file:line and the rule); the keys of loaded_at stay in use",
      ),
    }).describe("the last reading of the keys, the start's included"),
  }),
);

export const KeyReloadResponse = lazy(() =>
  type({
    reloaded: "true",
    active_key_id: "string",
    active_changed: "boolean",
    added_key_ids: "string[]",
    removed_key_ids: "string[]",
    source: KeySourceView,
  }).describe("the key file was re-read: new secrets are encrypted with active_key_id"),
);

export const NodeKeys = lazy(() =>
  type({
    node_id: "string",
    hostname: "string",
    pid: "number.integer",
    api_port: "number.integer",
    version: "string",
    started_at: "string",
    heartbeat_at: "string",
    active_key_id: type("string | null").describe("the key the node encrypts with (null: none, or not reported)"),
    encryption_key_ids: type("string[] | null").describe(
      "the node's key ids, the active one first ([]: no key; null: a node that does not report them)",
    ),
  }),
);

export const NodesResponse = lazy(() =>
  type({
    live_within_s: type("number.integer").describe("a node counts as live while its last heartbeat is this recent"),
    nodes: NodeKeys.array().describe("live nodes, newest start first"),
  }).describe("the live nodes and the encryption keys each reports in its heartbeat"),
);
