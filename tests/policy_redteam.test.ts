/**
 * Red-team corpora for the compiled policies, as data:
 * tests/redteam/url_rules.json (webfetch rules read as URL components) and
 * tests/redteam/deny_rules.json (deny rules that fail closed).
 */
import { expect } from "./deps.ts";
import type { Rule } from "../lib/config.ts";
import { compileUrlPolicy } from "../lib/policy/url_policy.ts";
import { compileCommandPolicy } from "../lib/policy/command_policy.ts";
import { runBash } from "../lib/bash/run.ts";
import { context, withWorkspace } from "./bash_support.ts";

interface Corpus<C> {
  rules: Record<string, Rule[]>;
  cases: C[];
}
type UrlCase = { rules: string; url: string; expect: "allow" | "deny"; class: string };
type ArgvCase = { rules: string; argv: string[]; expect: "allow" | "deny" };

const load = async <C>(name: string): Promise<Corpus<C>> =>
  JSON.parse(await Deno.readTextFile(new URL(`./redteam/${name}`, import.meta.url)));

Deno.test("red team: webfetch rules match parsed, normalised URL components", async () => {
  const corpus = await load<UrlCase>("url_rules.json");
  expect(corpus.cases.length).toBeGreaterThanOrEqual(30);
  const policies = Object.fromEntries(
    Object.entries(corpus.rules).map(([k, rules]) => [k, compileUrlPolicy(rules)]),
  );
  const wrong = corpus.cases.filter((c) =>
    policies[c.rules].decide(new URL(c.url)).action !== c.expect
  );
  expect(wrong).toEqual([]);
});

Deno.test("red team: a URL the rules deny is refused by the whole check, with the rule named", async () => {
  const corpus = await load<UrlCase>("url_rules.json");
  const policy = compileUrlPolicy(corpus.rules.readme);
  for (const c of corpus.cases.filter((c) => c.rules === "readme" && c.expect === "deny")) {
    await expect(policy.check(new URL(c.url))).rejects.toThrow(
      /^url denied: .*permission\.webfetch/,
    );
  }
});

Deno.test("red team: deny rules match base names and ignore case; allow rules stay exact", async () => {
  const corpus = await load<ArgvCase>("deny_rules.json");
  const policies = Object.fromEntries(
    Object.entries(corpus.rules).map(([k, rules]) => [k, compileCommandPolicy(rules)]),
  );
  const wrong = corpus.cases.filter((c) => policies[c.rules].check(c.argv).action !== c.expect);
  expect(wrong).toEqual([]);
});

Deno.test("red team: the bash operation refuses every denied argv before anything runs", async () => {
  const corpus = await load<ArgvCase>("deny_rules.json");
  await withWorkspace(async (ws) => {
    for (const c of corpus.cases.filter((c) => c.expect === "deny")) {
      const spawned: string[] = [];
      await expect(
        runBash({ command: c.argv.join(" ") }, context(ws, corpus.rules[c.rules]), {
          onSpawn: (_argv, program) => spawned.push(program),
        }),
      ).rejects.toThrow(/^command denied: /);
      expect(spawned).toEqual([]);
    }
  });
});
