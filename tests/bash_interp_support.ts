/**
 * The differential helper: a script runs under real bash and through the
 * restricted interpreter on the same fixture workspace, with the same
 * environment; stdout and the exit status must be the same.
 */
import type { Rule } from "../lib/config.ts";
import { runBash } from "../lib/bash/run.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { context } from "./bash_support.ts";

/** Read-only programs the differential tests may start (the gate still checks each argv). */
export const INTERP_RULES: Rule[] = [
  { pattern: "*", action: "deny" },
  ...[
    "echo *",
    "ls *",
    "cat *",
    "grep *",
    "head *",
    "tail *",
    "wc *",
    "sort *",
    "uniq *",
    "printf *",
    "tr *",
    "cut *",
    "seq *",
    "pwd",
    "basename *",
    "dirname *",
    "sleep *",
    "sh -c *",
    "date *",
    "LC_ALL=C sort *",
  ].map((pattern) => ({ pattern, action: "allow" as const })),
];

/** A small deterministic tree: logs, configs, names with spaces. */
export async function fixture(root: string): Promise<void> {
  const files: Record<string, string> = {
    "var/log/app.log": "INFO start\nERROR disk full\nINFO retry\nERROR timeout\n",
    "var/log/sys.log": "kernel: ok\nkernel: error: eth0 down\n",
    "var/log/old/archive.log": "ERROR old\n",
    "etc/hosts": "127.0.0.1 localhost\n10.0.0.2 db\n",
    "etc/app.conf": "port=8080\nhost=db\nmode=ro\n",
    "data/a b.txt": "spaced\n",
    "data/list.txt": "alpha\nbeta\ngamma\n",
    "data/pairs.txt": "k1 v1\nk2 v2 extra\n",
    "data/passwd": "root:x:0:0:root:/root:/bin/bash\nsvc:x:1000:1000::/home/svc:/bin/sh\n",
  };
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
}

export interface Outcome {
  stdout: string;
  exit: number;
}

export function envFor(root: string): Record<string, string> {
  return { HOME: root, LANG: "C", LC_ALL: "C", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
}

export async function underBash(script: string, root: string): Promise<Outcome> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd: root,
    clearEnv: true,
    env: { ...envFor(root), PWD: root },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { stdout: new TextDecoder().decode(out.stdout), exit: out.code };
}

export async function underRunner(
  script: string,
  ws: Workspace,
  rules: Rule[] = INTERP_RULES,
  spawned?: string[][],
): Promise<Outcome & { stderr: string }> {
  const r = await runBash({ command: script, timeout: 60 }, context(ws, rules), {
    env: envFor(ws.root),
    onSpawn: (argv) => spawned?.push([...argv]),
  });
  return { stdout: r.stdout, exit: r.exit_code, stderr: r.stderr };
}

/** A fresh fixture workspace for `fn`, removed afterwards. */
export async function withFixture(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "bash_interp_" });
  try {
    await fixture(root);
    await fn(await Workspace.open(root));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
