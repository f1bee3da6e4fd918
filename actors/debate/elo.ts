/**
 * ELO ratings from debate outcomes: every agent starts at 1500, K = 32, and each finished debate
 * updates every pair of participants at once (simultaneous, against the ratings before the
 * debate). A seat whose final answer matched the consensus beats one whose answer did not; two
 * seats on the same side draw.
 *
 * @example
 * const next = eloUpdate({ "demo:alice": rating(1500), "demo:bob": rating(1500) }, ["demo:alice"], ["demo:bob"]);
 * next["demo:alice"].elo; // 1516
 */
export const ELO_START = 1500;
export const ELO_K = 32;

export interface Rating {
  elo: number;
  debates: number;
  wins: number;
  losses: number;
}

/** A fresh rating. @example rating() // { elo: 1500, debates: 0, wins: 0, losses: 0 } */
export function rating(elo = ELO_START): Rating {
  return { elo, debates: 0, wins: 0, losses: 0 };
}

/** The expected score of a player rated `a` against one rated `b`. @example expectedScore(1500, 1500) // 0.5 */
export function expectedScore(a: number, b: number): number {
  return 1 / (1 + 10 ** ((b - a) / 400));
}

/**
 * Apply one debate: `winners` matched the consensus, `losers` did not. Returns the new ratings of
 * every participant (missing ones start at 1500). Debates, wins and losses count once per debate.
 *
 * @example eloUpdate({}, ["a"], ["b", "c"]) // a: 1532, b: 1484, c: 1484
 */
export function eloUpdate(
  current: Record<string, Rating>,
  winners: string[],
  losers: string[],
): Record<string, Rating> {
  const players = [...winners, ...losers];
  const before = Object.fromEntries(players.map((p) => [p, current[p] ?? rating()]));
  const delta: Record<string, number> = Object.fromEntries(players.map((p) => [p, 0]));
  const won = new Set(winners);
  for (let i = 0; i < players.length; i++) {
    for (let j = i + 1; j < players.length; j++) {
      const a = players[i] as string;
      const b = players[j] as string;
      const scoreA = won.has(a) === won.has(b) ? 0.5 : won.has(a) ? 1 : 0;
      const change = ELO_K * (scoreA - expectedScore((before[a] as Rating).elo, (before[b] as Rating).elo));
      delta[a] = (delta[a] as number) + change;
      delta[b] = (delta[b] as number) - change;
    }
  }
  const next: Record<string, Rating> = {};
  for (const p of players) {
    const r = before[p] as Rating;
    const decided = winners.length > 0 && losers.length > 0;
    next[p] = {
      elo: Math.round((r.elo + (delta[p] as number)) * 100) / 100,
      debates: r.debates + 1,
      wins: r.wins + (decided && won.has(p) ? 1 : 0),
      losses: r.losses + (decided && !won.has(p) ? 1 : 0),
    };
  }
  return next;
}
