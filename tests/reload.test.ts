/**
 * SIGHUP reloads the rules: new rules apply to tasks started after it, a
 * broken file keeps the old rules (logged with file:line), and the runner
 * keeps running. The signal goes to the supervising process, which must
 * pass it on to the sandboxed runner (the real deno binary: the npm shim
 * does not forward signals).
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";

const OLD = `permission:\n  bash:\n    "echo hello": allow\n    "printf *": allow\n`;
const NEW =
  `permission:\n  bash:\n    "echo *": allow\n    "printf *": deny\n    "uptime": allow\n`;
const BROKEN = `permission:\n  bash:\n    "echo *": allow\n    "printf *": maybe\n`;

Deno.test("reload: SIGHUP applies new rules to later tasks; a broken file keeps the old ones", async () => {
  const sim = await PlatformSimulator.start();
  const file = await Deno.makeTempFile({ prefix: "fdr-reload-", suffix: ".yaml" });
  await Deno.writeTextFile(file, OLD);
  const runner = await startRunner({
    url: sim.url,
    token: sim.token,
    args: ["--config", file],
  });
  try {
    await sim.waitForConnection(30_000);
    // The signal goes through the supervisor to its sandboxed child.
    expect(runner.logs()).toMatch(/running the runner with Deno permissions/);
    const verdicts = async () => {
      const out: Record<string, boolean> = {};
      for (const command of ["echo hello", "echo other", "printf x"]) {
        const r = await sim.request("bash", { command });
        if (!r.success) expect(r.error).toMatch(/^command denied/);
        out[command] = r.success;
      }
      return out;
    };
    expect(await verdicts()).toEqual({ "echo hello": true, "echo other": false, "printf x": true });

    await Deno.writeTextFile(file, NEW);
    runner.child.kill("SIGHUP");
    await runner.waitForLog(/config reloaded from .*3 bash rule\(s\)/, 30_000);
    expect(await verdicts()).toEqual({ "echo hello": true, "echo other": true, "printf x": false });
    // `uptime` was not in the rules the sandbox was derived from: said, not hidden.
    expect(runner.logs()).toMatch(/the new rules need --allow-run=\S*uptime; restart the runner/);
    // The kernel domain cannot be widened either: said for the kernel layer too.
    if (probeLandlock().available) {
      expect(runner.logs()).toMatch(
        /kernel layer \(fixed at start\) does not let \S*uptime execute; restart the runner/,
      );
    }

    await Deno.writeTextFile(file, BROKEN);
    runner.child.kill("SIGHUP");
    const line = await runner.waitForLog(/config reload failed; keeping the old rules: .*/, 30_000);
    expect(line).toContain(`${file}:4:`);
    expect(await verdicts()).toEqual({ "echo hello": true, "echo other": true, "printf x": false });

    expect(sim.connected).toBe(true);
    expect(runner.logs()).not.toMatch(/SIGTERM received|SIGHUP received/);
  } finally {
    expect(await runner.stop("SIGTERM")).toBe(0);
    await sim.close();
  }
});

Deno.test("reload: SIGHUP without a config file changes nothing and says so", async () => {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token, args: ["--no-sandbox"] });
  try {
    await sim.waitForConnection(30_000);
    expect(runner.logs()).toMatch(/WARN .*no config file \(--config\): every command is denied/);
    runner.child.kill("SIGHUP");
    await runner.waitForLog(/no config file was given \(--config\); nothing to reload/, 30_000);
    const r = await sim.request("bash", { command: "echo hi" });
    expect(r.success).toBe(false);
  } finally {
    expect(await runner.stop("SIGTERM")).toBe(0);
    await sim.close();
  }
});

Deno.test({
  name: "reload: rules that allow less narrow the kernel layer for later programs too",
  ignore: !probeLandlock().available,
  async fn() {
    // `sort` is allowed before and after; it runs its --compress-program itself, which the
    // rules cannot see. Before the reload the kernel lets the canary execute (exec_paths);
    // after a reload without it, the kernel refuses it even though the rules allow sort.
    const sim = await PlatformSimulator.start();
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-narrow-" }));
    const ws = `${dir}/ws`;
    await Deno.mkdir(ws);
    const canary = `${dir}/canary`;
    await Deno.writeTextFile(canary, `#!/bin/sh\necho started >> ${ws}/started\nexit 0\n`);
    await Deno.chmod(canary, 0o755);
    await Deno.writeTextFile(
      `${ws}/big.txt`,
      Array.from({ length: 40_000 }, (_, i) => `${(i * 7919) % 40_000}`).join("\n"),
    );
    const rules = `permission:\n  bash:\n    "sort *": allow\n    "cat *": allow\n`;
    const file = `${dir}/config.yaml`;
    await Deno.writeTextFile(file, `${rules}  exec_paths: ["${canary}", "/bin", "/usr/bin"]\n`);
    const runner = await startRunner({
      url: sim.url,
      token: sim.token,
      workspace: ws,
      args: ["--config", file],
    });
    const sortViaCanary = async () => {
      await Deno.remove(`${ws}/started`).catch(() => {});
      await sim.request("bash", { command: `sort -S 1K --compress-program=${canary} big.txt` });
      return await Deno.stat(`${ws}/started`).then(() => true, () => false);
    };
    try {
      await sim.waitForConnection(30_000);
      expect(await sortViaCanary()).toBe(true); // the control: the kernel allowed it at start
      await Deno.writeTextFile(file, rules);
      runner.child.kill("SIGHUP");
      await runner.waitForLog(/kernel layer \(Landlock\) narrowed to the new rules/, 30_000);
      expect(await sortViaCanary()).toBe(false);
      // the runner and its allowed programs still work under the stacked domain
      const r = await sim.request("bash", { command: "sort big.txt | cat | sort -n | cat" });
      expect(r.success).toBe(true);
    } finally {
      expect(await runner.stop("SIGTERM")).toBe(0);
      await sim.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
