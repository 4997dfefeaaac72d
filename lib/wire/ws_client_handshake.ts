/**
 * The opening of the runner's own WebSocket client (lib/wire/ws_client.ts):
 * TCP (TCP_NODELAY on: a small frame never waits on Nagle), TLS for wss://
 * through Deno's root store (plus --cert / DENO_CERT), an HTTP CONNECT
 * tunnel when the environment names a proxy, then the RFC 6455 upgrade.
 *
 * Fails closed: only 101 with the right Sec-WebSocket-Accept opens; no
 * redirect is followed; a response head over HEAD_LIMIT bytes (or one that
 * never ends: the caller's timeout) is refused.
 */
import { DialError } from "./transport.ts";
import { writeAll } from "../async/write_all.ts";

/** the largest HTTP response head taken from the platform or the proxy */
export const HEAD_LIMIT = 16 * 1024;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

export interface Head {
  status: number;
  reason: string;
  /** lower-cased names */
  headers: Map<string, string>;
  /** bytes read past the head (the first frames) */
  rest: Uint8Array;
}

/** Reads one HTTP response head, at most HEAD_LIMIT bytes. */
export async function readHead(conn: Deno.Conn, what: string): Promise<Head> {
  const buf = new Uint8Array(HEAD_LIMIT);
  let len = 0;
  let scanFrom = 0;
  while (true) {
    if (len === buf.length) {
      throw new DialError("network", `${what} response head over ${HEAD_LIMIT} bytes`);
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new DialError("network", `${what}: connection closed before a response`);
    len += n;
    for (let i = Math.max(3, scanFrom); i < len; i++) {
      if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
        return parseHead(latin1.decode(buf.subarray(0, i - 3)), buf.slice(i + 1, len), what);
      }
    }
    scanFrom = len;
  }
}

/**
 * A header line's name (RFC 9110 §5.1, a token). A folded line (obs-fold:
 * one starting with a space) and a space before the colon fail it, and so
 * the response: RFC 9112 §5.1-5.2 lets a client refuse both, and a header
 * read one way here and another way by a proxy in between is not accepted.
 */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseHead(text: string, rest: Uint8Array, what: string): Head {
  const [statusLine, ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new DialError("network", `${what}: not an HTTP response`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0 || !FIELD_NAME.test(line.slice(0, colon))) {
      throw new DialError("network", `${what}: malformed response header`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  return { status: Number(m[1]), reason: m[2] ?? "", headers, rest };
}

/** The host and port a URL dials (IPv6 without brackets); wss: and https: default to 443. */
export function target(url: URL): { hostname: string; port: number; tls: boolean } {
  const tls = url.protocol === "wss:" || url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { hostname, port: Number(url.port || (tls ? 443 : 80)), tls };
}

/**
 * The byte stream to the platform: TCP to the platform or, through `proxy`,
 * a CONNECT tunnel; TLS on top for wss://. TLS always starts on our own TCP
 * connection (Deno.startTls) because a Deno.connectTls connection cannot
 * set TCP_NODELAY, and without it a frame TLS splits into two records
 * waits ~40 ms on Nagle (measured: bench:transport, 16 KB over wss://).
 * `track` learns each connection as it opens, so the caller's timeout can
 * close it.
 */
export async function openStream(
  url: URL,
  proxy: URL | undefined,
  track: (conn: Deno.Conn) => void,
): Promise<Deno.Conn> {
  const { hostname, port, tls } = target(url);
  if (tls && abandonedTls >= MAX_ABANDONED_TLS_HANDSHAKES) {
    throw new DialError(
      "exhausted",
      `${abandonedTls} TLS handshakes with the platform timed out, and Deno keeps each one's ` +
        "socket until the peer ends it (denoland/deno#14547); a fresh runner process releases them",
    );
  }
  if (proxy && proxy.protocol !== "http:") {
    throw new DialError(
      "network",
      `unsupported proxy scheme ${proxy.protocol}: this transport tunnels through http:// ` +
        "proxies (use --transport ws for an https:// proxy)",
    );
  }
  const first = proxy ? target(proxy) : { hostname, port };
  const tcp = await Deno.connect({ hostname: first.hostname, port: first.port, transport: "tcp" });
  track(tcp);
  tcp.setNoDelay(true);
  if (proxy) await tunnel(tcp, hostname, port, proxy);
  if (!tls) return tcp;
  const conn = await Deno.startTls(tcp, { hostname });
  track(conn);
  await conn.handshake();
  return conn;
}

/**
 * TLS handshakes given up on (the dial's timeout fired during one). Deno
 * finishes a TLS handshake before it closes the connection
 * (denoland/deno#14547), so each still holds its socket while the peer
 * keeps silent: a peer that accepts TCP and never answers TLS would cost a
 * descriptor a reconnect, without bound. Past this many, a wss:// dial
 * fails with `exhausted` and the runner exits so that its supervisor (or the
 * service manager) starts a fresh process.
 */
export const MAX_ABANDONED_TLS_HANDSHAKES = 16;
let abandonedTls = 0;

/** The dial's timeout fired while the TLS handshake was running. */
export function abandonedTlsHandshake(): void {
  abandonedTls++;
}

/** CONNECT host:port through the proxy `tcp` is connected to; 200 required. */
async function tunnel(tcp: Deno.TcpConn, hostname: string, port: number, proxy: URL) {
  const authority = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username || proxy.password) {
    const user = decodeURIComponent(proxy.username);
    const pass = decodeURIComponent(proxy.password);
    request += `Proxy-Authorization: Basic ${basic(`${user}:${pass}`)}\r\n`;
  }
  await writeAll(tcp, encoder.encode(request + "\r\n"));
  const head = await readHead(tcp, "proxy");
  if (head.status !== 200) {
    throw new DialError("network", `proxy answered HTTP ${head.status} to CONNECT`);
  }
  // The platform speaks only after our request: bytes here are not from it.
  if (head.rest.length > 0) throw new DialError("network", "proxy sent data before the tunnel");
}

/** base64 of a UTF-8 string (btoa takes Latin-1 only) */
function basic(text: string): string {
  return encoder.encode(text).toBase64();
}

/** base64(SHA-1(key + GUID)): the Sec-WebSocket-Accept a server must answer with */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return new Uint8Array(digest).toBase64();
}

function tokens(value: string | undefined): string[] {
  return (value ?? "").split(",").map((t) => t.trim().toLowerCase());
}

/**
 * Sends the upgrade request and checks the answer; returns the bytes read
 * past the response head (frames the server sent at once).
 */
export async function upgrade(
  conn: Deno.Conn,
  url: URL,
  headers: Record<string, string>,
): Promise<Uint8Array> {
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  const lines = [
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name + value)) {
      throw new DialError("network", `header ${JSON.stringify(name)} holds a line break`);
    }
    lines.push(`${name}: ${value}`);
  }
  await writeAll(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
  const head = await readHead(conn, "upgrade");
  if (head.status !== 101) {
    throw head.status === 401 || head.status === 403
      ? new DialError("auth", `HTTP ${head.status} on upgrade`, head.status)
      : new DialError(
        "network",
        `HTTP ${head.status} on upgrade${head.reason ? `: ${head.reason}` : ""}`,
        head.status,
      );
  }
  if (!tokens(head.headers.get("upgrade")).includes("websocket")) {
    throw new DialError("network", "upgrade answered without Upgrade: websocket");
  }
  if (!tokens(head.headers.get("connection")).includes("upgrade")) {
    throw new DialError("network", "upgrade answered without Connection: Upgrade");
  }
  if (head.headers.get("sec-websocket-accept") !== await acceptFor(key)) {
    throw new DialError("network", "invalid Sec-WebSocket-Accept in the upgrade answer");
  }
  // We asked for no extension and no subprotocol: a server that picks one speaks something else.
  if (head.headers.has("sec-websocket-extensions")) {
    throw new DialError("network", "server chose a WebSocket extension the runner did not offer");
  }
  if (head.headers.has("sec-websocket-protocol")) {
    throw new DialError("network", "server chose a subprotocol the runner did not offer");
  }
  return head.rest;
}
