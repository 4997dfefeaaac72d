/**
 * The seed's usage lines under the release binary's baked flags: main.ts is
 * run under exactly the flags tools/compile.ts bakes (`deno compile` cannot
 * run here), and `version`, `run --token X`, `run --token X --workspace
 * ~/projects` and `--url` work: the default workspace under a HOME the
 * compile step never knew is created and written, while the kernel layer
 * confines what commands write to it.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { compileFlags } from "../tools/compile.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { MAIN } from "./support/runner.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";
import { VERSION } from "../lib/ops/version.ts";

const FLAGS = compileFlags(Deno.build.os === "darwin" ? "darwin" : "linux");

Deno.test("baked flags: `version` prints the version", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, MAIN, "version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  expect(new TextDecoder().decode(out.stdout).trim()).toMatch(
    new RegExp(`^flashduty-runner ${VERSION.replaceAll(".", "\\.")} \\(commit \\S+, built `),
  );
  expect(out.code).toBe(0);
});

for (const workspaceArg of [undefined, "~/projects"] as const) {
  Deno.test({
    name: `baked flags: run --token X${
      workspaceArg ? ` --workspace ${workspaceArg}` : ""
    } --url ... serves, writes its workspace, and commands write nowhere else`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "baked_home_" }));
      const outside = join(home, "outside");
      await Deno.mkdir(outside);
      const config = join(home, "config.yaml");
      await Deno.writeTextFile(config, 'permission:\n  bash:\n    "touch *": allow\n');
      const sim = await PlatformSimulator.start();
      // a shell would expand ~ before the runner sees it
      const ws = workspaceArg
        ? join(home, "projects")
        : join(home, ".flashduty-runner", "workspace");
      const args = ["run", "--token", sim.token, "--url", sim.url, "--config", config];
      if (workspaceArg) args.push("--workspace", ws);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...FLAGS, MAIN, ...args],
        env: { HOME: home, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let logs = "";
      const pump = (async () => {
        for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) logs += c;
      })();
      const drain = child.stdout.cancel();
      try {
        await sim.waitFor((e) => e.type === "heartbeat", 60_000);
        const w = await sim.request("write", { path: "a.txt", content: btoa("hi\n") });
        expect(w.success).toBe(true);
        expect(await Deno.readTextFile(join(ws, "a.txt"))).toBe("hi\n");
        const inside = await sim.request("bash", { command: "touch b.txt" });
        expect(inside.result).toMatchObject({ exit_code: 0 });
        const escape = await sim.request("bash", { command: `touch ${outside}/x` });
        if (probeLandlock().available) {
          // the rules allow it (touch *); the kernel refuses it
          expect(escape.result).toMatchObject({ exit_code: 1 });
          expect([...Deno.readDirSync(outside)]).toEqual([]);
        }
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await pump;
        await drain;
        await sim.close();
        await Deno.remove(home, { recursive: true });
      }
      if (probeLandlock().available) expect(logs).toContain("kernel layer (Landlock) on");
    },
  });
}
