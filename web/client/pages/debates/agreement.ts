/**
 * Agreement of a round while the debate runs: the share of answers in the largest group of the
 * same answer. The server's rule (actors/debate/consensus.ts) read the same way: the answer is the
 * last `ANSWER:` line (else the last non-empty line), two answers are the same when their word
 * sets overlap at least 0.8 (Jaccard). The server's own figures replace these when the debate ends.
 * A copy, because the browser's code imports only web/client and actors/ may not import web/; the
 * parity test (tests/web/agreement-parity.test.ts) runs both on generated rounds and fails when
 * one changes without the other.
 *
 * @example agreementOf(["...\nANSWER: Use Bun", "ANSWER: use bun.", "ANSWER: Node"]) // 0.6667
 */

const SAME_ANSWER_SIMILARITY = 0.8;
const STOP_WORDS = new Set(["a", "an", "the", "we", "should", "is", "it", "to", "of", "and"]);
const ANSWER_LINE = /^\s*[*_#>\s-]*(?:final\s+)?answer\s*[*_]*\s*[:\-–]\s*(.+)$/i;

/** The short answer of a proposal or revision. @example answerOf("why...\nANSWER: yes") // "yes" */
export function answerOf(text: string): string {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = ANSWER_LINE.exec(lines[i] ?? "");
    if (m?.[1]) return m[1].replace(/[*_`]+/g, "").trim();
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? "").trim();
    if (line)
      return line
        .slice(0, 200)
        .replace(/[*_`]+/g, "")
        .trim();
  }
  return "";
}

function words(answer: string): string {
  return answer
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .split(/\s+/)
    .filter((w) => w.length > 0 && !STOP_WORDS.has(w))
    .join(" ");
}

function similar(a: string, b: string): boolean {
  const na = words(a);
  const nb = words(b);
  if (na === nb) return true;
  const wa = new Set(na.split(" "));
  const wb = new Set(nb.split(" "));
  let common = 0;
  for (const w of wa) if (wb.has(w)) common++;
  const union = wa.size + wb.size - common;
  return union > 0 && common / union >= SAME_ANSWER_SIMILARITY;
}

/** Share (0..1, four decimals) of the texts whose answers form the largest group. */
export function agreementOf(texts: string[]): number {
  if (texts.length === 0) return 0;
  const groups: { answer: string; size: number }[] = [];
  for (const text of texts) {
    const answer = answerOf(text);
    const found = groups.find((g) => similar(g.answer, answer));
    if (found) found.size++;
    else groups.push({ answer, size: 1 });
  }
  const largest = Math.max(...groups.map((g) => g.size));
  return Math.round((largest / texts.length) * 1e4) / 1e4;
}
