/**
 * A minimal RFC 6455 server for the transport benchmark: it answers every
 * complete message with one tiny ack frame, on a socket whose TCP_NODELAY
 * is really set, so that a Nagle/delayed-ACK stall the benchmark sees comes
 * from the client, not from the server.
 *
 * Why hand-written on node:net/node:tls: the socket option and the exact
 * writes must be under our control. `Deno.listen` sets TCP_NODELAY on
 * accepted sockets but `Deno.listenTls` does not and gives no setter (a
 * split-write ack over it stalls ~44 ms, measured), while node's
 * `socket.setNoDelay(true)` works in Deno for both. `splitWrites` writes
 * each ack's header and payload separately: with Nagle on, the second write
 * waits for the peer's delayed ACK, which is how the benchmark proves the
 * option is in force (and, with `noDelay: false`, that the check can fail).
 */
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const HEADER_END = Buffer.from("\r\n\r\n");

export interface AckServerOptions {
  /** PEM certificate and key: serve wss:// instead of ws:// */
  tls?: { cert: string; key: string };
  /** write each ack as two writes (header, then payload); see the module comment */
  splitWrites?: boolean;
  /** TCP_NODELAY on accepted sockets; default true. false only for the control run */
  noDelay?: boolean;
}

export interface AckServer {
  /** ws://127.0.0.1:PORT/ or wss://localhost:PORT/ (the certificate names localhost) */
  url: string;
  close(): Promise<void>;
}

/** The ack a message of `size` bytes gets; clients check `size` to catch framing bugs. */
export function ackText(size: number): string {
  return `{"type":"ack","size":${size}}`;
}

export async function startAckServer(opts: AckServerOptions = {}): Promise<AckServer> {
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    socket.setNoDelay(opts.noDelay ?? true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    serve(socket, opts.splitWrites ?? false);
  };
  const server: Server = opts.tls
    ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, onSocket)
    : createTcpServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: opts.tls ? `wss://localhost:${port}/` : `ws://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One connection: the HTTP upgrade, then frames, parsed as bytes arrive. */
function serve(socket: Socket, splitWrites: boolean): void {
  let buf: Buffer = Buffer.alloc(0);
  let upgraded = false;
  let message = 0; // bytes of the message being assembled from fragments
  const send = (opcode: number, payload: Buffer, split: boolean) => {
    const header = Buffer.from([0x80 | opcode, payload.length]); // server frames are < 126 bytes
    if (split) {
      socket.write(header);
      socket.write(payload);
    } else socket.write(Buffer.concat([header, payload]));
  };
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (!upgraded) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) return;
      const request = buf.subarray(0, end).toString("latin1");
      buf = buf.subarray(end + HEADER_END.length);
      const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(request)?.[1];
      if (!key) {
        socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      upgraded = true;
    }
    for (;;) {
      const frame = parseFrame(buf);
      if (frame === null) return;
      buf = buf.subarray(frame.length);
      switch (frame.opcode) {
        case 0x0: // continuation
        case 0x1: // text
        case 0x2: // binary
          message += frame.payloadLength;
          if (frame.fin) {
            send(0x1, Buffer.from(ackText(message)), splitWrites);
            message = 0;
          }
          break;
        case 0x8: // close: echo the status code, then hang up
          send(0x8, frame.payload().subarray(0, 2), false);
          socket.end();
          return;
        case 0x9: // ping
          send(0xa, frame.payload(), false);
          break;
        default: // pong, reserved: nothing to answer
          break;
      }
    }
  });
}

interface ParsedFrame {
  fin: boolean;
  opcode: number;
  payloadLength: number;
  /** total bytes of the frame in the buffer */
  length: number;
  /** the unmasked payload (only control frames need it) */
  payload(): Buffer;
}

function parseFrame(buf: Buffer): ParsedFrame | null {
  if (buf.length < 2) return null;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const maskAt = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const start = off;
  return {
    fin: (buf[0] & 0x80) !== 0,
    opcode: buf[0] & 0x0f,
    payloadLength: len,
    length: off + len,
    payload() {
      const p = Buffer.from(buf.subarray(start, start + len));
      if (masked) { for (let i = 0; i < p.length; i++) p[i] ^= buf[maskAt + (i & 3)]; }
      return p;
    },
  };
}

/**
 * Starts the server in its own process, as the platform would be: on the
 * same thread as the client it would compete with the client under test.
 * The process stops when its stdin closes (`close()`, or our own exit).
 */
export async function spawnAckServer(
  opts: { tlsDir?: string; splitWrites?: boolean; noDelay?: boolean } = {},
): Promise<AckServer> {
  const perms = ["--allow-net=127.0.0.1"];
  const args = ["--serve"];
  if (opts.tlsDir) {
    perms.push(`--allow-read=${opts.tlsDir}`);
    args.push("--tls-dir", opts.tlsDir);
  }
  if (opts.splitWrites) args.push("--split-writes");
  if (opts.noDelay === false) args.push("--nagle");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, new URL(import.meta.url).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`ack server exited: ${(await child.status).code}`);
    first += value;
  }
  const stdin = child.stdin.getWriter();
  return {
    url: first.trim(),
    async close() {
      await stdin.close();
      await child.status;
      await lines.cancel();
    },
  };
}

async function serveMain(args: string[]): Promise<void> {
  const at = args.indexOf("--tls-dir");
  const dir = at >= 0 ? args[at + 1] : undefined;
  const server = await startAckServer({
    tls: dir
      ? {
        cert: await Deno.readTextFile(`${dir}/cert.pem`),
        key: await Deno.readTextFile(`${dir}/key.pem`),
      }
      : undefined,
    splitWrites: args.includes("--split-writes"),
    noDelay: !args.includes("--nagle"),
  });
  console.log(server.url);
  for await (const _ of Deno.stdin.readable) { /* run until the parent closes our stdin */ }
  await server.close();
}

if (import.meta.main && Deno.args[0] === "--serve") await serveMain(Deno.args.slice(1));
