import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Sender } from "./actor-ref.ts";
import { Mailbox } from "./mailbox.ts";
import { RingQueue } from "./ring-queue.ts";

const senderA: Sender = { tell() {}, path: "/a" };

describe("Mailbox", () => {
  test("is FIFO across growth and keeps each message's sender", () => {
    const mb = new Mailbox();
    for (let i = 0; i < 100; i++) mb.push(i, i % 2 ? senderA : undefined);
    const out: [unknown, Sender | undefined][] = [];
    while (mb.size > 0) out.push([mb.shift(), mb.sender]);
    expect(out.map(([m]) => m)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(out.every(([m, s]) => (s === senderA) === ((m as number) % 2 === 1))).toBe(true);
  });

  test("property: any interleaving of push and shift behaves like an array queue", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 500 }), (ops) => {
        const mb = new Mailbox();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            if (model.length === 0) continue;
            expect(mb.shift()).toBe(model.shift());
          } else {
            mb.push(op, undefined);
            model.push(op);
          }
          expect(mb.size).toBe(model.length);
        }
        while (mb.size > 0) expect(mb.shift()).toBe(model.shift());
        mb.shrinkIfEmpty();
        mb.push(1, undefined);
        expect(mb.shift()).toBe(1);
      }),
    );
  });
});

describe("RingQueue", () => {
  test("property: behaves like an array queue", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 500 }), (ops) => {
        const q = new RingQueue<number>(2);
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) expect(q.shift()).toBe(model.shift());
          else {
            q.push(op);
            model.push(op);
          }
          expect(q.size).toBe(model.length);
        }
      }),
    );
  });
});
