/**
 * Helpers for the live debate page's browser tests and bench: an init script that keeps every
 * WebSocket the page opens (so a test can drop one, and see what it sent), and what each agent's
 * turns should show according to the event log. (Signing in: sign-in.ts.)
 *
 * @example
 * const tab = await browser.newPage();
 * await withSession(tab.context, server, "owner@example.com");
 * await tab.page.addInitScript(SOCKET_SPY);
 * const expected = turnTextsOf(events); // { "demo:alice": ["[simulated] ...", ...], ... }
 */

/**
 * Runs before the page's own scripts: every WebSocket is kept in `window.__sockets`, and what it
 * sent in `window.__sent` (JSON strings).
 */
export const SOCKET_SPY = `
  (() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.__sent = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
      send(data) {
        window.__sent.push(String(data));
        return super.send(data);
      }
    };
  })();
`;

export interface LoggedEvent {
  type: string;
  seq: number;
  agent: string | null;
  data: Record<string, unknown>;
}

/**
 * Each agent's turns as the event log tells them: the token texts from one turn_start to the next,
 * joined (a fallback starts the turn's text over, as the page shows it).
 */
export function turnTextsOf(events: LoggedEvent[]): Record<string, string[]> {
  const turns: Record<string, string[]> = {};
  for (const e of events) {
    if (!e.agent) continue;
    const list = turns[e.agent] ?? [];
    turns[e.agent] = list;
    if (e.type === "turn_start") list.push("");
    else if (e.type === "token") {
      if (list.length === 0) list.push("");
      list[list.length - 1] += String(e.data.text ?? "");
    } else if (e.type === "fallback" && list.length > 0) list[list.length - 1] = "";
  }
  return turns;
}
