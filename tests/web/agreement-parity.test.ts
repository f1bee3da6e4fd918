/**
 * The live debate page's agreement figure (web/client/pages/debates/agreement.ts) is the server's
 * (actors/debate/consensus.ts) on the same answers. The two are copies on purpose: the browser's
 * code imports only web/client, and actors/ may not import web/ (tests/architecture/layers.test.ts),
 * so no module is reachable from both. This runs both on thousands of generated rounds (seeded, so
 * a failure names a case that can be replayed) and on the edges by hand, so a change to one rule
 * without the other fails here.
 */
import { describe, expect, test } from "bun:test";
import { agreement, extractAnswer, SAME_ANSWER_SIMILARITY } from "../../actors/debate/consensus.ts";
import type { Seat } from "../../actors/debate/types.ts";
import { agreementOf, answerOf } from "../../web/client/pages/debates/agreement.ts";

/** mulberry32: a small seeded generator, so every run sees the same cases. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Stop words, mixed case, punctuation, accents and digits: everything the normalisation touches.
const WORDS = [
  "Use",
  "bun",
  "Node",
  "the",
  "a",
  "an",
  "we",
  "should",
  "is",
  "it",
  "to",
  "of",
  "and",
  "Yes",
  "no",
  "tabs",
  "spaces",
  "café",
  "2026",
  "it's",
];
const MARKS = ["", ".", "!", "**", "_", "`", ",", " - ", "?", "…"];
// The forms an answer line takes in real models' output, and forms that are not answer lines.
const ANSWER_PREFIXES = [
  "ANSWER: ",
  "Answer - ",
  "**Answer:** ",
  "final answer – ",
  "> answer: ",
  "## Answer: ",
  "  - ANSWER:",
  "answers: ",
  "ANSWER ",
];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

function phrase(random: () => number, from: readonly string[]): string {
  const n = 1 + Math.floor(random() * 5);
  return Array.from({ length: n }, () => pick(random, from) + pick(random, MARKS)).join(" ");
}

/** A proposal's text: some reasoning lines, maybe answer lines (the last counts), blank lines, CRLF. */
function proposal(random: () => number, answers: readonly string[]): string {
  const lines: string[] = [];
  const count = Math.floor(random() * 5);
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < 0.4) lines.push(pick(random, ANSWER_PREFIXES) + pick(random, answers));
    else if (roll < 0.55) lines.push("");
    else if (roll < 0.6) lines.push(phrase(random, WORDS).repeat(20));
    else lines.push(phrase(random, WORDS));
  }
  return lines.join(random() < 0.2 ? "\r\n" : "\n");
}

interface Round {
  texts: string[];
  failed: boolean[];
}

function round(random: () => number): Round {
  // A few candidate answers per round, so seats often agree, sometimes nearly (the 0.8 edge).
  const answers = Array.from({ length: 1 + Math.floor(random() * 3) }, () => phrase(random, WORDS));
  answers.push(`${answers[0]} ${pick(random, WORDS)}`);
  const seats = 1 + Math.floor(random() * 6);
  return {
    texts: Array.from({ length: seats }, () => proposal(random, answers)),
    failed: Array.from({ length: seats }, () => random() < 0.15),
  };
}

/** The server's figure: seats as the debate keeps them (answer extracted from the text). */
function serverAgreement({ texts, failed }: Round): number {
  const seats: Seat[] = texts.map((text, i) => ({
    agent: `demo:seat${i}`,
    failed: failed[i] as boolean,
    failure: null,
    text,
    answer: extractAnswer(text),
  }));
  return agreement(seats);
}

/** The page's figure: the texts of the seats that have not failed (debate-model.ts). */
const pageAgreement = ({ texts, failed }: Round): number => agreementOf(texts.filter((_, i) => !failed[i]));

describe("the page's agreement is the server's", () => {
  test("on 5,000 generated rounds, answer by answer and figure by figure", () => {
    const random = generator(20261205);
    const figures = new Set<number>();
    const differences: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const r = round(random);
      for (const text of r.texts) {
        if (answerOf(text) !== extractAnswer(text)) differences.push(`case ${i} answer of ${JSON.stringify(text)}`);
      }
      const server = serverAgreement(r);
      const page = pageAgreement(r);
      figures.add(server);
      if (server !== page) differences.push(`case ${i}: server ${server}, page ${page}: ${JSON.stringify(r)}`);
    }
    expect(differences.slice(0, 5)).toEqual([]);
    // The cases are not all alike: they reach no agreement, part agreement and full agreement.
    expect(figures.has(0)).toBe(true);
    expect(figures.has(1)).toBe(true);
    expect([...figures].filter((f) => f > 0 && f < 1).length).toBeGreaterThan(5);
  });

  test("at the similarity threshold: 4 shared words of 5 are the same answer, 3 of 5 are not", () => {
    expect(SAME_ANSWER_SIMILARITY).toBe(0.8);
    const at = ["ANSWER: red green blue black", "ANSWER: red green blue black white"];
    const below = ["ANSWER: red green blue", "ANSWER: red green blue black white"];
    for (const texts of [at, below]) {
      const r = { texts, failed: texts.map(() => false) };
      expect(pageAgreement(r)).toBe(serverAgreement(r));
    }
    expect(pageAgreement({ texts: at, failed: [false, false] })).toBe(1);
    expect(pageAgreement({ texts: below, failed: [false, false] })).toBe(0.5);
  });

  test("no seat, every seat failed, and empty texts", () => {
    for (const r of [
      { texts: [], failed: [] },
      { texts: ["ANSWER: yes", "ANSWER: no"], failed: [true, true] },
      { texts: ["", "", "ANSWER: yes"], failed: [false, false, false] },
    ]) {
      expect(pageAgreement(r)).toBe(serverAgreement(r));
    }
  });
});
