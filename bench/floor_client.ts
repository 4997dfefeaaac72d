/**
 * The floor a runner is measured against: a minimal Deno + npm:ws program
 * that speaks just enough of docs/protocol.md to answer the benchmark. A `read`
 * reads the file and replies with its base64; a `bash` spawns `true` and
 * replies with its exit code (a bare spawn plus a bare WebSocket echo).
 *
 * Usage: deno run -A bench/floor_client.ts <ws url> <workspace>
 */
import { NodeWebSocket } from "../lib/deps/ws.ts";

const [url, workspace] = Deno.args;
const ws = new NodeWebSocket(url);
let n = 0;
const envelope = (type: string, payload: unknown) =>
  JSON.stringify({ id: `msg_floor${++n}`, type, payload, timestamp: Date.now() });

ws.on("open", () => ws.send(envelope("heartbeat", { worknode_id: "", name: "floor" })));
ws.on("message", async (data: Buffer) => {
  const msg = JSON.parse(String(data));
  if (msg.type !== "task.request") return;
  const { task_id, operation, args } = msg.payload;
  if (operation === "read") {
    const bytes = Deno.readFileSync(`${workspace}/${args.path}`);
    const result = { content: bytes.toBase64(), total_size: bytes.length };
    ws.send(envelope("task.result", { task_id, success: true, result }));
  } else if (operation === "bash") {
    const { code } = await new Deno.Command("true", { stdin: "null" }).output();
    ws.send(envelope("task.result", { task_id, success: true, result: { exit_code: code } }));
  }
});
ws.on("close", () => Deno.exit(0));
