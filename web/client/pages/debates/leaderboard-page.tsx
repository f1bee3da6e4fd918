/**
 * The leaderboard (GET /api/leaderboard/rankings): the organisation's agents by ELO rating from
 * their finished debates, with debates, wins and losses.
 */
import "./history.css";
import { Loading, messageOf, Notice, TableRegion, useApi } from "../../ui.tsx";

interface Ranking {
  name: string;
  elo: number;
  debates: number;
  wins: number;
  losses: number;
}

export default function LeaderboardPage() {
  const rankings = useApi<{ agents: Ranking[] }>("/api/leaderboard/rankings");
  const agents = rankings.data ? [...rankings.data.agents].sort((a, b) => b.elo - a.elo) : [];
  return (
    <section>
      <h1>Leaderboard</h1>
      <p class="page-links">
        <a href="/debates">All debates</a>
      </p>
      {rankings.loading && <Loading />}
      {rankings.error && <Notice kind="error">{messageOf(rankings.error)}</Notice>}
      {rankings.data && agents.length === 0 && <p>No agent is rated yet: ratings come from finished debates.</p>}
      {agents.length > 0 && (
        <p class="muted">Everyone starts at 1500; each finished debate rates its agents pairwise.</p>
      )}
      {agents.length > 0 && (
        <TableRegion label="Leaderboard">
          <table class="leaderboard">
            <caption>Agents by ELO rating</caption>
            <thead>
              <tr>
                <th scope="col">Rank</th>
                <th scope="col">Agent</th>
                <th scope="col" class="num">
                  ELO
                </th>
                <th scope="col" class="num">
                  Debates
                </th>
                <th scope="col" class="num">
                  Wins
                </th>
                <th scope="col" class="num">
                  Losses
                </th>
              </tr>
            </thead>
            <tbody>
              {agents.map((a, i) => (
                <tr key={a.name}>
                  <td>{i + 1}</td>
                  <th scope="row">{a.name}</th>
                  <td class="num">{Math.round(a.elo)}</td>
                  <td class="num">{a.debates}</td>
                  <td class="num">{a.wins}</td>
                  <td class="num">{a.losses}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </section>
  );
}
