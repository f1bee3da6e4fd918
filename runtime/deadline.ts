/**
 * Wait for `work`, but at most `ms`: past it the promise rejects with the error `expired` returns
 * (which may also act, e.g. replace what hung). The timer is cleared when `work` settles first,
 * so nothing is left to keep the process alive.
 *
 * @example await withDeadline(store.nodes.markStopped(id, now, reason), 5000, () => new Error("no answer in 5 s"));
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
