import { writeAll } from "../async/write_all.ts";
import type { CheckedAddress } from "../policy/url_policy.ts";

/** Request heads larger than this are not a fetch of ours: refuse them. */
const MAX_HEAD_BYTES = 16 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * A one-target relay on 127.0.0.1 that makes Deno's fetch connect to the
 * addresses the URL policy checked, and to nothing else (no second DNS
 * lookup, so DNS rebinding cannot swap the address after the check).
 *
 * - https: fetch is given this relay as an HTTP proxy. It sends
 *   `CONNECT host:port`, the relay answers once it has a TCP connection to a
 *   checked address, and fetch then does TLS end to end through the tunnel,
 *   with SNI and certificate checks against the URL's host name.
 * - http: fetch is given this relay as a raw TCP transport and writes a
 *   proxy-style request (`GET http://host/path`); the relay rewrites that
 *   first line to the origin form servers expect and forwards the bytes.
 *
 * Either way the relay refuses any target other than the expected
 * host:port and tries the checked addresses in the resolver's order.
 */
export class PinnedRelay {
  private readonly listener: Deno.TcpListener;
  private readonly conns = new Set<Deno.Conn>();
  private readonly pending = new Set<Promise<void>>();
  private accepting: Promise<void>;
  private closed = false;
  /** why the last upstream connection failed, for the error message */
  lastError?: string;

  private constructor(
    private readonly mode: "connect" | "forward",
    private readonly authority: string,
    private readonly addresses: CheckedAddress[],
    private readonly port: number,
  ) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.accepting = this.acceptLoop();
  }

  /** `url`'s scheme picks the mode; `addresses` are what the policy checked. */
  static start(url: URL, addresses: CheckedAddress[]): PinnedRelay {
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const mode = url.protocol === "https:" ? "connect" : "forward";
    return new PinnedRelay(mode, `${url.hostname.toLowerCase()}:${port}`, addresses, port);
  }

  /** The Deno.createHttpClient proxy option that routes a fetch through this relay. */
  get proxy(): Deno.Proxy {
    const port = this.listener.addr.port;
    return this.mode === "connect"
      ? { url: `http://127.0.0.1:${port}` }
      : { transport: "tcp", hostname: "127.0.0.1", port };
  }

  /** Stops listening, cuts every relayed connection, and waits until all of it has ended. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.listener.close();
      } catch { /* already closed */ }
    }
    for (const c of this.conns) closeQuietly(c);
    this.conns.clear();
    await this.accepting;
    await Promise.allSettled([...this.pending]);
  }

  private async acceptLoop(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        if (this.closed) {
          closeQuietly(conn);
          break;
        }
        this.conns.add(conn);
        const done = this.serve(conn).finally(() => {
          this.conns.delete(conn);
          closeQuietly(conn);
          this.pending.delete(done);
        });
        this.pending.add(done);
      }
    } catch {
      // the listener was closed: nothing more to accept
    }
  }

  private async serve(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn | undefined;
    try {
      const head = await readHead(client);
      if (!head) return;
      const text = new TextDecoder("latin1").decode(head.bytes);
      const firstLineEnd = text.indexOf("\r\n");
      const [method, target, version] = text.slice(0, firstLineEnd).split(" ");
      let forward: Uint8Array;
      if (this.mode === "connect") {
        if (method !== "CONNECT" || target?.toLowerCase() !== this.authority) {
          await writeAll(client, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
          return;
        }
        forward = head.rest;
      } else {
        const origin = originForm(target, this.authority);
        if (!origin || !version?.startsWith("HTTP/")) return;
        forward = concat(
          new TextEncoder().encode(`${method} ${origin} ${version}`),
          head.bytes.subarray(firstLineEnd),
          head.rest,
        );
      }
      upstream = await this.dial();
      if (!upstream) {
        if (this.mode === "connect") {
          await writeAll(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        }
        return;
      }
      if (this.closed) return; // closed while dialling: the finally below closes it
      this.conns.add(upstream);
      if (this.mode === "connect") {
        await writeAll(client, "HTTP/1.1 200 Connection Established\r\n\r\n");
      }
      if (forward.length > 0) await writeAll(upstream, forward);
      await Promise.allSettled([
        client.readable.pipeTo(upstream.writable),
        upstream.readable.pipeTo(client.writable),
      ]);
    } catch {
      // a broken pipe on either side ends this relay connection; fetch reports the error
    } finally {
      if (upstream) {
        this.conns.delete(upstream);
        closeQuietly(upstream);
      }
    }
  }

  /** The first checked address that accepts a TCP connection. */
  private async dial(): Promise<Deno.Conn | undefined> {
    for (const a of this.addresses) {
      if (this.closed) return undefined;
      const signal = AbortSignal.timeout(CONNECT_TIMEOUT_MS);
      try {
        return await Deno.connect({ hostname: a.address, port: this.port, signal });
      } catch (err) {
        this.lastError = `${a.address} port ${this.port}: ${describeConnectError(err)}`;
      }
    }
    return undefined;
  }
}

function describeConnectError(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof DOMException && err.name === "TimeoutError") return "connect timed out";
  return (err as Error).message?.replace(/ \(os error \d+\)/, "") ?? String(err);
}

/** `http://host:port/path?q` -> `/path?q`, only when it names the expected host:port. */
function originForm(target: string | undefined, authority: string): string | undefined {
  if (!target) return undefined;
  if (target.startsWith("/")) return target;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  if (`${url.hostname.toLowerCase()}:${port}` !== authority) return undefined;
  return url.pathname + url.search;
}

async function readHead(
  conn: Deno.Conn,
): Promise<{ bytes: Uint8Array; rest: Uint8Array } | undefined> {
  let buf: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (buf.length < MAX_HEAD_BYTES) {
    const n = await conn.read(chunk);
    if (n === null) return undefined;
    buf = concat(buf, chunk.subarray(0, n));
    const end = indexOfCrlfCrlf(buf);
    if (end >= 0) return { bytes: buf.subarray(0, end + 4), rest: buf.subarray(end + 4) };
  }
  return undefined;
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
