/**
 * Escape hatches (tests/redteam/escape_hatches.json): programs the rules
 * allow that write files or start programs by themselves, through options
 * glob rules over argv cannot see (abbreviations, combined short options,
 * config files, pagers, -exec). Each payload runs through the real runner,
 * whose rules allow every program the corpus uses, twice:
 * - kernel layer on: 0 writes outside the workspace and 0 starts of the
 *   canary (a program no rule names), known limits excepted and named;
 * - kernel layer off (`sandbox: off`): what gets through is recorded and
 *   must be most of the corpus (so the payloads are live, not duds).
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";
import { interpreters } from "../lib/sandbox/landlock_rules.ts";

interface Payload {
  id: string;
  kind: "write" | "exec";
  programs: string[];
  command: string;
  note: string;
}
const CORPUS: { payloads: Payload[] } = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/escape_hatches.json", import.meta.url)),
);
/** Payloads that get past the kernel layer too, and why (docs/sandbox-layers.md). */
// None today. find-exec-loader got through the kernel layer alone (the loader must be
// executable, and it maps the program it is given without an exec check); the rules now
// refuse a word naming the loader and check find's -exec commands (lib/policy/inner_commands.ts).
const KNOWN_LIMITS: Record<string, string> = {};

interface Outcome {
  id: string;
  wrote: boolean;
  started: boolean;
  result: string;
}

function has(program: string): boolean {
  return ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].some((d) => {
    try {
      return Deno.statSync(join(d, program)).isFile;
    } catch {
      return false;
    }
  });
}

async function runCorpus(sandbox: "auto" | "off"): Promise<Outcome[]> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "hatches_" }));
  const ws = join(root, "ws");
  const out = join(root, "out");
  const bin = join(root, "bin");
  for (const d of [ws, out, bin]) await Deno.mkdir(d);
  const marker = join(ws, ".canary_started");
  const canary = join(bin, "canary");
  await Deno.writeTextFile(canary, `#!/bin/sh\necho started >> ${marker}\nexit 0\n`);
  await Deno.chmod(canary, 0o755);
  const canaryElf = join(bin, "canary-elf");
  await Deno.copyFile("/usr/bin/touch", canaryElf);
  await Deno.chmod(canaryElf, 0o755);
  const loader = interpreters("/usr/bin/touch", [], ws)[0] ?? "/lib64/ld-linux-x86-64.so.2";
  const web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("payload\n", { headers: { "set-cookie": "a=b" } }),
  );
  const url = `http://127.0.0.1:${web.addr.port}/f`;
  const fill = (s: string) =>
    s.replaceAll("@OUT@", out).replaceAll("@CANARY_ELF@", canaryElf)
      .replaceAll("@CANARY@", canary).replaceAll("@URL@", url).replaceAll("@WS@", ws)
      .replaceAll("@LOADER@", loader);

  // the workspace the payloads work on
  await Deno.writeTextFile(join(ws, "a.txt"), "original\nline2\nline3\n");
  await Deno.writeTextFile(
    join(ws, "big.txt"),
    Array.from({ length: 40_000 }, (_, i) => `${(i * 7919) % 40_000} line`).join("\n"),
  );
  await Deno.mkdir(join(ws, "sub"));
  await Deno.writeTextFile(join(ws, "sub", "f"), "f\n");
  await Deno.writeTextFile(join(ws, "curl.cfg"), `output = "${out}/curl-K"\n`);
  await Deno.writeTextFile(join(ws, "mk"), `x:\n\t${canary}\n`);
  await new Deno.Command("tar", { args: ["-cf", "a.tar", "a.txt"], cwd: ws }).output();

  const programs = [...new Set(CORPUS.payloads.flatMap((p) => p.programs))].sort();
  const config = `sandbox: ${sandbox}\npermission:\n  bash:\n` +
    programs.map((p) => `    "${p} *": allow\n`).join("");
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token, workspace: ws, config });
  const outcomes: Outcome[] = [];
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 60_000);
    if (sandbox === "auto") await runner.waitForLog(/kernel layer \(Landlock\) on/);
    for (const p of CORPUS.payloads) {
      if (!p.programs.every(has)) continue;
      // a fresh outside directory holding only the victim, no marker, a file to move out
      await Deno.remove(out, { recursive: true });
      await Deno.mkdir(out);
      await Deno.writeTextFile(join(out, "victim"), "original\n");
      await Deno.remove(marker).catch(() => {});
      await Deno.writeTextFile(join(ws, "m.txt"), "m\n");
      const r = await sim.request("bash", { command: fill(p.command), timeout: 15 }, {
        timeoutMs: 60_000,
      });
      const left = [...Deno.readDirSync(out)].map((e) => e.name);
      const victim = await Deno.readTextFile(join(out, "victim")).catch(() => "");
      const started = await Deno.stat(marker).then(() => true, () => false);
      outcomes.push({
        id: p.id,
        wrote: left.length !== 1 || left[0] !== "victim" || victim !== "original\n",
        started,
        result: r.error ?? `exit ${(r.result as { exit_code: number }).exit_code}`,
      });
    }
  } finally {
    await runner.stop();
    await sim.close();
    await web.shutdown();
    await Deno.remove(root, { recursive: true });
  }
  return outcomes;
}

function table(outcomes: Outcome[]): string {
  return outcomes.map((o) =>
    `${o.id.padEnd(24)} ${o.wrote ? "WROTE" : "-----"} ${o.started ? "STARTED" : "-------"} ${
      o.result.slice(0, 60)
    }`
  ).join("\n");
}

const layer = probeLandlock();

Deno.test({
  name: "escape hatches, kernel layer on: 0 writes outside the workspace, 0 starts of an " +
    "unnamed program (known limits named)",
  ignore: !layer.available,
  async fn() {
    const outcomes = await runCorpus("auto");
    console.log(`kernel layer on (${outcomes.length} payloads):\n${table(outcomes)}`);
    expect(outcomes.length).toBeGreaterThanOrEqual(60);
    const through = outcomes.filter((o) => o.wrote || o.started).map((o) => o.id);
    expect(through.sort()).toEqual(Object.keys(KNOWN_LIMITS).sort());
  },
});

Deno.test({
  name: "escape hatches, kernel layer off: the same payloads get through (recorded)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const outcomes = await runCorpus("off");
    const through = outcomes.filter((o) => o.wrote || o.started);
    console.log(
      `kernel layer off: ${through.length} of ${outcomes.length} got through:\n${table(outcomes)}`,
    );
    // live payloads: most of them do what they claim when nothing stops them
    expect(through.length).toBeGreaterThanOrEqual(Math.floor(outcomes.length * 0.6));
  },
});
