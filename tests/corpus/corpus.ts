import { fakeContext } from "../support/context.ts";
/**
 * The restricted-mode fidelity corpus: real investigation commands run under
 * bash and through the runner's `bash` operation (the real policy, compiled
 * from the shipped examples), on the deterministic fixture; outcomes compared
 * and summarised per construct. Data: commands.json (the corpus), known.json
 * (accepted differences, each with a reason and the outputs it excuses).
 *
 * Why the operation in-process and not the runner process over the simulator:
 * the outputs compared are those of `runBash` (lib/bash/run.ts), which is the
 * body the dispatcher calls for a `bash` task; the WebSocket round trip adds
 * nothing to stdout or the exit code (tests/protocol_e2e.test.ts holds it),
 * and ~700 commands through it would not fit the time budget on this machine.
 * The corpus test also sends a sample through the real runner process to show
 * the two paths give the same answers.
 */
import { join } from "node:path";
import { loadConfig } from "../../lib/config.ts";
import { compilePolicy, type Policy } from "../../lib/policy/mod.ts";
import { runBash } from "../../lib/bash/run.ts";
import { TaskError } from "../../lib/tasks/errors.ts";
import { Workspace } from "../../lib/fs/workspace.ts";
import { openServices } from "../../lib/tasks/services.ts";
import { logger } from "../../lib/log.ts";

import { type Fixture, makeFixture } from "./fixture.ts";

export type Kind = "read-only" | "host-changing";

export interface Entry {
  id: string;
  command: string;
  kind: Kind;
  source: { title: string; url: string };
}

/** Why the runner refused: syntax it does not interpret, a rule, confinement, a refused NAME=. */
export type Refusal = "syntax" | "rule" | "confinement" | "env";

export type RunnerResult =
  | { status: "ran"; stdout: string; code: number }
  | { status: "refused"; why: Refusal; message: string };

export interface Outcome {
  entry: Entry;
  example: string;
  constructs: string[];
  /** bash's answer (read-only commands the runner accepted: host-changing ones never run under bash) */
  bash?: { stdout: string; code: number };
  runner: RunnerResult;
  /** accepted and the same stdout and exit code as bash */
  identical?: boolean;
  /** markers left behind: something host-changing ran */
  markers: string[];
  /** wall time of the bash run and the runner run, ms */
  ms: number;
}

export interface KnownDifference {
  command: string;
  reason: string;
  /** fingerprints of the two outputs this entry excuses: a different difference is a new regression */
  bash: string;
  runner: string;
}
export type Known = Record<string, KnownDifference>;

const HERE = new URL(".", import.meta.url).pathname;
export const COMMANDS_PATH = join(HERE, "commands.json");
export const KNOWN_PATH = join(HERE, "known.json");
export const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

export function loadCorpus(): Entry[] {
  return JSON.parse(Deno.readTextFileSync(COMMANDS_PATH));
}

export function loadKnown(): Known {
  try {
    return JSON.parse(Deno.readTextFileSync(KNOWN_PATH));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw err;
  }
}

/** Which shipped example a command runs under: kubectl commands under the Kubernetes one. */
export function exampleFor(command: string): string {
  return /\bkubectl\b/.test(command) ? "readonly-kubernetes.yaml" : "readonly-linux.yaml";
}

export async function examplePolicies(): Promise<Record<string, Policy>> {
  const out: Record<string, Policy> = {};
  for (const f of ["readonly-linux.yaml", "readonly-kubernetes.yaml"]) {
    out[f] = compilePolicy(await loadConfig(EXAMPLES + f));
  }
  return out;
}

export function classify(message: string): Refusal {
  if (/unsupported shell syntax|shell syntax error/.test(message)) return "syntax";
  if (/path escapes workspace|outside the workspace/.test(message)) return "confinement";
  if (/is refused in restricted mode/.test(message)) return "env";
  return "rule";
}

/** The text outside quotes (quoted parts blanked), for the operator tests below. */
function unquoted(cmd: string): string {
  return cmd.replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** The shell constructs a command uses, by name (a command may use several; "plain" if none). */
export function constructs(cmd: string): string[] {
  const u = unquoted(cmd);
  // single quotes keep `$` literal (`awk '{print $(NF-3)}'` is no substitution)
  const q = cmd.replace(/'[^']*'/g, "''");
  const found: string[] = [];
  const add = (name: string, hit: boolean) => hit && found.push(name);
  add("pipe |", /[^|]\|[^|]/.test(u));
  add("&&", u.includes("&&"));
  add("||", u.includes("||"));
  add(";", /;/.test(u.replace(/\\;/g, "")));
  add("redirect >", /(^|[^0-9&<>])>{1,2}\s*[^&>\s]/.test(u.replace(/2>\s*\/dev\/null/g, "")));
  add("< file", /(^|[^<])<\s*[^<(\s]/.test(u));
  add("2>&1", u.includes("2>&1"));
  add("2>/dev/null", /2>\s*\/dev\/null/.test(u));
  add("cd", /(^|[;&|]\s*)cd\s/.test(u));
  add("glob", /(^|\s)[^\s'"=]*[*?[][^\s'"]*/.test(u.replace(/\[\s/g, "")) && !/\{/.test(u));
  add("$VAR", /\$[A-Za-z_]/.test(q));
  add("$?", q.includes("$?"));
  add("$(...)", /\$\((?!\()/.test(q));
  add("`...`", /`/.test(u));
  add("$((...))", q.includes("$(("));
  add("${...}", /\$\{/.test(q));
  add("$'...'", /\$'/.test(cmd));
  add("for", /(^|[;&|]\s*)for\s/.test(u));
  add("while read", /(^|[;&|]\s*)while\s/.test(u));
  add("if", /(^|[;&|]\s*)if\s/.test(u));
  add("[ ]/test", /(^|[;&|]\s*)(\[|test)\s/.test(u));
  add("<<<", u.includes("<<<"));
  add("<(...)", u.includes("<("));
  add("{a,b}", /\{[^}\s]*,[^}\s]*\}/.test(u));
  add("NAME=value cmd", /(^|[;&|]\s*)[A-Za-z_]\w*=\S*\s+[a-z]/.test(u));
  add("NAME=value;", /(^|[;&|]\s*)[A-Za-z_]\w*=[^\s;]*\s*;/.test(u));
  add("export", /(^|[;&|]\s*)export\s/.test(u));
  add("command -v", /(^|[;&|]\s*)command\s/.test(u));
  add("xargs", /\|\s*xargs\b/.test(u));
  add("wrapper (timeout/env/nice)", /(^|[;&|]\s*)(timeout|env|nice|nohup)\b/.test(u));
  add("|| true", /\|\|\s*true\b/.test(u));
  if (found.length === 0) found.push("plain");
  return found;
}

/** A short, stable fingerprint of an output (for known.json). */
export async function fingerprint(o: { stdout: string; code: number } | RunnerResult) {
  const text = "status" in o && o.status === "refused"
    ? `refused:${o.why}`
    : `${(o as { code: number }).code}\n${(o as { stdout: string }).stdout}`;
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export interface RunOptions {
  concurrency: number;
  /** per-command limit, seconds (bash and the runner alike) */
  timeout: number;
}

/** Runs every entry; outcomes in corpus order. */
export async function runCorpus(entries: Entry[], opts: RunOptions): Promise<Outcome[]> {
  const policies = await examplePolicies();
  const names = new Set(entries.flatMap((e) => e.command.match(/[A-Za-z][\w.+-]*/g) ?? []));
  const outcomes: Outcome[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    const fx = await makeFixture(names);
    try {
      while (next < entries.length) {
        const i = next++;
        outcomes[i] = await runOne(entries[i], fx, policies, opts.timeout);
      }
    } finally {
      await fx.remove();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return outcomes;
}

async function runOne(
  entry: Entry,
  fx: Fixture,
  policies: Record<string, Policy>,
  timeout: number,
): Promise<Outcome> {
  const example = exampleFor(entry.command);
  const outcome: Outcome = {
    entry,
    example,
    constructs: constructs(entry.command),
    runner: { status: "refused", why: "rule", message: "" },
    markers: [],
    ms: 0,
  };
  const t0 = performance.now();
  fx.clearMarkers();
  // The runner goes first: bash is only needed for what the runner accepted. Rewriting the
  // workspace costs more than most commands, so it happens only after a run that may have
  // written (the listing is only taken for host-changing commands).
  const writes = mayWrite(entry.command);
  const before = entry.kind === "host-changing" ? fx.snapshot() : "";
  outcome.runner = await underRunner(entry.command, fx, policies[example], entry.kind, timeout);
  outcome.markers = fx.ranMarkers();
  if (before && fx.snapshot() !== before) {
    // the runner itself writes redirect targets: a host-changing `: > var/log/syslog` shows here
    outcome.markers.push("workspace-changed");
    await fx.reset();
  } else if (writes) await fx.reset();
  if (entry.kind === "read-only" && outcome.runner.status === "ran") {
    outcome.bash = await underBash(entry.command, fx, timeout);
    outcome.markers.push(...fx.ranMarkers().filter((m) => !outcome.markers.includes(m)));
    if (writes) await fx.reset();
  }
  outcome.ms = Math.round(performance.now() - t0);
  // The fixture lives in a fresh temp dir: its path in an output becomes `$FIXTURE`, so
  // outputs (and known.json's fingerprints) are the same from run to run.
  const base = fx.workspace.slice(0, fx.workspace.lastIndexOf("/"));
  if (outcome.bash) outcome.bash.stdout = outcome.bash.stdout.replaceAll(base, "$FIXTURE");
  if (outcome.runner.status === "ran") {
    outcome.runner.stdout = outcome.runner.stdout.replaceAll(base, "$FIXTURE");
  }
  if (outcome.bash && outcome.runner.status === "ran") {
    outcome.identical = outcome.bash.stdout === outcome.runner.stdout &&
      outcome.bash.code === outcome.runner.code;
  }
  return outcome;
}

/** Whether a command may write into the workspace (a redirect to a file, or a writing program). */
function mayWrite(command: string): boolean {
  const u = command.replace(/2>&1|[12]?>\s*\/dev\/null/g, "");
  return /[<>]/.test(u) || /\b(tee|sed|sort|rm|mv|cp|touch|truncate|find|gzip|tar|split)\b/.test(u);
}

async function underBash(command: string, fx: Fixture, timeout: number) {
  const signal = AbortSignal.timeout(timeout * 1000);
  const child = new Deno.Command("/bin/bash", {
    args: ["-c", command],
    cwd: fx.workspace,
    clearEnv: true,
    env: fx.env("read-only"),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    signal,
  }).spawn();
  const out = await child.output();
  return { stdout: new TextDecoder().decode(out.stdout), code: signal.aborted ? 124 : out.code };
}

/** Outcome of the `bash` operation under `policy`, with the fixture's environment. */
export async function underRunner(
  command: string,
  fx: Fixture,
  policy: Policy,
  kind: Kind,
  timeout: number,
): Promise<RunnerResult> {
  const services = openServices({ log: logger("corpus") });
  const ctx = fakeContext({
    workspace: await Workspace.open(fx.workspace),
    policy,
    log: logger("corpus"),
    taskId: "corpus",
    services,
  });
  try {
    const r = await runBash({ command, timeout }, ctx, { env: fx.env(kind) });
    return { status: "ran", stdout: r.stdout, code: r.exit_code };
  } catch (err) {
    if (!(err instanceof TaskError)) throw err;
    return { status: "refused", why: classify(err.message), message: err.message };
  } finally {
    await services[Symbol.asyncDispose]();
  }
}

export interface Failure {
  id: string;
  command: string;
  why: string;
}

/**
 * What fails the corpus test: a host-changing command that ran; a read-only
 * command that changed something; an accepted read-only command whose answer
 * differs from bash's, unless known.json lists that very difference; a known
 * entry that no longer applies (so the list cannot hide anything); a corpus
 * entry bash itself cannot run (a missing stub).
 */
export async function judge(outcomes: Outcome[], known: Known): Promise<Failure[]> {
  const failures: Failure[] = [];
  const fail = (o: Outcome, why: string) =>
    failures.push({ id: o.entry.id, command: o.entry.command, why });
  const seen = new Set<string>();
  for (const o of outcomes) {
    if (o.markers.length > 0) {
      fail(o, `${o.entry.kind} command changed something: ${o.markers.join(", ")}`);
    }
    if (o.entry.kind !== "read-only" || !o.bash) continue;
    if (o.bash.code === 127) fail(o, "bash: command not found (the fixture lacks a stub)");
    const k = known[o.entry.id];
    if (k) seen.add(o.entry.id);
    if (o.identical !== false) {
      if (k) fail(o, "listed in known.json but no longer differs: remove the entry");
      continue;
    }
    if (!k) {
      fail(o, `differs from bash: ${describeDifference(o)}`);
      continue;
    }
    const [b, r] = [await fingerprint(o.bash), await fingerprint(o.runner)];
    if (k.command !== o.entry.command || k.bash !== b || k.runner !== r) {
      fail(
        o,
        `differs from bash in a new way (known.json excuses another difference): ${
          describeDifference(o)
        }`,
      );
    }
  }
  for (const id of Object.keys(known)) {
    if (!seen.has(id)) {
      failures.push({ id, command: known[id].command, why: "known.json names no such difference" });
    }
  }
  return failures;
}

export function describeDifference(o: Outcome): string {
  if (o.runner.status !== "ran" || !o.bash) return "refused";
  const clip = (s: string) => JSON.stringify(s.length > 160 ? s.slice(0, 160) + "…" : s);
  return `bash exit ${o.bash.code} ${clip(o.bash.stdout)}; runner exit ${o.runner.code} ${
    clip(o.runner.stdout)
  }`;
}

/** known.json for the current differences, keeping the reasons already written. */
export async function knownFor(outcomes: Outcome[], old: Known): Promise<Known> {
  const out: Known = {};
  for (const o of outcomes) {
    if (o.identical !== false || !o.bash) continue;
    out[o.entry.id] = {
      command: o.entry.command,
      reason: old[o.entry.id]?.command === o.entry.command
        ? old[o.entry.id].reason
        : "TODO: say why the runner's answer differs",
      bash: await fingerprint(o.bash),
      runner: await fingerprint(o.runner),
    };
  }
  return out;
}

export interface Figures {
  readOnly: number;
  accepted: number;
  identical: number;
  refusedSyntax: number;
  refusedRule: number;
  refusedOther: number;
  hostChanging: number;
  hostChangingRefused: number;
  hostChangingRan: number;
}

export function figures(outcomes: Outcome[]): Figures {
  const ro = outcomes.filter((o) => o.entry.kind === "read-only");
  const hc = outcomes.filter((o) => o.entry.kind === "host-changing");
  const refused = (why: Refusal[]) =>
    ro.filter((o) => o.runner.status === "refused" && why.includes(o.runner.why)).length;
  return {
    readOnly: ro.length,
    accepted: ro.filter((o) => o.runner.status === "ran").length,
    identical: ro.filter((o) => o.identical === true).length,
    refusedSyntax: refused(["syntax"]),
    refusedRule: refused(["rule", "env"]),
    refusedOther: refused(["confinement"]),
    hostChanging: hc.length,
    hostChangingRefused: hc.filter((o) => o.runner.status === "refused").length,
    hostChangingRan: hc.filter((o) => o.markers.length > 0).length,
  };
}

const pct = (n: number, d: number) => d === 0 ? "-" : `${(100 * n / d).toFixed(1)}%`;

/** The report printed by the corpus test: totals, then one line per construct. */
export function report(outcomes: Outcome[]): string {
  const f = figures(outcomes);
  const lines = [
    `read-only commands: ${f.readOnly}; accepted ${f.accepted} (${pct(f.accepted, f.readOnly)})`,
    `  identical to bash: ${f.identical}/${f.accepted} = ${
      pct(f.identical, f.accepted)
    } (fidelity)`,
    `  refused for syntax: ${f.refusedSyntax} (${pct(f.refusedSyntax, f.readOnly)})`,
    `  refused by a rule: ${f.refusedRule} (${pct(f.refusedRule, f.readOnly)})`,
    `  refused for confinement: ${f.refusedOther} (${pct(f.refusedOther, f.readOnly)})`,
    `host-changing commands: ${f.hostChanging}; refused ${f.hostChangingRefused}; ran ${f.hostChangingRan}`,
    "",
    "read-only, per construct: n  accepted  identical  refused-syntax  refused-rule",
  ];
  const by = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    if (o.entry.kind !== "read-only") continue;
    for (const c of o.constructs) by.set(c, [...(by.get(c) ?? []), o]);
  }
  for (const [c, os] of [...by].sort((a, b) => b[1].length - a[1].length)) {
    const acc = os.filter((o) => o.runner.status === "ran").length;
    const same = os.filter((o) => o.identical).length;
    const syn = os.filter((o) => o.runner.status === "refused" && o.runner.why === "syntax").length;
    const rule = os.filter((o) =>
      o.runner.status === "refused" && (o.runner.why === "rule" || o.runner.why === "env")
    ).length;
    lines.push(
      `  ${c.padEnd(28)} ${String(os.length).padStart(4)} ${String(acc).padStart(9)} ${
        String(same).padStart(10)
      } ${String(syn).padStart(15)} ${String(rule).padStart(13)}`,
    );
  }
  return lines.join("\n") + "\n";
}
