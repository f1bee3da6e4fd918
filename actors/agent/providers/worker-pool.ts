/**
 * Provider streams on worker threads (ARAGORA_WORKERS). The AI SDK's per-chunk work (SSE
 * parsing, JSON parsing, schema validation of every chunk) costs tens of microseconds per streamed
 * token; a thousand debates streaming at once is tens of thousands of tokens a second, enough to
 * stall the main thread that serves the API, the WebSockets and the event log. Here each turn is
 * streamed by one of N worker threads (the one with the fewest turns in flight), and the main
 * thread only receives the deltas, several per message.
 *
 * The clients keep the {@link ProviderClient} contract exactly: the same deltas in order, the same
 * outcome, the same errors (an APICallError is rebuilt from its fields), abort by the call's signal.
 * A worker that dies fails its turns with a retryable error and is replaced on the next turn.
 *
 * @example
 * const pool = new ProviderWorkerPool(providerSettings(config), 2, log);
 * const clients = workerClients(providerSettings(config), pool); // same shape as providerClients()
 * await pool.close();
 */

import { EventLoopGate } from "../../../runtime/event-loop-gate.ts";
import type { Logger } from "../../../runtime/log.ts";
import { workerEntry } from "../../../runtime/worker-entry.ts";
import type { CallOutcome, ModelCall, ProviderClient } from "./client.ts";
import { type ProviderSettings, providerClients } from "./sdk-client.ts";
import { type FromWorker, fromWire, type ToWorker } from "./worker-protocol.ts";

interface InFlight {
  call: ModelCall;
  resolve: (outcome: CallOutcome) => void;
  reject: (err: unknown) => void;
  onAbort: () => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, InFlight>;
  alive: boolean;
}

/** Thrown into the turns of a worker thread that stopped (a crash, or the pool closing). */
export class ProviderWorkerStopped extends Error {
  override name = "ProviderWorkerStopped";
}

export class ProviderWorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private readonly gate = new EventLoopGate();

  constructor(
    private readonly settings: ProviderSettings,
    private readonly size: number,
    private readonly log: Logger,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker pool size must be >= 1, got ${size}`);
  }

  /** Threads running now. */
  get threads(): number {
    return this.slots.filter((s) => s.alive).length;
  }

  /**
   * A client streaming `provider`'s turns on the pool, with the server's key or with `credential`'s
   * (an organisation's own: the worker makes and keeps a client for it).
   *
   * @example pool.client("openai").stream(call); pool.client("openai", { id: "o-1#3f2a…", apiKey }).stream(call)
   */
  client(provider: string, credential?: { id: string; apiKey: string }): ProviderClient {
    return { simulated: false, stream: (call) => this.stream(provider, call, credential) };
  }

  /** Stream one turn on the least busy worker. */
  stream(provider: string, call: ModelCall, credential?: { id: string; apiKey: string }): Promise<CallOutcome> {
    if (call.signal.aborted) return Promise.reject(call.signal.reason);
    if (this.closed) return Promise.reject(new ProviderWorkerStopped("the provider workers are shut down"));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<CallOutcome>((resolve, reject) => {
      const onAbort = () => {
        if (!slot.inFlight.delete(id)) return;
        if (slot.alive) slot.worker.postMessage({ op: "abort", id } satisfies ToWorker);
        reject(call.signal.reason);
      };
      slot.inFlight.set(id, { call, resolve, reject, onAbort });
      call.signal.addEventListener("abort", onAbort, { once: true });
      slot.worker.postMessage({
        op: "stream",
        id,
        provider,
        model: call.model,
        system: call.system,
        prompt: call.prompt,
        maxOutputTokens: call.maxOutputTokens,
        ...(credential === undefined ? {} : { credential }),
      } satisfies ToWorker);
    });
  }

  /** Stop every worker; turns in flight fail with {@link ProviderWorkerStopped}. @example await pool.close() */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.retire(slot, "the provider workers are shut down");
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pick(): Slot {
    for (let i = this.slots.length - 1; i >= 0; i--) if (!this.slots[i]?.alive) this.slots.splice(i, 1);
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    let best = this.slots[0] as Slot;
    for (const s of this.slots) if (s.inFlight.size < best.inFlight.size) best = s;
    return best;
  }

  private spawn(): Slot {
    const worker = new Worker(workerEntry(new URL("./provider-worker.ts", import.meta.url), "provider-worker"));
    // Idle workers must not keep a CLI command or a finished test alive.
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), alive: true };
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.receive(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      this.log.error({ error: event.message }, `provider worker thread failed: ${event.message}`);
      this.retire(slot, `provider worker thread failed: ${event.message}`);
      void worker.terminate();
    };
    worker.addEventListener("close", () => {
      if (slot.alive && !this.closed) this.log.error("provider worker thread exited; it is replaced on the next turn");
      this.retire(slot, "provider worker thread exited");
    });
    worker.postMessage({ op: "init", settings: this.settings } satisfies ToWorker);
    return slot;
  }

  private receive(slot: Slot, msg: FromWorker): void {
    switch (msg.op) {
      case "deltas":
        for (const [id, delta] of msg.items) slot.inFlight.get(id)?.call.onDelta(delta);
        break;
      case "done":
      case "failed": {
        const turn = slot.inFlight.get(msg.id);
        if (turn === undefined) return;
        slot.inFlight.delete(msg.id);
        turn.call.signal.removeEventListener("abort", turn.onAbort);
        // Turns of many debates end together (their streams started together); each caller's next
        // step (a debate's next phase: prompts, events, the next requests) gets a loop turn of its own.
        void this.gate.pass().then(() => {
          if (msg.op === "done") turn.resolve(msg.outcome);
          else turn.reject(fromWire(msg.error));
        });
        break;
      }
    }
  }

  private retire(slot: Slot, reason: string): void {
    slot.alive = false;
    for (const turn of slot.inFlight.values()) {
      turn.call.signal.removeEventListener("abort", turn.onAbort);
      turn.reject(new ProviderWorkerStopped(reason));
    }
    slot.inFlight.clear();
  }
}

/**
 * The provider clients of {@link providerClients}, streaming on the pool's workers.
 *
 * @example const clients = workerClients(providerSettings(config), pool);
 */
export function workerClients(
  settings: ProviderSettings,
  pool: ProviderWorkerPool,
): Map<string, { client: ProviderClient; configured: boolean; local: boolean }> {
  const clients = providerClients(settings);
  for (const [name, entry] of clients) entry.client = pool.client(name);
  return clients;
}
