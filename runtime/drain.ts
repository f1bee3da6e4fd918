/**
 * Graceful shutdown bookkeeping: counts in-flight HTTP requests and holds the
 * long-running participants (the debate supervisor, the runbook interpreter ...)
 * that must be given a chance to finish before the process exits.
 *
 * @example
 * const drain = new Drain();
 * drain.register({ name: "debates", drain: async (signal) => supervisor.finishRunning(signal) });
 * drain.enter();   // ... request runs ...  drain.leave();
 * const result = await drain.drain(30_000); // { completed: true, pending: [] }
 */
export interface DrainParticipant {
  name: string;
  /** Stop taking new work and resolve when running work is finished; abort means time is up. */
  drain(signal: AbortSignal): Promise<void>;
}

export interface DrainResult {
  completed: boolean;
  /** Names of what had not finished when the timeout struck. */
  pending: string[];
}

export class Drain {
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly participants: DrainParticipant[] = [];
  private started = false;

  get draining(): boolean {
    return this.started;
  }

  get inflightRequests(): number {
    return this.inflight;
  }

  /** Add a participant; it is drained in parallel with the others at shutdown. */
  register(participant: DrainParticipant): () => void {
    this.participants.push(participant);
    return () => {
      const i = this.participants.indexOf(participant);
      if (i >= 0) this.participants.splice(i, 1);
    };
  }

  /** Count one in-flight request; pair every call with exactly one {@link leave}. */
  enter(): void {
    this.inflight++;
  }

  /** One in-flight request ended. */
  leave(): void {
    this.inflight--;
    if (this.inflight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Enter draining, then wait for requests and participants, at most `timeoutMs`. */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.started = true;
    const abort = new AbortController();
    const pending = new Set<string>();
    const work: Promise<void>[] = [];
    if (this.inflight > 0) {
      pending.add("http requests");
      work.push(
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)).then(() => {
          pending.delete("http requests");
        }),
      );
    }
    for (const p of this.participants) {
      pending.add(p.name);
      work.push(
        p.drain(abort.signal).then(
          () => {
            pending.delete(p.name);
          },
          () => {
            pending.delete(p.name);
          },
        ),
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([Promise.all(work).then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") abort.abort(new Error("shutdown timeout"));
    return { completed: outcome === "done", pending: [...pending] };
  }
}
