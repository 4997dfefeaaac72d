/**
 * Restricted mode against bash on real investigation commands (tests/corpus/):
 * every read-only command the shipped examples accept must answer exactly as
 * bash does (stdout and exit code) unless known.json lists that very
 * difference with a reason, and no host-changing command may run.
 *
 * `CORPUS_WRITE_KNOWN=1 deno test --allow-all tests/corpus_fidelity.test.ts`
 * rewrites known.json from the current differences (reasons already written
 * are kept; new ones say TODO and must be filled in).
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { makeFixture } from "./corpus/fixture.ts";
import type { BashResult } from "../lib/wire/protocol.ts";
import {
  constructs,
  type Entry,
  examplePolicies,
  EXAMPLES,
  figures,
  fingerprint,
  judge,
  KNOWN_PATH,
  knownFor,
  loadCorpus,
  loadKnown,
  type Outcome,
  report,
  runCorpus,
  underRunner,
} from "./corpus/corpus.ts";

Deno.test("corpus: at least 300 sourced commands, 100 of them host-changing, none twice", () => {
  const corpus = loadCorpus();
  expect(corpus.length).toBeGreaterThanOrEqual(300);
  expect(corpus.filter((e) => e.kind === "host-changing").length).toBeGreaterThanOrEqual(100);
  expect(new Set(corpus.map((e) => e.id)).size).toBe(corpus.length);
  expect(new Set(corpus.map((e) => e.command)).size).toBe(corpus.length);
  for (const e of corpus) {
    expect({ id: e.id, kind: ["read-only", "host-changing"].includes(e.kind) }).toEqual({
      id: e.id,
      kind: true,
    });
    expect(e.source.title.length).toBeGreaterThan(0);
    expect(e.source.url.length).toBeGreaterThan(0);
  }
  // Host-changing commands name their programs bare: the tripwire PATH then
  // catches every one of them (an absolute path would reach the real program).
  for (const e of corpus.filter((e) => e.kind === "host-changing")) {
    expect({ id: e.id, absolute: /(^|[|;&]\s*)\//.test(e.command) }).toEqual({
      id: e.id,
      absolute: false,
    });
  }
});

Deno.test("corpus: constructs are named per command", () => {
  expect(constructs("uptime")).toEqual(["plain"]);
  expect(constructs("cd var/log && grep -i error *.log | tail -5")).toEqual([
    "pipe |",
    "&&",
    "cd",
    "glob",
  ]);
  expect(constructs('count=$(grep -c x f); echo "$count"')).toContain("$(...)");
  expect(constructs("grep x f || true")).toEqual(["||", "|| true"]);
  expect(constructs("awk '$9 > 5 {print $1}' f")).toEqual(["plain"]);
  expect(constructs("LC_ALL=C sort f")).toEqual(["NAME=value cmd"]);
});

Deno.test({
  name: "corpus: the runner answers as bash does, and nothing host-changing runs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const corpus = loadCorpus();
    const outcomes = await runCorpus(corpus, { concurrency: 6, timeout: 30 });
    console.log(report(outcomes));
    if (Deno.env.get("CORPUS_WRITE_KNOWN") === "1") {
      const known = await knownFor(outcomes, loadKnown());
      Deno.writeTextFileSync(KNOWN_PATH, JSON.stringify(known, null, 2) + "\n");
      console.log(`wrote ${Object.keys(known).length} entries to ${KNOWN_PATH}`);
    }
    const failures = await judge(outcomes, loadKnown());
    for (const f of failures) console.log(`FAIL ${f.id} ${JSON.stringify(f.command)}: ${f.why}`);
    expect(figures(outcomes).hostChangingRan).toBe(0);
    expect(failures).toEqual([]);
  },
});

Deno.test({
  name:
    "corpus: a sample through the real runner process over the simulator answers as the operation does",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Every 25th read-only command of the Linux example: the in-process operation the
    // corpus test uses, against the runner a user starts (main.ts run, the config file,
    // a WebSocket task), in the same fixture.
    const sample = loadCorpus().filter((e) => e.kind === "read-only" && !/kubectl/.test(e.command))
      .filter((_, i) => i % 25 === 0);
    const fx = await makeFixture();
    const policy = (await examplePolicies())["readonly-linux.yaml"];
    const sim = await PlatformSimulator.start();
    const runner = await startRunner({
      url: sim.url,
      token: sim.token,
      workspace: fx.workspace,
      args: ["--config", EXAMPLES + "readonly-linux.yaml"],
      env: fx.env("read-only"),
    });
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 60_000);
      for (const e of sample) {
        const inProcess = await underRunner(e.command, fx, policy, "read-only", 30);
        const r = await sim.request("bash", { command: e.command }, { timeoutMs: 60_000 });
        const wire = r.success
          ? {
            ran: true,
            stdout: (r.result as BashResult).stdout,
            code: (r.result as BashResult).exit_code,
          }
          : { ran: false };
        const local = inProcess.status === "ran"
          ? { ran: true, stdout: inProcess.stdout, code: inProcess.code }
          : { ran: false };
        expect({ id: e.id, ...wire }).toEqual({ id: e.id, ...local });
        if (!r.success) expect(r.error).toMatch(/command denied/);
      }
    } finally {
      await runner.stop();
      await sim.close();
      await fx.remove();
    }
  },
});

// judge() decides what fails: these hold it against lists that would hide something.

const entry = (id: string, kind: Entry["kind"] = "read-only"): Entry => ({
  id,
  command: `cmd ${id}`,
  kind,
  source: { title: "t", url: "u" },
});

function outcome(id: string, bash: string, runner: string, kind: Entry["kind"] = "read-only") {
  const o: Outcome = {
    entry: entry(id, kind),
    example: "readonly-linux.yaml",
    constructs: ["plain"],
    bash: kind === "read-only" ? { stdout: bash, code: 0 } : undefined,
    runner: { status: "ran", stdout: runner, code: 0 },
    markers: [],
    ms: 0,
  };
  if (o.bash) o.identical = bash === runner;
  return o;
}

async function knownOf(o: Outcome, reason = "r") {
  return {
    command: o.entry.command,
    reason,
    bash: await fingerprint(o.bash!),
    runner: await fingerprint(o.runner),
  };
}

Deno.test("corpus judge: a difference fails unless known.json lists that very difference", async () => {
  const same = outcome("a", "x\n", "x\n");
  const diff = outcome("b", "x\n", "y\n");
  expect(await judge([same], {})).toEqual([]);
  expect((await judge([diff], {})).map((f) => f.id)).toEqual(["b"]);
  expect(await judge([diff], { b: await knownOf(diff) })).toEqual([]);
});

Deno.test("corpus judge: the list cannot hide a new regression in a listed command", async () => {
  const before = outcome("b", "x\n", "y\n");
  const known = { b: await knownOf(before) };
  // the same command now differs in another way: a new regression, not the excused one
  const after = outcome("b", "x\n", "z\n");
  const f = await judge([after], known);
  expect(f.map((x) => x.why)).toEqual([expect.stringContaining("in a new way")]);
  // bash's side changed (the fixture moved): the entry must be looked at again
  expect((await judge([outcome("b", "w\n", "y\n")], known)).length).toBe(1);
  // the corpus command was edited under the same id
  const edited = { ...before, entry: { ...before.entry, command: "other" } };
  expect((await judge([edited], known)).length).toBe(1);
});

Deno.test("corpus judge: stale and dangling entries fail, so the list only shrinks honestly", async () => {
  const fixed = outcome("b", "x\n", "x\n");
  const stale = { b: await knownOf(outcome("b", "x\n", "y\n")) };
  expect((await judge([fixed], stale)).map((f) => f.why)).toEqual([
    expect.stringContaining("no longer differs"),
  ]);
  const dangling = { zz: await knownOf(outcome("zz", "x\n", "y\n")) };
  expect((await judge([fixed], dangling)).map((f) => f.id)).toEqual(["zz"]);
});

Deno.test("corpus judge: a host-changing command that ran fails, whatever known.json says", async () => {
  const ran = outcome("h", "", "", "host-changing");
  ran.markers = ["kubectl-change"];
  const f = await judge([ran], {});
  expect(f.map((x) => x.why)).toEqual([expect.stringContaining("changed something")]);
  // a read-only command that left a marker fails too (a mislabelled entry)
  const ro = outcome("r", "x\n", "x\n");
  ro.markers = ["rm-ran"];
  expect((await judge([ro], {})).length).toBe(1);
  // bash could not even run it: a missing stub, not a runner result
  const missing = outcome("m", "", "");
  missing.bash = { stdout: "", code: 127 };
  expect((await judge([missing], {})).map((x) => x.why)).toEqual([
    expect.stringContaining("command not found"),
  ]);
});
