/**
 * A provider worker thread: runs the AI SDK provider clients (HTTP request, SSE parsing, chunk
 * validation: about 60 us of CPU per streamed token) off the server's main thread, and posts each
 * turn's deltas, outcome or error back. Deltas that arrive in one turn of this thread's event loop
 * go out in one message. Started by {@link ProviderWorkerPool}; the main thread owns retries,
 * fallback, breakers and timeouts, this thread only streams and stops when told.
 *
 * @example
 * new Worker(new URL("./provider-worker.ts", import.meta.url));
 */
import { LruMap } from "../../../runtime/security/lru-map.ts";
import { lowerThreadPriority } from "../../../runtime/thread-priority.ts";
import type { ProviderClient } from "./client.ts";
import { type ProviderSettings, providerClients, providerClientWithKey } from "./sdk-client.ts";
import { type FromWorker, type ToWorker, toWire } from "./worker-protocol.ts";

declare const self: Worker;

// Parsing streams is throughput work: the main thread's event loop gets the core first.
lowerThreadPriority(10);

let settings: ProviderSettings | undefined;
let clients: Map<string, { client: ProviderClient }> | undefined;
/** Clients with organisations' own keys, by provider and key id; the least recently used go first. */
const keyed = new LruMap<ProviderClient>();
const MAX_KEYED_CLIENTS = 256;

/** The client of a turn: the server's for `provider`, or one with the turn's own key. */
function clientFor(msg: Extract<ToWorker, { op: "stream" }>): ProviderClient | undefined {
  if (msg.credential === undefined) return clients?.get(msg.provider)?.client;
  const id = `${msg.provider}\u0000${msg.credential.id}`;
  let client = keyed.get(id);
  if (client === undefined && settings !== undefined) {
    client = providerClientWithKey(settings, msg.provider, msg.credential.apiKey)?.client;
    if (client === undefined) return undefined;
    keyed.set(id, client);
    while (keyed.size > MAX_KEYED_CLIENTS) {
      const oldest = keyed.oldest();
      if (oldest === undefined) break;
      keyed.delete(oldest[0]);
    }
  } else if (client !== undefined) keyed.touch(id);
  return client;
}
const running = new Map<number, AbortController>();
let pending: [number, string][] = [];
let flushScheduled = false;

const post = (message: FromWorker) => self.postMessage(message);

function flushDeltas(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const items = pending;
  pending = [];
  post({ op: "deltas", items });
}

async function stream(msg: Extract<ToWorker, { op: "stream" }>): Promise<void> {
  const abort = new AbortController();
  running.set(msg.id, abort);
  try {
    const client = clientFor(msg);
    if (client === undefined) throw new Error(`no provider client named ${msg.provider} in this worker`);
    const outcome = await client.stream({
      model: msg.model,
      system: msg.system,
      prompt: msg.prompt,
      maxOutputTokens: msg.maxOutputTokens,
      signal: abort.signal,
      onDelta(delta) {
        pending.push([msg.id, delta]);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flushDeltas);
        }
      },
      seed: { agent: `${msg.provider}:${msg.model}`, debateId: "", round: 0, role: "" },
    });
    // Deltas before the outcome: the main thread must see the whole text streamed first.
    flushDeltas();
    if (!abort.signal.aborted) post({ op: "done", id: msg.id, outcome });
  } catch (err) {
    flushDeltas();
    if (!abort.signal.aborted) post({ op: "failed", id: msg.id, error: toWire(err) });
  } finally {
    running.delete(msg.id);
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.op) {
    case "init":
      settings = msg.settings;
      clients = providerClients(msg.settings);
      break;
    case "stream":
      void stream(msg);
      break;
    case "abort":
      running.get(msg.id)?.abort();
      running.delete(msg.id);
      break;
  }
};
