import { expect } from "../../tests/deps.ts";
import { kernelRuleGaps, type KernelRules } from "./landlock_rules.ts";

const rules = (exec: string[] | "all", write: string[]): KernelRules => ({
  exec: exec === "all" ? ["/"] : exec,
  execConfined: exec !== "all",
  write,
  notes: [],
});

Deno.test("kernelRuleGaps: what the reloaded rules need beyond the start domain", () => {
  const start = rules(["/usr/bin/ls", "/opt/tools"], ["/ws", "/dev/null"]);
  expect(kernelRuleGaps(start, start)).toEqual([]);
  // narrower is fine: a domain can always refuse more
  expect(kernelRuleGaps(start, rules(["/usr/bin/ls"], ["/ws"]))).toEqual([]);
  // beneath an entry is covered; a sibling with a shared prefix is not
  expect(kernelRuleGaps(start, rules(["/opt/tools/x", "/opt/toolsX"], ["/ws/sub", "/wsX"])))
    .toEqual([
      "the kernel layer (fixed at start) does not let /opt/toolsX execute",
      "the kernel layer (fixed at start) does not let programs write beneath /wsX",
    ]);
  expect(kernelRuleGaps(start, rules("all", ["/ws"]))).toHaveLength(1);
  // a start domain that did not confine execution has no execution gaps
  expect(kernelRuleGaps(rules("all", ["/ws"]), rules(["/usr/bin/uptime"], ["/ws"]))).toEqual([]);
});
