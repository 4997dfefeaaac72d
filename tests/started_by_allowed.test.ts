/**
 * What an allowed program would start by itself (tests/redteam/started_by_allowed.json):
 * find's -exec family is checked against the same rules, and no word may hand a
 * program the dynamic loader (lib/policy/inner_commands.ts, dynamic_loader.ts).
 * A payload to refuse must be refused with `command denied` before anything
 * starts; a control must run.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { runBash } from "../lib/bash/run.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import { interpreters } from "../lib/sandbox/landlock_rules.ts";
import { checkWhatItStarts, innerCommands } from "../lib/policy/inner_commands.ts";
import { compileCommandPolicy } from "../lib/policy/command_policy.ts";
import { namesDynamicLoader } from "../lib/policy/dynamic_loader.ts";
import type { Rule } from "../lib/config.ts";
import { context, withWorkspace } from "./bash_support.ts";

interface Payload {
  id: string;
  expect: "deny" | "run";
  command: string;
}
const corpus: { rules: Rule[]; payloads: Payload[] } = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/started_by_allowed.json", import.meta.url)),
);
const loader = interpreters("/usr/bin/ls", [], "/nonexistent")[0];
const linux = Deno.build.os === "linux" && loader !== undefined;

Deno.test({
  name: "started by an allowed program: every payload refused before it starts, every control runs",
  ignore: !linux,
  async fn() {
    await withWorkspace(async (ws) => {
      await Deno.writeTextFile(join(ws.root, "a.txt"), "x\n");
      await Deno.symlink(loader, join(ws.root, "l"));
      const fill = (s: string) =>
        s.replaceAll("@LOADER_REAL@", Deno.realPathSync(loader)).replaceAll("@LOADER@", loader)
          .replaceAll("@LINK@", "l").replaceAll("@WS@", ws.root);
      const wrong: string[] = [];
      for (const p of corpus.payloads) {
        const spawned: string[][] = [];
        let outcome: string;
        try {
          const r = await runBash({ command: fill(p.command) }, context(ws, corpus.rules), {
            onSpawn: (argv) => spawned.push([...argv]),
          });
          outcome = `ran: exit ${r.exit_code}`;
          if (p.expect === "run" && r.exit_code !== 0) {
            wrong.push(`${p.id}: ${outcome} ${r.stderr}`);
          }
        } catch (err) {
          if (!(err instanceof TaskError)) throw err;
          outcome = err.message;
        }
        const refused = outcome.startsWith("command denied");
        if (p.expect === "deny" && !refused) wrong.push(`${p.id}: not refused (${outcome})`);
        if (p.expect === "run" && refused) wrong.push(`${p.id}: refused (${outcome})`);
        // a refused payload started nothing the refusal was about
        if (p.expect === "deny" && spawned.some((a) => /find|tar|sort|git|ls|cat/.test(a[0]))) {
          wrong.push(`${p.id}: started ${JSON.stringify(spawned)}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(await Deno.readTextFile(join(ws.root, "a.txt"))).toBe("x\n");
    });
  },
});

Deno.test("innerCommands: find's -exec family, up to `;` or `{} +`", () => {
  expect(innerCommands(["find", ".", "-exec", "rm", "{}", ";"])).toEqual([["rm", "{}"]]);
  expect(innerCommands(["find", ".", "-execdir", "grep", "-l", "x", "{}", "+"])).toEqual([
    ["grep", "-l", "x"],
  ]);
  expect(innerCommands(["find", ".", "-ok", "a", ";", "-okdir", "b", "{}", ";"])).toEqual([
    ["a"],
    ["b", "{}"],
  ]);
  // `+` not after `{}` is an argument; no terminator runs to the end (find refuses it, we check it)
  expect(innerCommands(["find", ".", "-exec", "x", "+", "y", ";"])).toEqual([["x", "+", "y"]]);
  expect(innerCommands(["/usr/bin/find", ".", "-exec", "rm", "a"])).toEqual([["rm", "a"]]);
  expect(innerCommands(["find", ".", "-name", "-exec"])).toEqual([[]]);
  expect(innerCommands(["grep", "-exec", "rm", ";"])).toEqual([]);
});

Deno.test("checkWhatItStarts: an empty -exec command is refused, not skipped", () => {
  const policy = compileCommandPolicy(corpus.rules);
  const checks = checkWhatItStarts(policy, ["find", ".", "-exec", ";"], "/");
  expect(checks.map((c) => c.decision.action)).toEqual(["deny"]);
});

Deno.test({
  name: "namesDynamicLoader: by name, by path, through a symlink; ordinary words pass",
  ignore: !linux,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.symlink(loader, join(dir, "innocent"));
      await Deno.writeTextFile(join(dir, "plain"), "x");
      expect(namesDynamicLoader(["x", loader], dir)).toBe(loader);
      expect(namesDynamicLoader(["./innocent"], dir)).toBe("./innocent");
      expect(namesDynamicLoader([`--prog=${dir}/innocent`], "/")).toBe(`--prog=${dir}/innocent`);
      expect(namesDynamicLoader(["./plain", "ld", "ldd", "/etc/ld.so.conf", "ld.so.cache"], dir))
        .toBeUndefined();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
