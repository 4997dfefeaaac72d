import { expect } from "../../tests/deps.ts";
import { decodeHandoff, encodeHandoff, type Handoff, receiveHandoff } from "./handoff.ts";
import { UsageError } from "../settings.ts";

const handoff: Handoff = {
  settings: {
    token: "wnt_tok\nen",
    url: "ws://127.0.0.1:1/ws",
    workspace: "/tmp/ws",
    logLevel: "info",
    logFormat: "text",
    maxConcurrent: 16,
    transport: "ws",
    maxFrameBytes: 1 << 20,
    redactValues: ["secret-value"],
    pingIntervalMs: 30_000,
    metricsAddr: { hostname: "127.0.0.1", port: 9100 },
  },
  config: {
    path: "/etc/fdr.yaml",
    permission: { bash: [{ pattern: "ls *", action: "allow" }], webfetch: undefined },
    sandbox: "require",
  },
};

/** A reader that yields `bytes` in pieces of `size`, then EOF. */
function reader(bytes: Uint8Array, size: number) {
  let at = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(size, p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("hand-off: one line, read back whole across reads, nothing after the newline used", async () => {
  const line = encodeHandoff(handoff);
  expect(line.includes("\n")).toBe(false);
  const bytes = new TextEncoder().encode(line + "\n" + "trailing junk");
  const got = await receiveHandoff(reader(bytes, 7));
  expect(got).toEqual(JSON.parse(JSON.stringify(handoff)));
  expect(got.settings.token).toBe("wnt_tok\nen");
});

Deno.test("hand-off: empty, not JSON or the wrong shape is a usage error (exit 2), never a default", async () => {
  await expect(receiveHandoff(reader(new Uint8Array(), 1))).rejects.toThrow(UsageError);
  expect(() => decodeHandoff("{")).toThrow(/not JSON/);
  // deno-lint-ignore no-explicit-any
  const broken = (f: (h: any) => void) => {
    const h = JSON.parse(encodeHandoff(handoff));
    f(h);
    return () => decodeHandoff(JSON.stringify(h));
  };
  expect(broken((h) => delete h.settings.token)).toThrow(/settings\.token/);
  expect(broken((h) => h.settings.maxConcurrent = "16")).toThrow(/settings\.maxConcurrent/);
  expect(broken((h) => h.config.permission.bash[0].action = "maybe")).toThrow(
    /config\.permission\.bash/,
  );
  expect(broken((h) => h.config.permission.webfetch = "all")).toThrow(/permission\.webfetch/);
  expect(broken((h) => delete h.config.permission)).toThrow(/config\.permission/);
});
