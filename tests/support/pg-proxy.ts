/**
 * A TCP proxy in front of the test PostgreSQL server that lets a test end a session at an exact
 * point of the wire protocol: when a message from the client (or from the server) contains a
 * marker, the proxy holds it, ends the backend with pg_terminate_backend from another connection,
 * and hands the client what the server said on its way out (the FATAL 57P01 and the close), in one
 * go. Failovers and pooler restarts do this at random; here it happens where a test needs it, so a
 * driver bug in that window is met every run rather than once in a while.
 *
 * @example
 * const proxy = await startPgProxy(db.url, admin);
 * proxy.cutWhenClientSends("typarray"); // the driver's array-type query never reaches the server
 * const sql = postgres(proxy.url, { max: 1 });
 * await sql`SELECT 1`;
 * proxy.stop();
 */
import type postgres from "postgres";

type Side = "client" | "server";

interface Cut {
  side: Side;
  marker: string;
  done: () => void;
}

interface Link {
  upstream: Bun.Socket<undefined> | null;
  /** Bytes from the client that arrived before the upstream connection opened. */
  early: Buffer[];
  /** While a cut is under way: what the server says, handed over when it closes. */
  held: Buffer[] | null;
  client: Bun.Socket<Link>;
}

export interface PgProxy {
  /** The database URL through the proxy. */
  url: string;
  /** Backend sessions ended by the proxy so far. */
  cuts: number;
  /**
   * The next client message containing `marker` is dropped and its session ended: the statement
   * is in flight from the client's view, and never reaches the server. Resolves once it happened.
   */
  cutWhenClientSends(marker: string): Promise<void>;
  /**
   * The next server message containing `marker` (a result row) is held, the session ended, and
   * the held bytes handed to the client together with the session's end.
   */
  cutWhenServerSends(marker: string): Promise<void>;
  stop(): void;
}

/**
 * Start a proxy to `databaseUrl` on a free local port; `admin` (a connection to the same server,
 * not through the proxy) ends the sessions.
 */
export async function startPgProxy(databaseUrl: string, admin: postgres.Sql): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const database = target.pathname.slice(1);
  const cuts: Cut[] = [];
  const links = new Set<Link>();
  let cutCount = 0;

  // The backend of this link only: the one whose client is the proxy's upstream socket.
  const endSession = async (link: Link) => {
    const ended = await admin`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
      WHERE datname = ${database} AND client_port = ${link.upstream?.localPort ?? -1}`;
    cutCount += ended.length;
  };
  const takeCut = (side: Side, bytes: Buffer): Cut | undefined => {
    const i = cuts.findIndex((c) => c.side === side && bytes.includes(c.marker));
    return i < 0 ? undefined : cuts.splice(i, 1)[0];
  };

  const server = Bun.listen<Link>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        const link: Link = { upstream: null, early: [], held: null, client };
        client.data = link;
        links.add(link);
        void Bun.connect({
          hostname: target.hostname,
          port: Number(target.port || 5432),
          socket: {
            data(_upstream, bytes) {
              const chunk = Buffer.from(bytes);
              if (link.held) {
                link.held.push(chunk);
                return;
              }
              const cut = takeCut("server", chunk);
              if (!cut) {
                client.write(chunk);
                return;
              }
              link.held = [chunk];
              void endSession(link).then(cut.done);
            },
            close() {
              // The session is over: the client gets what the server said last, then the close.
              if (link.held) client.write(Buffer.concat(link.held));
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).then(
          (upstream) => {
            link.upstream = upstream;
            for (const chunk of link.early) upstream.write(chunk);
            link.early = [];
          },
          () => client.end(),
        );
      },
      data(client, bytes) {
        const link = client.data;
        const chunk = Buffer.from(bytes);
        const cut = takeCut("client", chunk);
        if (cut) {
          // Dropped: from the client's view the statement is in flight when its session ends.
          link.held = [];
          void endSession(link).then(cut.done);
          return;
        }
        if (link.upstream) link.upstream.write(chunk);
        else link.early.push(chunk);
      },
      close(client) {
        links.delete(client.data);
        client.data.upstream?.end();
      },
    },
  });

  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(server.port);
  const cutWhen = (side: Side, marker: string) =>
    new Promise<void>((resolve) => {
      cuts.push({ side, marker, done: resolve });
    });
  return {
    url: url.toString(),
    get cuts() {
      return cutCount;
    },
    cutWhenClientSends: (marker) => cutWhen("client", marker),
    cutWhenServerSends: (marker) => cutWhen("server", marker),
    stop() {
      for (const link of links) {
        link.client.end();
        link.upstream?.end();
      }
      server.stop(true);
    },
  };
}
