/** Errors the kernel raises; each names what went wrong in the domain's words. */

/**
 * An ask() got no reply within its timeout. A reply that arrives later is dropped and counted.
 *
 * @example
 * try { await ref.ask(msg, { timeoutMs: 100 }); } catch (e) { if (e instanceof AskTimeoutError) retry(); }
 */
export class AskTimeoutError extends Error {
  override readonly name = "AskTimeoutError";
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    super(`ask to ${target} timed out after ${timeoutMs} ms`);
  }
}

/** The target actor is stopped (or stopped before handling the message). @example new ActorStoppedError("/system/a") */
export class ActorStoppedError extends Error {
  override readonly name = "ActorStoppedError";
  constructor(readonly target: string) {
    super(`actor ${target} is stopped`);
  }
}

/** A bounded mailbox was full. @example new MailboxOverflowError("/system/a", 10000) */
export class MailboxOverflowError extends Error {
  override readonly name = "MailboxOverflowError";
  constructor(
    readonly target: string,
    readonly limit: number,
  ) {
    super(`mailbox of ${target} is full (limit ${limit})`);
  }
}

/**
 * A supervisor restarted children more than maxRestarts times within periodMs and gave up;
 * it stops its children and fails itself, escalating to its own supervisor (as in OTP).
 *
 * @example
 * system.inspect.subscribe((e) => { if (e.type === "escalated") alert(e.error); });
 */
export class RestartIntensityError extends Error {
  override readonly name = "RestartIntensityError";
  constructor(
    readonly supervisor: string,
    readonly maxRestarts: number,
    readonly periodMs: number,
    override readonly cause: unknown,
  ) {
    super(`${supervisor} exceeded ${maxRestarts} restarts within ${periodMs} ms`);
  }
}
