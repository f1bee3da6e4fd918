/**
 * How the event log is laid out in the database: one row per debate per write batch (a "chunk")
 * instead of one row per event, because the EventWriter's batch is the hot write path and a row
 * per event cost two B-tree inserts per event. A chunk holds the consecutive seqs
 * `firstSeq..lastSeq`: `hashes` is every event's chain link (64 hex chars each) concatenated in
 * seq order, `events` the JSON array `[payload,payload,...]` of the envelopes exactly as published.
 * Both stores (SQLite and PostgreSQL) build, guard and read chunks with the functions here.
 *
 * @example
 * const chunks = chunkEvents(batch); // one per debate in the batch
 * const out: StoredEvent[] = [];
 * readChunk(out, "d-42", chunks[0].firstSeq, chunks[0].hashes, chunks[0].events, 0, 100);
 */
import type { StoredEvent } from "./debate-store.ts";
import type { DebateEventEnvelope } from "./types.ts";

/** Hex characters of one chain link (sha256). */
export const HASH_LENGTH = 64;

export interface EventChunk {
  debateId: string;
  firstSeq: number;
  lastSeq: number;
  /** Chain links, {@link HASH_LENGTH} hex chars each, in seq order. */
  hashes: string;
  /** `[` + the payloads joined by `,` + `]`. */
  events: string;
  /** `ts` (epoch ms) of the chunk's last event: the debate's `updated_at`. */
  lastTs: number;
}

/**
 * A batch would store a seq twice (it is already stored, or appears twice in the batch): the chunk
 * layout's counterpart of the old per-event primary-key conflict. The whole batch fails.
 */
export class EventSeqConflict extends Error {
  override name = "EventSeqConflict";
  /** The debate whose log it is, when one debate's events caused it. */
  readonly debateId: string | undefined;

  constructor(message: string, debateId?: string) {
    super(message);
    this.debateId = debateId;
  }
}

function toChunk(debateId: string, run: StoredEvent[]): EventChunk {
  const first = run[0] as StoredEvent;
  const last = run[run.length - 1] as StoredEvent;
  let hashes = "";
  for (const e of run) hashes += e.hash;
  return {
    debateId,
    firstSeq: first.seq,
    lastSeq: last.seq,
    hashes,
    events: `[${run.map((e) => e.payload).join(",")}]`,
    lastTs: last.ts,
  };
}

/**
 * Group a batch by debate into one chunk per debate (debates in the order they first appear).
 * A debate's events are put in seq order (the EventWriter keeps them in order; a row per event
 * did not need it) and a gap in its seqs starts another chunk, since a chunk's seqs are
 * consecutive. Throws {@link EventSeqConflict} for a seq twice in the batch, and a plain Error for
 * a hash that is not {@link HASH_LENGTH} characters (the read side slices them by length).
 *
 * @example
 * chunkEvents([e1, e2, f1]); // [{ debateId: "d-1", firstSeq: 1, lastSeq: 2, ... }, { debateId: "d-2", ... }]
 */
export function chunkEvents(events: StoredEvent[]): EventChunk[] {
  const byDebate = new Map<string, StoredEvent[]>();
  for (const e of events) {
    if (e.hash.length !== HASH_LENGTH) {
      throw new Error(`debate ${e.debateId} seq ${e.seq}: hash is ${e.hash.length} characters, not ${HASH_LENGTH}`);
    }
    const list = byDebate.get(e.debateId);
    if (list) list.push(e);
    else byDebate.set(e.debateId, [e]);
  }
  const chunks: EventChunk[] = [];
  for (const [debateId, list] of byDebate) {
    if (list.some((e, i) => i > 0 && e.seq < (list[i - 1] as StoredEvent).seq)) list.sort((x, y) => x.seq - y.seq);
    let start = 0;
    for (let i = 1; i <= list.length; i++) {
      const e = list[i];
      const previous = list[i - 1] as StoredEvent;
      if (e && e.seq === previous.seq) {
        throw new EventSeqConflict(`debate ${debateId}: seq ${e.seq} is twice in one batch`, debateId);
      }
      if (!e || e.seq !== previous.seq + 1) {
        chunks.push(toChunk(debateId, list.slice(start, i)));
        start = i;
      }
    }
  }
  return chunks;
}

/** What one batch appends to one debate: from its first chunk's first seq to its last chunk's end. */
export interface DebateSpan {
  debateId: string;
  firstSeq: number;
  lastSeq: number;
  /** `ts` (epoch ms) of the debate's last event in the batch: its `updated_at`. */
  lastTs: number;
}

/**
 * One span per debate in `chunks` (as {@link chunkEvents} made them: a debate's chunks together,
 * in seq order). A span that starts above the debate's stored `last_seq` (the highest seq stored,
 * which every append moves in the same transaction) cannot overlap a stored event, so only a span
 * that does not (a batch committed after a later one, a retried batch that had in fact committed)
 * needs its chunks checked against the stored ones.
 *
 * @example debateSpans(chunkEvents(batch)).map((s) => [s.debateId, s.firstSeq, s.lastSeq])
 */
export function debateSpans(chunks: EventChunk[]): DebateSpan[] {
  const spans = new Map<string, DebateSpan>();
  for (const c of chunks) {
    const span = spans.get(c.debateId);
    if (span) {
      span.lastSeq = c.lastSeq;
      span.lastTs = c.lastTs;
    } else {
      spans.set(c.debateId, { debateId: c.debateId, firstSeq: c.firstSeq, lastSeq: c.lastSeq, lastTs: c.lastTs });
    }
  }
  return [...spans.values()];
}

/** A stored chunk's links, as the stores select them to check a batch against the log. */
export interface StoredLinks {
  debate_id: string;
  first_seq: number | string;
  hashes: string;
}

/**
 * The events of a batch that are not stored yet, given the stored chunks that may overlap it. An
 * event whose seq is stored with the same chain link is the same event (the link hashes its
 * payload and every event before it): the batch is a retry of one whose commit went through but
 * whose acknowledgement was lost (a dropped connection, a timeout), and it is dropped rather than
 * failing every retry. A seq stored with another link throws {@link EventSeqConflict}.
 *
 * @example
 * const rest = unstoredEvents(batch, overlappingChunks); // [] when the whole batch was stored
 */
export function unstoredEvents(events: StoredEvent[], stored: Iterable<StoredLinks>): StoredEvent[] {
  const links = new Map<string, string>();
  for (const c of stored) {
    const first = Number(c.first_seq);
    for (let i = 0; i * HASH_LENGTH < c.hashes.length; i++) {
      links.set(`${c.debate_id} ${first + i}`, c.hashes.slice(i * HASH_LENGTH, (i + 1) * HASH_LENGTH));
    }
  }
  if (links.size === 0) return events;
  return events.filter((e) => {
    const link = links.get(`${e.debateId} ${e.seq}`);
    if (link === undefined) return true;
    if (link === e.hash) return false;
    throw new EventSeqConflict(`debate ${e.debateId}: seq ${e.seq} is already stored as another event`, e.debateId);
  });
}

/**
 * Append to `out` the events of one stored chunk with seq > `sinceSeq`, until `out` holds `limit`.
 * Each payload is the element re-serialised: JSON.stringify(JSON.parse(text)) gives back `text`
 * byte for byte when `text` was itself made by JSON.stringify, as every envelope is (DebateLog).
 *
 * @example
 * readChunk(out, "d-42", 1, row.hashes, row.events, 0, 1_000);
 */
export function readChunk(
  out: StoredEvent[],
  debateId: string,
  firstSeq: number,
  hashes: string,
  events: string,
  sinceSeq: number,
  limit: number,
): void {
  const envelopes = JSON.parse(events) as DebateEventEnvelope[];
  const single = envelopes.length === 1;
  for (let i = Math.max(0, sinceSeq + 1 - firstSeq); i < envelopes.length && out.length < limit; i++) {
    const e = envelopes[i] as DebateEventEnvelope;
    out.push({
      debateId,
      seq: firstSeq + i,
      type: e.type,
      round: e.round ?? null,
      agent: e.agent ?? null,
      ts: Date.parse(e.ts),
      hash: hashes.slice(i * HASH_LENGTH, (i + 1) * HASH_LENGTH),
      // A chunk of one (every event migrated from the old table) holds its payload verbatim.
      payload: single ? events.slice(1, -1) : JSON.stringify(e),
    });
  }
}

/** A stored chunk as both stores select it (PostgreSQL returns bigint columns as strings). */
export interface StoredChunk {
  first_seq: number | string;
  hashes: string;
  events: string;
}

/**
 * The events with seq > `sinceSeq` of a debate's chunks (in first_seq order), at most `limit`;
 * stops reading `chunks` once it has them.
 *
 * @example eventsOfChunks(statement.iterate(id, 0, 100), id, 0, 100)
 */
export function eventsOfChunks(
  chunks: Iterable<StoredChunk>,
  debateId: string,
  sinceSeq: number,
  limit: number,
): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const c of chunks) {
    readChunk(out, debateId, Number(c.first_seq), c.hashes, c.events, sinceSeq, limit);
    if (out.length >= limit) break;
  }
  return out;
}
