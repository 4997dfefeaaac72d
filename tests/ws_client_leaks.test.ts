/**
 * The tcp transport's client lets go of what it opened: file descriptors
 * counted in /proc/self/fd before and after 200 connect/close cycles, 200
 * upgrades refused for a wrong Sec-WebSocket-Accept, 200 refused connects
 * and 50 handshake timeouts (ws://). The cycles run in a process of their
 * own (tests/support/ws_client_cycles.ts): the count is the process's, and
 * other test files run beside this one. A leak of one descriptor a cycle
 * shows as 200. Timers and ops are Deno.test's sanitizers' to check.
 */
import { expect } from "./deps.ts";

const SLACK = 8;

async function cycles(which: string): Promise<{ before: number; after: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./support/ws_client_cycles.ts", import.meta.url).pathname, which],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("tcp client: 200 connect/close cycles leave no descriptor open", async () => {
  const { before, after } = await cycles("connect-close");
  expect(after - before).toBeLessThanOrEqual(SLACK);
});

Deno.test("tcp client: 200 refused upgrades, 200 refused connects and 50 timeouts leave no descriptor open", async () => {
  const { before, after } = await cycles("failed-dials");
  expect(after - before).toBeLessThanOrEqual(SLACK);
});
