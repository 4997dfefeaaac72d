import { expect } from "../../tests/deps.ts";
import { ResultStore } from "./result_store.ts";

Deno.test("result store: every kept value comes back as JSON gives it, across many shared buffers", () => {
  const store = new ResultStore();
  const values: unknown[] = [];
  for (let i = 0; i < 3000; i++) {
    values.push({
      success: true,
      result: {
        // ASCII, multi-byte, a surrogate pair, a lone surrogate, escapes; sizes past a buffer's end
        content: (i % 2 ? "名" : "x").repeat(i % 997) +
          ["", "é", "名前", "😀", "\ud800", '"\\\n\u0000'][i % 6],
        total_size: i,
        missing: undefined,
      },
    });
  }
  values.push({ success: false, error: "big ".repeat(200_000) }); // its own buffer (past a quarter)
  values.push({ success: true, result: null });
  const kept = values.map((v) => store.put(v));
  // read back only after all were packed: a later value never overwrites an earlier one
  kept.forEach((k, i) => {
    expect(k).toBeDefined();
    expect(store.get(k!)).toEqual(JSON.parse(JSON.stringify(values[i])));
  });
});

Deno.test("result store: what JSON cannot hold is not kept", () => {
  const store = new ResultStore();
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  expect(store.put(cycle)).toBeUndefined();
  expect(store.put({ n: 1n })).toBeUndefined();
  expect(store.put(undefined)).toBeUndefined();
  expect(store.get(store.put({ ok: 1 })!)).toEqual({ ok: 1 });
});
