/**
 * systemd Type=notify and WatchdogSec= through the real runner (supervisor and
 * sandboxed child): a Unix datagram socket stands in for systemd's, bound here
 * through the same libc binding the runner uses.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { openLibc } from "../lib/sys/libc.ts";
import { sdNotify, socketAddress } from "../lib/ops/sd_notify.ts";

const linux = Deno.build.os === "linux";

/** A bound AF_UNIX datagram socket; `drain()` returns the datagrams received so far. */
function notifySocket(path: string) {
  const libc = openLibc({
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
  const fd = libc.symbols.socket(1, 2, 0);
  const addr = socketAddress(path)!;
  if (libc.symbols.bind(fd, addr, addr.length) !== 0) throw new Error(`bind: ${libc.errno()}`);
  const buf = new Uint8Array(4096);
  return {
    drain(): string[] {
      const got: string[] = [];
      while (true) {
        const n = Number(libc.symbols.recv(fd, buf, BigInt(buf.length), 0x40 /* DONTWAIT */));
        if (n < 0) return got;
        got.push(new TextDecoder().decode(buf.subarray(0, n)));
      }
    },
    close() {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}

Deno.test({
  name: "sd_notify: no socket, or a socket nobody listens on, is a quiet no-op",
  ignore: !linux,
  fn() {
    expect(sdNotify("READY=1", undefined)).toBe(false);
    expect(sdNotify("READY=1", "/nonexistent/notify.sock")).toBe(false);
    expect(socketAddress("x".repeat(200))).toBeUndefined();
  },
});

Deno.test({
  name: "sd_notify: the runner says READY=1 after the welcome, keeps the watchdog fed, " +
    "STOPPING=1 on stop; commands never see the socket",
  ignore: !linux,
  async fn() {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sdnotify_" }));
    const path = join(dir, "notify.sock");
    const sock = notifySocket(path);
    const sim = await PlatformSimulator.start({ token: "t0k" });
    const runner = await startRunner({
      url: sim.url,
      config: `permission:\n  bash:\n    "env": allow\n`,
      env: { FLASHDUTY_RUNNER_TOKEN: "t0k", NOTIFY_SOCKET: path, WATCHDOG_USEC: "400000" },
    });
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 60_000);
      const seen: string[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        seen.push(...sock.drain());
        if (seen.includes("READY=1") && seen.filter((m) => m === "WATCHDOG=1").length >= 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toContain("READY=1");
      expect(seen.filter((m) => m === "WATCHDOG=1").length).toBeGreaterThanOrEqual(3);
      const r = await sim.request("bash", { command: "env" }, { timeoutMs: 60_000 });
      const out = JSON.stringify(r);
      expect(out).toContain("PATH=");
      expect(out).not.toContain("NOTIFY_SOCKET");
      expect(out).not.toContain("WATCHDOG_USEC");
    } finally {
      await runner.stop();
      await sim.close();
      const after = sock.drain();
      sock.close();
      await Deno.remove(dir, { recursive: true });
      expect(after).toContain("STOPPING=1");
    }
  },
});
