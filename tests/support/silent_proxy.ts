/**
 * A TCP proxy between the runner and the simulator that can make the
 * platform go silent the way a dead host or a dropped route does: no FIN,
 * no RST, bytes simply stop moving both ways (and the runner's writes pile up
 * in its socket buffers). New connections after `silence()` pass normally.
 */
export class SilentProxy {
  private readonly conns = new Set<Deno.Conn>();
  private readonly silenced = new Set<Deno.Conn>();
  private readonly never = new Promise<never>(() => {});
  private closed = false;

  private constructor(private readonly listener: Deno.Listener, private readonly target: number) {}

  static start(targetPort: number): SilentProxy {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const proxy = new SilentProxy(listener, targetPort);
    void proxy.accept();
    return proxy;
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  /** Stops every connection open now from moving another byte; keeps them open. */
  silence(): void {
    for (const c of this.conns) this.silenced.add(c);
  }

  close(): void {
    this.closed = true;
    this.listener.close();
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }

  private async accept(): Promise<void> {
    for await (const client of this.listener) {
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
      } catch {
        client.close();
        continue;
      }
      this.conns.add(client);
      this.conns.add(upstream);
      const pair = { client, upstream };
      void this.pump(pair.client, pair.upstream, pair.client);
      void this.pump(pair.upstream, pair.client, pair.client);
    }
  }

  /** Copies `from` to `to` until either closes, or forever stalls once `key` is silenced. */
  private async pump(from: Deno.Conn, to: Deno.Conn, key: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!this.closed) {
        if (this.silenced.has(key)) await this.never; // reads nothing more: the sender's buffers fill
        const n = await from.read(buf);
        if (n === null) break;
        if (this.silenced.has(key)) await this.never; // what arrived meanwhile is never passed on
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* closed */ }
    if (!this.silenced.has(key)) {
      for (const c of [from, to]) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    }
  }
}
