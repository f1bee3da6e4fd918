import { describe, expect, test } from "bun:test";
import { realClock, SimulatedClock } from "./clock.ts";
import { TimerEntry, TimerQueue } from "./timer-queue.ts";

describe("SimulatedClock", () => {
  test("advance fires due timers in due order, then creation order, at their due time", () => {
    const clock = new SimulatedClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    const late = clock.setTimeout(() => fired.push("never"), 100);
    clock.advance(50);
    clock.clearTimeout(late);
    clock.advance(100);
    expect(fired).toEqual(["a@10", "b@20", "c@20"]);
    expect(clock.now()).toBe(150);
  });

  test("timers created while firing fire within the same advance when due", () => {
    const clock = new SimulatedClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });
});

class Probe extends TimerEntry {
  constructor(
    private readonly log: string[],
    private readonly name: string,
    private readonly clock: SimulatedClock,
  ) {
    super();
  }
  fire(): void {
    this.log.push(`${this.name}@${this.clock.now()}`);
  }
}

describe("TimerQueue", () => {
  test("multiplexes entries onto one clock timer, in order, with cancellation", () => {
    const clock = new SimulatedClock();
    const q = new TimerQueue(clock);
    const log: string[] = [];
    const entries = [30, 10, 20, 10, 40].map((ms, i) => {
      const e = new Probe(log, `e${i}`, clock);
      q.schedule(e, ms);
      return e;
    });
    expect(clock.pending).toBe(1);
    q.cancel(entries[2] as Probe);
    clock.advance(35);
    expect(log).toEqual(["e1@10", "e3@10", "e0@30"]);
    expect(q.size).toBe(1);
    clock.advance(10);
    expect(log.at(-1)).toBe("e4@40");
    expect(q.size).toBe(0);
  });
});

describe("realClock", () => {
  test("a delay past the host timer's limit (24.8 days) does not fire at once, and can be cleared", async () => {
    let fired = false;
    const handle = realClock.setTimeout(() => {
      fired = true;
    }, 30 * 86_400_000);
    await Bun.sleep(20);
    expect(fired).toBe(false);
    realClock.clearTimeout(handle);
  });
});
