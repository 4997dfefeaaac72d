/**
 * Transport benchmark (`deno task bench:transport`): the round trip of one runner
 * message through each WebSocket client of lib/wire/transport.ts, against a
 * server with TCP_NODELAY really set (bench/ack_server.ts), next to a raw
 * TCP baseline doing the same byte exchange, over ws:// and wss://.
 *
 * The client sends a task.result-shaped JSON message of 100 B, 2 KB, 16 KB
 * and 300 KB; the server answers each whole message with a tiny ack. The
 * figures are medians and 90th percentiles over --iterations round trips.
 *
 * wss:// runs in a child process started with `--cert <CA>` so both
 * clients trust the on-the-fly certificate through Deno's own root store,
 * exactly as a runner pointed at a private CA would (`DENO_CERT`/`--cert`).
 *
 * Usage: deno run --allow-all bench/transport_bench.ts [--iterations N] [--no-wss] [--json]
 */
import { join } from "node:path";
import { type Dialer, dialNative, dialWs } from "../lib/wire/transport.ts";
import { dialTcp } from "../lib/wire/ws_client.ts";
import { ackText, spawnAckServer } from "./ack_server.ts";
import { makeTestPki } from "../tests/support/tls.ts";

const DEFAULT_SIZES = [100, 2048, 16 * 1024, 300 * 1024];
const WARMUP = 5;
/** a split-write ack slower than this means the server's TCP_NODELAY is not in force */
const NODELAY_SUSPECT_MS = 10;

type Scheme = "ws" | "wss";
type ClientName = "raw" | "tcp" | "ws" | "native";

const CLIENT_LABEL: Record<ClientName, string> = {
  raw: "raw TCP (baseline)",
  tcp: "own client (dialTcp)",
  ws: "npm:ws (dialWs)",
  native: "native (dialNative)",
};

interface Stats {
  median: number;
  p90: number;
  mean: number;
  n: number;
}

interface Row {
  scheme: Scheme;
  size: number;
  client: ClientName;
  stats: Stats;
}

interface ServerCheck {
  scheme: Scheme;
  /** split-write acks from a server with TCP_NODELAY: must be fast */
  noDelay: Stats;
  /** the same with TCP_NODELAY cleared: the control, must stall */
  control: Stats;
}

interface SchemeResult {
  rows: Row[];
  check: ServerCheck;
}

/** A client under test: send one message, await the next text message. */
interface BenchClient {
  send(text: string): Promise<void>;
  next(): Promise<string>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseArgs(args: string[]) {
  const opts = {
    iterations: 100,
    sizes: DEFAULT_SIZES,
    wss: true,
    json: false,
    child: false,
    certDir: "",
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--iterations") opts.iterations = Number(args[++i]);
    else if (a === "--sizes") opts.sizes = args[++i].split(",").map(Number);
    else if (a === "--no-wss") opts.wss = false;
    else if (a === "--json") opts.json = true;
    else if (a === "--child-wss") {
      opts.child = true;
      opts.certDir = args[++i];
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.iterations) || opts.iterations < 1) {
    throw new Error("--iterations must be a positive integer");
  }
  if (opts.sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error("--sizes must be a comma-separated list of byte counts");
  }
  return opts;
}

/**
 * A task.result envelope of exactly `size` bytes (ASCII). Sizes below a
 * full envelope (~150 B) use the smallest valid one: short id and
 * timestamp, no result (omitted as empty), the task id padded.
 */
export function taskResultOfSize(size: number): string {
  const full = (stdout: string) =>
    JSON.stringify({
      id: "msg_bench0000000000000000000",
      type: "task.result",
      payload: {
        task_id: "task_bench",
        success: true,
        result: { stdout, stderr: "", exit_code: 0 },
      },
      timestamp: 1732500000000,
    });
  const small = (taskId: string) =>
    JSON.stringify({
      id: "msg_1",
      type: "task.result",
      payload: { task_id: taskId, success: true },
      timestamp: 1,
    });
  const fullOverhead = full("").length;
  if (size >= fullOverhead) return full("x".repeat(size - fullOverhead));
  const smallOverhead = small("").length;
  if (size < smallOverhead + 1) {
    throw new Error(`the smallest message is ${smallOverhead + 1} bytes`);
  }
  return small("t".repeat(size - smallOverhead));
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {
    median: at(0.5),
    p90: at(0.9),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    n: s.length,
  };
}

async function roundTrips(client: BenchClient, size: number, iterations: number): Promise<Stats> {
  const message = taskResultOfSize(size);
  const expected = ackText(encoder.encode(message).length);
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + iterations; i++) {
    const t0 = performance.now();
    await client.send(message);
    const ack = await client.next();
    const dt = performance.now() - t0;
    if (ack !== expected) throw new Error(`bad ack ${ack} (expected ${expected})`);
    if (i >= WARMUP) samples.push(dt);
  }
  return stats(samples);
}

/** Wraps one of lib/transport.ts's dialers. */
async function dialClient(dial: Dialer, url: string): Promise<BenchClient> {
  const queue: string[] = [];
  let waiter: ((text: string) => void) | undefined;
  let closed: (() => void) | undefined;
  const closedP = new Promise<void>((resolve) => (closed = resolve));
  const socket = await dial(url, {
    onMessage(text) {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(text);
      } else queue.push(text);
    },
    onClose: () => closed!(),
  }, { headers: {}, timeoutMs: 10_000, maxPayload: 64 * 1024 * 1024 });
  return {
    send: (text) => socket.send(text),
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise<string>((resolve) => (waiter = resolve)),
    async close() {
      socket.close(1000, "done");
      await Promise.race([closedP, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}

/**
 * The baseline: a TCP socket with TCP_NODELAY (TLS on top for wss) that
 * does the upgrade itself and sends each message as one ready-made masked
 * frame in a single write: the least any WebSocket client could cost.
 */
async function rawClient(url: string, caCerts?: string[]): Promise<BenchClient> {
  const u = new URL(url);
  const tcp = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  tcp.setNoDelay(true); // a socket option: it stays in force under the TLS layer
  const conn: Deno.Conn = u.protocol === "wss:"
    ? await Deno.startTls(tcp, { hostname: u.hostname, caCerts })
    : tcp;
  const reader = new Reader(conn);
  await writeAll(
    conn,
    encoder.encode(
      `GET / HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  const head = decoder.decode(await reader.readUntil(encoder.encode("\r\n\r\n")));
  if (!head.startsWith("HTTP/1.1 101")) {
    throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
  }
  const frames = new Map<string, Uint8Array>();
  return {
    async send(text) {
      let frame = frames.get(text);
      if (!frame) frames.set(text, frame = maskedFrame(encoder.encode(text)));
      await writeAll(conn, frame);
    },
    async next() {
      const h = await reader.read(2);
      if ((h[1] & 0x7f) >= 126) throw new Error("unexpected large server frame");
      return decoder.decode(await reader.read(h[1] & 0x7f));
    },
    close() {
      conn.close();
      return Promise.resolve();
    },
  };
}

function maskedFrame(payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + ext + 4 + len);
  frame[0] = 0x81;
  const view = new DataView(frame.buffer);
  if (ext === 0) frame[1] = 0x80 | len;
  else if (ext === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, len);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(len));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, 2 + ext);
  const at = 2 + ext + 4;
  for (let i = 0; i < len; i++) frame[at + i] = payload[i] ^ mask[i & 3];
  return frame;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Buffered exact reads over a Deno.Conn. */
class Reader {
  private buf = new Uint8Array(0);

  constructor(private readonly conn: Deno.Conn) {}

  private async more(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(this.buf.length + n);
    next.set(this.buf);
    next.set(chunk.subarray(0, n), this.buf.length);
    this.buf = next;
  }

  async read(n: number): Promise<Uint8Array> {
    while (this.buf.length < n) await this.more();
    const out = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return out;
  }

  async readUntil(delim: Uint8Array): Promise<Uint8Array> {
    for (;;) {
      for (let i = 0; i + delim.length <= this.buf.length; i++) {
        if (delim.every((b, j) => this.buf[i + j] === b)) return this.read(i + delim.length);
      }
      await this.more();
    }
  }
}

/** Proves the server's TCP_NODELAY: split-write acks are fast with it, and stall without it. */
async function checkServer(
  scheme: Scheme,
  tlsDir: string | undefined,
  caCerts: string[] | undefined,
  iterations: number,
): Promise<ServerCheck> {
  const measure = async (noDelay: boolean, n: number) => {
    const server = await spawnAckServer({ tlsDir, splitWrites: true, noDelay });
    const client = await rawClient(server.url, caCerts);
    try {
      return await roundTrips(client, 100, n);
    } finally {
      await client.close();
      await server.close();
    }
  };
  return {
    scheme,
    noDelay: await measure(true, iterations),
    control: await measure(false, Math.min(iterations, 20)), // ~44 ms each: keep it short
  };
}

async function runScheme(
  scheme: Scheme,
  iterations: number,
  sizes: number[],
  certDir?: string,
): Promise<SchemeResult> {
  const caCerts = certDir ? [await Deno.readTextFile(join(certDir, "ca.pem"))] : undefined;
  const check = await checkServer(scheme, certDir, caCerts, iterations);
  const server = await spawnAckServer({ tlsDir: certDir });
  const rows: Row[] = [];
  try {
    const clients: Record<ClientName, () => Promise<BenchClient>> = {
      raw: () => rawClient(server.url, caCerts),
      tcp: () => dialClient(dialTcp, server.url),
      ws: () => dialClient(dialWs, server.url),
      native: () => dialClient(dialNative, server.url),
    };
    for (const size of sizes) {
      for (const name of Object.keys(clients) as ClientName[]) {
        const client = await clients[name]();
        try {
          rows.push({
            scheme,
            size,
            client: name,
            stats: await roundTrips(client, size, iterations),
          });
        } finally {
          await client.close();
        }
      }
    }
  } finally {
    await server.close();
  }
  return { rows, check };
}

/** Runs the wss:// half in a child that trusts the CA through `--cert`. */
async function runWssChild(iterations: number, sizes: number[]): Promise<SchemeResult | string> {
  const dir = await Deno.makeTempDir({ prefix: "transport-bench-" });
  try {
    try {
      await makeTestPki(dir, ["DNS:localhost", "IP:127.0.0.1"]);
    } catch (err) {
      return `wss:// skipped: cannot make a certificate (${(err as Error).message.trim()})`;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `--cert=${join(dir, "ca.pem")}`,
        new URL(import.meta.url).pathname,
        "--iterations",
        String(iterations),
        "--sizes",
        sizes.join(","),
        "--child-wss",
        dir,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`wss child failed with code ${out.code}`);
    return JSON.parse(decoder.decode(out.stdout)) as SchemeResult;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ms = (v: number) => v < 10 ? v.toFixed(3) : v.toFixed(1);
const sizeLabel = (n: number) => n >= 1024 && n % 1024 === 0 ? `${n / 1024} KB` : `${n} B`;

function report(results: SchemeResult[], iterations: number, notes: string[]): string {
  const lines: string[] = [];
  lines.push(
    `Round trip: client sends a task.result JSON message, server acks it.`,
    `median / p90 in ms over ${iterations} round trips (after ${WARMUP} warm-up); (x) = median / raw median.`,
    `Deno ${Deno.version.deno}, ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, 127.0.0.1.`,
    "",
  );
  lines.push("Server TCP_NODELAY check (server writes each ack as header + payload):");
  for (const { check } of results) {
    const ok = check.noDelay.median < NODELAY_SUSPECT_MS &&
      check.control.median >= NODELAY_SUSPECT_MS;
    lines.push(
      `  ${check.scheme.padEnd(4)} with TCP_NODELAY ${ms(check.noDelay.median)} ms; ` +
        `control without it ${ms(check.control.median)} ms -> ${ok ? "verified" : "NOT VERIFIED"}`,
    );
  }
  lines.push("");
  const header = [
    "scheme",
    "size",
    ...(["raw", "tcp", "ws", "native"] as ClientName[]).map((c) => CLIENT_LABEL[c]),
  ];
  const table: string[][] = [header];
  for (const { rows } of results) {
    const keys = [...new Set(rows.map((r) => `${r.scheme}|${r.size}`))];
    for (const key of keys) {
      const [scheme, size] = key.split("|");
      const of = (c: ClientName) =>
        rows.find((r) => `${r.scheme}|${r.size}` === key && r.client === c)!;
      const raw = of("raw").stats.median;
      table.push([
        scheme,
        sizeLabel(Number(size)),
        ...(["raw", "tcp", "ws", "native"] as ClientName[]).map((c) => {
          const s = of(c).stats;
          const ratio = c === "raw" ? "" : ` (${(s.median / raw).toFixed(1)}x)`;
          return `${ms(s.median)} / ${ms(s.p90)}${ratio}`;
        }),
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const row of table) lines.push(row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  for (const note of notes) lines.push("", note);
  return lines.join("\n");
}

async function main(): Promise<number> {
  const opts = parseArgs(Deno.args);
  if (opts.child) {
    const result = await runScheme("wss", opts.iterations, opts.sizes, opts.certDir);
    console.log(JSON.stringify(result));
    return 0;
  }
  const results: SchemeResult[] = [await runScheme("ws", opts.iterations, opts.sizes)];
  const notes: string[] = [];
  if (opts.wss) {
    const wss = await runWssChild(opts.iterations, opts.sizes);
    if (typeof wss === "string") notes.push(wss);
    else results.push(wss);
  }
  if (opts.json) {
    console.log(JSON.stringify({ iterations: opts.iterations, results, notes }, null, 2));
  } else console.log(report(results, opts.iterations, notes));
  const verified = results.every(({ check }) =>
    check.noDelay.median < NODELAY_SUSPECT_MS && check.control.median >= NODELAY_SUSPECT_MS
  );
  if (!verified) {
    console.error(
      "the server's TCP_NODELAY could not be verified: these numbers are not trustworthy",
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
