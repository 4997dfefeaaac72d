/**
 * Log forging, as an attack on the real runner: every value in
 * tests/redteam/log_values.json (types, ids, names the platform chooses) is
 * sent in a frame, and the runner's whole log must stay genuine records:
 * one record a line, no raw control character, every value capped, no forged
 * line. Run in both log formats.
 */
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { envelope } from "../lib/wire/protocol.ts";
import { capValue, escapeForText, MAX_LOGGED_CHARS } from "../lib/log.ts";

interface Corpus {
  frames: { name: string; type: unknown; payload: unknown }[];
}
const corpus: Corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/log_values.json", import.meta.url)),
);

/** `{repeat, times}` becomes the long string it stands for. */
function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.repeat === "string" && typeof o.times === "number") {
      return o.repeat.repeat(o.times);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expand(x)]));
  }
  return v;
}

const RAW_CONTROL =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const TEXT_RECORD =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) [\w.]+: /;
// a value is at most MAX_LOGGED_CHARS plus the cut marker, and few values share a line
const MAX_LINE = 8 * 1024;

async function attack(format: "text" | "json"): Promise<string[]> {
  const sim = await PlatformSimulator.start();
  const runner = await startRunner({
    url: sim.url,
    token: sim.token,
    args: ["--log-format", format],
  });
  try {
    await sim.waitFor((e) => e.type === "heartbeat");
    for (const f of corpus.frames) {
      sim.sendRaw(
        JSON.stringify({ ...envelope("task.request", expand(f.payload)), type: expand(f.type) }),
      );
    }
    // the runner read every frame before this one, and still serves work
    const ok = await sim.request("list", { path: "." });
    expect(ok.success).toBe(true);
    await runner.waitForLog(/task succeeded/);
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(runner.workspace, { recursive: true });
  }
  return runner.logs().split("\n").filter((l) => l !== "");
}

Deno.test("text logs: every platform-chosen value is escaped and capped; no line is forged", async () => {
  const lines = await attack("text");
  expect(lines.length).toBeGreaterThan(corpus.frames.length);
  for (const line of lines) {
    expect({ line: line.slice(0, 300), record: TEXT_RECORD.test(line) }).toEqual({
      line: line.slice(0, 300),
      record: true,
    });
    expect(RAW_CONTROL.test(line)).toBe(false);
    expect(line.length).toBeLessThan(MAX_LINE);
    // the phrase users grep for is only ever the connection's own record
    const body = line.replace(TEXT_RECORD, "");
    expect(body.startsWith("authentication failed")).toBe(false);
  }
  const all = lines.join("\n");
  expect(all).toContain("unknown type x\\n2026-01-01T00:00:00.000Z ERROR connection");
  expect(all).toContain("…[cut at 200 of 1048576 chars]");
  expect(all).toContain("\\u001b[2J");
});

Deno.test("json logs: one valid object a line, strings capped, separators escaped", async () => {
  const lines = await attack("json");
  let cut = 0;
  for (const line of lines) {
    expect(RAW_CONTROL.test(line)).toBe(false);
    expect(line.length).toBeLessThan(MAX_LINE);
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(typeof record.time).toBe("string");
    expect(typeof record.msg).toBe("string");
    for (const [k, v] of Object.entries(record)) {
      if (typeof v !== "string" || k === "stack" || k === "msg") continue;
      expect(v.length).toBeLessThanOrEqual(MAX_LOGGED_CHARS + 40);
      if (v.includes("…[cut at")) cut++;
    }
  }
  expect(cut).toBeGreaterThan(0);
  expect(lines.some((l) => l.includes("\\u2028"))).toBe(true);
});

Deno.test("capValue and escapeForText: where it was cut, no half surrogate, every control spelled out", () => {
  expect(capValue("a".repeat(250))).toBe(`${"a".repeat(200)}…[cut at 200 of 250 chars]`);
  expect(capValue("short")).toBe("short");
  const emoji = "a".repeat(199) + "😀" + "b";
  expect(capValue(emoji)).toBe(`${"a".repeat(199)}…[cut at 199 of 202 chars]`);
  expect(escapeForText("a\nb\rc\td\u0000e\u001bf\u2028g\u202eh\u0085i")).toBe(
    "a\\nb\\rc\\td\\u0000e\\u001bf\\u2028g\\u202eh\\u0085i",
  );
});
