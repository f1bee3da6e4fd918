/**
 * A TCP proxy in front of the test PostgreSQL server that can cut one server process off from the
 * database without closing anything, as a network partition does: while partitioned, bytes in
 * either direction are held (the sessions stay open, their statements unanswered); healed, what
 * was held is delivered in order, as TCP would once the network came back.
 *
 * @example
 * const proxy = await startPartitionProxy(db.url);
 * const server = await startTestServer({ env: { DATABASE_URL: proxy.url } });
 * proxy.partition(); // the server's statements hang from now on
 * proxy.heal();
 * proxy.stop();
 */

export interface PartitionProxy {
  /** The database URL through the proxy. */
  url: string;
  /** Holds every byte in both directions from now on (new connections too). */
  partition(): void;
  /** Delivers what was held, and passes bytes on again. */
  heal(): void;
  stop(): void;
}

/** One direction of a connection: bytes waiting to be written, in order. */
class Pipe {
  private readonly queue: Buffer[] = [];
  target: Bun.Socket<unknown> | null = null;

  push(data: Buffer, hold: boolean): void {
    this.queue.push(data);
    if (!hold) this.flush();
  }

  /** Writes as much as the socket takes; the rest waits for its drain. */
  flush(): void {
    const target = this.target;
    if (target === null) return;
    while (this.queue.length > 0) {
      const head = this.queue[0] as Buffer;
      const written = target.write(head);
      if (written < head.length) {
        this.queue[0] = head.subarray(Math.max(0, written));
        return;
      }
      this.queue.shift();
    }
  }
}

interface Link {
  up: Pipe;
  down: Pipe;
  upstream: Bun.Socket<unknown> | null;
}

/** Starts a proxy to `databaseUrl` on a free port of 127.0.0.1. */
export async function startPartitionProxy(databaseUrl: string): Promise<PartitionProxy> {
  const target = new URL(databaseUrl);
  const links = new Set<Link>();
  let partitioned = false;
  const listener = Bun.listen<Link>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        const link: Link = { up: new Pipe(), down: new Pipe(), upstream: null };
        link.down.target = client as Bun.Socket<unknown>;
        client.data = link;
        links.add(link);
        void Bun.connect<undefined>({
          hostname: target.hostname,
          port: Number(target.port || 5432),
          socket: {
            open(upstream) {
              link.upstream = upstream as Bun.Socket<unknown>;
              link.up.target = upstream as Bun.Socket<unknown>;
              if (!partitioned) link.up.flush();
            },
            data(_upstream, data) {
              link.down.push(Buffer.from(data), partitioned);
            },
            drain() {
              if (!partitioned) link.up.flush();
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, data) {
        client.data.up.push(Buffer.from(data), partitioned);
      },
      drain(client) {
        if (!partitioned) client.data.down.flush();
      },
      close(client) {
        links.delete(client.data);
        client.data.upstream?.end();
      },
      error(client) {
        client.data.upstream?.end();
      },
    },
  });
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(listener.port);
  return {
    url: url.toString(),
    partition() {
      partitioned = true;
    },
    heal() {
      partitioned = false;
      for (const link of links) {
        link.up.flush();
        link.down.flush();
      }
    },
    stop() {
      for (const link of links) link.upstream?.end();
      listener.stop(true);
    },
  };
}
