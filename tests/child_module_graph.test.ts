/**
 * The supervised runner child loads neither the CLI parser (commander) nor
 * the YAML parser: its supervisor hands it the parsed settings and config
 * (lib/sandbox/handoff.ts). A guard on the modules the child evaluates at
 * start: main.ts's and lib/sandbox/child.ts's static imports (Deno
 * evaluates a dynamic import only when it runs). The CLI's graph is the
 * control: the same walk must find both parsers there.
 */
import { fileURLToPath } from "node:url";
import { expect } from "./deps.ts";
import { denoInfo } from "./support/deno_info.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Info {
  roots: string[];
  modules: {
    specifier: string;
    kind?: string;
    dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
  }[];
}

/** Every module `entry` imports statically, transitively (npm packages by their specifier). */
async function staticGraph(entry: string): Promise<string[]> {
  const info = await denoInfo<Info>(entry, ROOT);
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) todo.push(d.code.specifier);
    }
  }
  return [...seen].map((s) =>
    s.startsWith(`file://${ROOT}`) ? s.slice(`file://${ROOT}`.length) : s
  );
}

const PARSERS = /^npm:(commander|yaml)@/;

Deno.test("the supervised child's start-up modules hold no CLI or YAML parser", async () => {
  const loaded = [
    ...await staticGraph("main.ts"),
    ...await staticGraph("lib/sandbox/child.ts"),
  ];
  expect(loaded).toContain("lib/runner.ts");
  expect(loaded.filter((s) => PARSERS.test(s))).toEqual([]);
  expect(loaded).not.toContain("lib/cli.ts");
  expect(loaded).not.toContain("lib/config.ts");
  expect(loaded).not.toContain("lib/deps/yaml.ts");
});

Deno.test("control: the same walk finds both parsers in the CLI's modules", async () => {
  const cli = await staticGraph("lib/cli.ts");
  expect(cli.filter((s) => PARSERS.test(s)).map((s) => s.replace(/@.*/, "")).sort())
    .toEqual(["npm:yaml"]);
  // commander loads only for a command line `run`'s own parser leaves to it (lib/cli.ts)
  expect((await staticGraph("lib/deps/cli.ts")).filter((s) => PARSERS.test(s)))
    .toEqual([expect.stringMatching(/^npm:commander@/)]);
});

// Start-up time (docs/benchmarks.md, "Start-up: where the time goes"): what
// each process needs only later loads later.

Deno.test("the child's start-up modules hold no glob engine and no node:vm/node:v8", async () => {
  const loaded = [
    ...await staticGraph("main.ts"),
    ...await staticGraph("lib/sandbox/child.ts"),
  ];
  // minimatch loads with the first glob, grep or `list` with `ignore`; vm and v8 with
  // the first large frame (lib/sys/gc.ts)
  expect(loaded.filter((s) => /^npm:minimatch@|^node:(vm|v8)$/.test(s))).toEqual([]);
});

Deno.test("the child's start-up modules hold no permission or kernel-rule derivation", async () => {
  const loaded = [
    ...await staticGraph("main.ts"),
    ...await staticGraph("lib/sandbox/child.ts"),
  ];
  expect(loaded).toContain("lib/sandbox/supervised.ts");
  // a reload loads them (lib/runner.ts)
  expect(
    loaded.filter((s) =>
      /^lib\/sandbox\/(supervisor|permissions|landlock_rules|kernel_reload)\.ts$/.test(s)
    ),
  ).toEqual([]);
});

Deno.test("the supervisor's start-up modules hold no transport and no workspace file layer", async () => {
  const loaded = [...await staticGraph("main.ts"), ...await staticGraph("lib/cli.ts")];
  expect(loaded).toContain("lib/sandbox/supervisor.ts");
  expect(
    loaded.filter((s) =>
      /^lib\/wire\/(transport|large_frames|ws_client\w*)\.ts$|^lib\/fs\/workspace\.ts$|^node:(vm|v8|fs)$/
        .test(s)
    ),
  ).toEqual([]);
});

Deno.test("the default transport's modules hold no npm:ws, no proxy agent, no Node network stack", async () => {
  // npm:ws and npm:https-proxy-agent load on the first dial of --transport ws only
  // (dynamic imports in lib/wire/transport.ts and proxy.ts): ~8 MB of RSS (docs/benchmarks.md).
  const loaded = await staticGraph("lib/wire/platform_dial.ts");
  expect(loaded).toContain("lib/wire/ws_client.ts");
  expect(
    loaded.filter((s) =>
      /^npm:(ws|https-proxy-agent)@|^lib\/deps\/(ws|proxy_agent)\.ts$|^node:(net|tls|https?)$/.test(
        s,
      )
    ),
  ).toEqual([]);
  // commander (and the node:fs it imports) only when `run`'s parser leaves a command line to it
  expect(loaded.filter((s) => /^npm:commander@|^lib\/deps\/cli\.ts$/.test(s))).toEqual([]);
});
