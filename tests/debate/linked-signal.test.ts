import { expect, test } from "bun:test";
import { SignalScope } from "../../actors/debate/linked-signal.ts";

test("a linked signal aborts with its parent's reason and then detaches", () => {
  const scope = new SignalScope();
  const parent = new AbortController();
  const child = scope.link([parent.signal], 60_000);
  const grandchild = scope.link([child], null);
  expect(scope.size).toBe(2);
  parent.abort(new Error("cancelled"));
  expect(child.aborted).toBe(true);
  expect((child.reason as Error).message).toBe("cancelled");
  expect(grandchild.reason).toBe(child.reason);
  expect(scope.size).toBe(0);
});

test("its deadline aborts it with a TimeoutError; release disarms the deadline", async () => {
  const scope = new SignalScope();
  const timed = scope.link([], 20);
  const released = scope.link([], 20);
  scope.release(released);
  await Bun.sleep(60);
  expect(timed.aborted).toBe(true);
  expect((timed.reason as DOMException).name).toBe("TimeoutError");
  expect(released.aborted).toBe(false);
  expect(scope.size).toBe(0);
});

test("a parent already aborted aborts the new signal at once; releaseAll detaches the rest", () => {
  const scope = new SignalScope();
  const done = new AbortController();
  done.abort("stop");
  expect(scope.link([done.signal], 1000).reason).toBe("stop");
  const live = new AbortController();
  const a = scope.link([live.signal], 1000);
  scope.link([live.signal, a], null);
  scope.releaseAll();
  expect(scope.size).toBe(0);
  live.abort("late");
  expect(a.aborted).toBe(false);
});
