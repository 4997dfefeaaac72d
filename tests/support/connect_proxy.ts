/**
 * An HTTP CONNECT proxy on 127.0.0.1 for the proxy tests: it records every
 * CONNECT (target and Proxy-Authorization) and then relays bytes both ways.
 * Only CONNECT is served; anything else is answered 405.
 */
export interface ConnectRecord {
  target: string;
  authorization: string | null;
}

export class ConnectProxy {
  readonly connects: ConnectRecord[] = [];
  private readonly conns = new Set<Deno.Conn>();
  private readonly done: Promise<void>;

  private constructor(private readonly listener: Deno.TcpListener) {
    this.done = this.accept();
  }

  static start(): ConnectProxy {
    return new ConnectProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  /** `http://[user:pass@]127.0.0.1:port` */
  url(credentials?: string): string {
    return `http://${credentials ? credentials + "@" : ""}127.0.0.1:${this.port}`;
  }

  private async accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        this.conns.add(conn);
        this.serve(conn).catch(() => {}).finally(() => {
          this.conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    } catch { /* listener closed */ }
  }

  private async serve(client: Deno.Conn): Promise<void> {
    // Read the request head byte by byte: nothing after it may be consumed here.
    const head: number[] = [];
    const one = new Uint8Array(1);
    while (!endsWithBlankLine(head)) {
      if ((await client.read(one)) === null || head.length > 16384) return;
      head.push(one[0]);
    }
    const text = new TextDecoder().decode(new Uint8Array(head));
    const [requestLine, ...headerLines] = text.split("\r\n");
    const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(requestLine);
    if (!m) {
      await client.write(new TextEncoder().encode("HTTP/1.1 405 Method Not Allowed\r\n\r\n"));
      return;
    }
    const auth = headerLines.find((l) => /^proxy-authorization:/i.test(l));
    this.connects.push({
      target: m[1],
      authorization: auth ? auth.slice(auth.indexOf(":") + 1).trim() : null,
    });
    const [host, port] = [m[1].slice(0, m[1].lastIndexOf(":")), Number(m[1].split(":").pop())];
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: host.replace(/^\[|\]$/g, ""), port });
    } catch {
      await client.write(new TextEncoder().encode("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
      return;
    }
    this.conns.add(upstream);
    await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection established\r\n\r\n"));
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable, { preventClose: false }),
      upstream.readable.pipeTo(client.writable, { preventClose: false }),
    ]);
    this.conns.delete(upstream);
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.done;
  }
}

function endsWithBlankLine(b: number[]): boolean {
  const n = b.length;
  return n >= 4 && b[n - 4] === 13 && b[n - 3] === 10 && b[n - 2] === 13 && b[n - 1] === 10;
}
