/**
 * The built-in `demo` provider: no key, no network. Each demo agent (`demo:alice`, `demo:bob`,
 * `demo:carol`, any `demo:<name>`) writes deterministic text seeded from the prompt, the agent,
 * the round and the role, so the same debate replays identically while different questions get
 * different proposals, critiques and votes. Every reply starts with "[simulated]" and follows the
 * answer conventions of turn.ts (ANSWER:, VOTE:, CONFIDENCE:), and later rounds drift towards the
 * answers other agents gave, so a demo debate converges like a real one.
 *
 * @example
 * const demo = demoClient({ clock: realClock, tokenDelayMs: 20 });
 * await demo.stream({ model: "alice", system: "", prompt: "Question: Should we ship on Fridays?", signal, onDelta, seed });
 */
import type { Clock } from "../../../runtime/actor/index.ts";
import type { CallOutcome, ModelCall, ProviderClient } from "./client.ts";
import { sleep } from "./sleep.ts";
import { estimateTokens } from "./usage.ts";

interface Persona {
  temper: "pragmatist" | "skeptic" | "optimist" | "analyst";
  opener: string[];
}

const PERSONAS: Record<string, Persona> = {
  alice: { temper: "pragmatist", opener: ["In practice,", "Looking at what works,", "Practically speaking,"] },
  bob: { temper: "skeptic", opener: ["I am not convinced:", "Before we agree,", "The risk here is real:"] },
  carol: { temper: "optimist", opener: ["There is a real opportunity:", "I see upside here:", "Done well,"] },
};
const TEMPERS: Persona["temper"][] = ["pragmatist", "skeptic", "optimist", "analyst"];
const STOPWORDS = new Set(
  "about above after again against their there these those which while would could should where when what with within without because before being between other first under until very into from that this have will your they them then than such more most some much many also only just over been were does doing done each make made using used question answer round agent agents debate proposal critique option adopt reduce improve increase decrease allow become choose build create change move stop start keep take give need want ours".split(
    " ",
  ),
);

/**
 * The demo provider client; tokens are streamed `tokenDelayMs` apart on the given clock.
 *
 * @example
 * demoClient({ clock: system.clock, tokenDelayMs: 0 }).simulated; // true
 */
export function demoClient(options: { clock: Clock; tokenDelayMs: number }): ProviderClient {
  return {
    simulated: true,
    async stream(call: ModelCall): Promise<CallOutcome> {
      const text = demoReply(call.seed.agent, call.model, call.seed.round, call.seed.role, call.prompt);
      const pieces = text.match(/\S+\s*/g) ?? [];
      let sent = "";
      for (const piece of pieces) {
        if (call.signal.aborted) throw call.signal.reason;
        if (options.tokenDelayMs > 0) await sleep(options.clock, options.tokenDelayMs, call.signal);
        sent += piece;
        call.onDelta(piece);
      }
      return {
        text: sent,
        usage: {
          inputTokens: estimateTokens(call.system) + estimateTokens(call.prompt),
          outputTokens: pieces.length,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
          estimated: true,
        },
      };
    },
  };
}

/**
 * The whole deterministic reply of a demo agent.
 *
 * @example
 * demoReply("demo:alice", "alice", 0, "proposer", "Question: Should we adopt a four-day week?");
 * // "[simulated] In practice, ... \nANSWER: Yes, with safeguards"
 */
export function demoReply(agent: string, model: string, round: number, role: string, prompt: string): string {
  const question = questionOf(prompt);
  const rng = mulberry32(fnv1a(`${question}\u0000${agent}\u0000${round}\u0000${role}`));
  const persona = PERSONAS[model] ?? {
    temper: TEMPERS[fnv1a(model) % TEMPERS.length] as Persona["temper"],
    opener: ["On balance,", "Weighing it up,", "My reading:"],
  };
  const keywords = keywordsOf(question);
  const stances = stancesFor(question, keywords);
  const own = ownStance(stances, persona, rng, round, answersIn(prompt));
  const [k1, k2, k3] = [keywords[0] ?? "the goal", keywords[1] ?? "the cost", keywords[2] ?? "the people affected"];
  const pick = <T>(items: T[]) => items[Math.floor(rng() * items.length)] as T;
  const lines: string[] = [];
  if (role === "voter" || role === "judge") {
    const options = optionsIn(prompt);
    if (options.length === 0)
      return `[simulated] No options were listed, so I abstain.\nVOTE: abstain\nCONFIDENCE: 0.0`;
    const scored = options.map((o) => ({
      ...o,
      score: overlap(o.text, own) + rng() * 0.6 - (o.label === agent || o.label === model ? 0.4 : 0),
    }));
    scored.sort((a, b) => b.score - a.score);
    const best = scored[0] as { label: string; text: string; score: number };
    const confidence = Math.min(0.95, 0.55 + rng() * 0.3 + (round > 1 ? 0.05 : 0));
    lines.push(
      `[simulated] ${pick(persona.opener)} option ${best.label} is the most defensible on ${k1}.`,
      `It handles ${k2} better than the alternatives, although none fully settles ${k3}.`,
      `VOTE: ${best.label}`,
      `CONFIDENCE: ${confidence.toFixed(2)}`,
    );
    return lines.join("\n");
  }
  if (role === "critic" || role === "devils_advocate") {
    const others = answersIn(prompt);
    const target = others.length > 0 ? pick(others) : pick(stances);
    const contrarian = role === "devils_advocate";
    lines.push(
      `[simulated] ${pick(persona.opener)} the case for "${target}" ${contrarian ? "rests on assumptions nobody has tested" : "is partly right"}.`,
      `Its strongest point is the attention to ${k1}; its weakest is how little it says about ${k2}.`,
      contrarian
        ? `Consider the opposite: if ${k3} turns out to matter most, the consensus fails.`
        : `A revision should spell out what happens to ${k3} and how we would measure success.`,
      `ANSWER: ${contrarian ? (stances.find((s) => s !== target) ?? own) : own}`,
    );
    return lines.join("\n");
  }
  if (role === "synthesiser") {
    const all = answersIn(prompt);
    const counts = tally(all);
    const top = counts[0]?.[0] ?? own;
    lines.push(
      `[simulated] Synthesis: the agents ${counts.length <= 1 ? "largely agree" : "split"} on ${k1}.`,
      counts.length > 0
        ? `Positions: ${counts.map(([a, n]) => `${a} (${n})`).join("; ")}.`
        : `No explicit positions were given.`,
      `The common ground is to act on ${k2} while watching ${k3}.`,
      `ANSWER: ${top}`,
    );
    return lines.join("\n");
  }
  const reasons = [
    `it addresses ${k1} directly`,
    `the cost in ${k2} stays bounded`,
    `it can be reversed if ${k3} suffers`,
    `evidence on ${k1} points this way`,
    `it keeps ${k2} and ${k3} in balance`,
  ];
  const first = pick(reasons);
  const second = pick(reasons.filter((r) => r !== first));
  lines.push(
    `[simulated] ${pick(persona.opener)} ${round > 0 ? "after reading the other positions, " : ""}my position on "${truncate(question, 90)}" is: ${own}.`,
    `First, ${first}. Second, ${second}.`,
    persona.temper === "skeptic"
      ? `The main risk is underestimating ${k3}; I would set a clear stop condition.`
      : `I would start with a small step on ${k1} and review it after one cycle.`,
    `ANSWER: ${own}`,
  );
  return lines.join("\n");
}

function questionOf(prompt: string): string {
  const labelled = /^\s*question:\s*(.+)$/im.exec(prompt)?.[1];
  if (labelled) return labelled.trim();
  const asked = prompt.split("\n").find((l) => l.trim().endsWith("?"));
  return (asked ?? prompt.split("\n")[0] ?? "").trim().slice(0, 300);
}

function keywordsOf(question: string): string[] {
  const counts = new Map<string, number>();
  for (const word of question.toLowerCase().match(/[\p{L}][\p{L}\p{N}-]{3,}/gu) ?? []) {
    if (STOPWORDS.has(word)) continue;
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0].length - a[0].length).map(([w]) => w);
}

function stancesFor(question: string, keywords: string[]): string[] {
  if (/^\s*(should|is|are|can|could|will|would|does|do|must|ought)\b/i.test(question)) {
    return ["Yes", "No", "Yes, with safeguards", "Not yet: pilot it first"];
  }
  const [a = "the core goal", b = "the constraints"] = keywords;
  return [`Prioritise ${a}`, `Balance ${a} and ${b}`, `Start small with ${b}`, `Rethink ${a} from scratch`];
}

function ownStance(stances: string[], persona: Persona, rng: () => number, round: number, others: string[]): string {
  const leaning: Record<Persona["temper"], number[]> = {
    pragmatist: [2, 0, 3, 1],
    skeptic: [1, 3, 2, 0],
    optimist: [0, 2, 3, 1],
    analyst: [2, 3, 0, 1],
  };
  const order = leaning[persona.temper];
  const initial = stances[(order[Math.floor(rng() * 2)] ?? 0) % stances.length] as string;
  // Later rounds move towards the most common answer seen, more likely as rounds pass.
  const top = tally(others)[0];
  if (round > 0 && top !== undefined && rng() < Math.min(0.9, 0.4 * round)) return top[0];
  return initial;
}

function answersIn(prompt: string): string[] {
  return [...prompt.matchAll(/^\s*ANSWER:\s*(.+?)\s*$/gim)].map((m) => m[1] as string);
}

function optionsIn(prompt: string): Array<{ label: string; text: string }> {
  return [...prompt.matchAll(/^\s*OPTION\s+(\S+):(?:\s+(.*))?$/gim)].map((m) => ({
    label: m[1] as string,
    text: m[2] ?? "",
  }));
}

function tally(items: string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function overlap(a: string, b: string): number {
  const words = new Set(b.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
  return (a.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => words.has(w)).length;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
