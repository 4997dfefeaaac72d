/**
 * How the compiled policy reaches operations: compiled once, swappable,
 * never carrying the token; and the one metadata list every layer blocks.
 */
import { expect } from "./deps.ts";
import { Dispatcher } from "../lib/tasks/dispatcher.ts";
import { parseConfig } from "../lib/config.ts";
import { logger } from "../lib/log.ts";
import { Workspace } from "../lib/fs/workspace.ts";
import { decodeEnvelope, envelope, type TaskResultPayload } from "../lib/wire/protocol.ts";
import type { OperationContext } from "../lib/tasks/context.ts";
import { openServices } from "../lib/tasks/services.ts";
import { compilePolicy, type Policy } from "../lib/policy/mod.ts";
import { METADATA_ENDPOINTS } from "../lib/policy/blocked_addresses.ts";
import { compileUrlPolicy } from "../lib/policy/url_policy.ts";
import { derivePermissions, METADATA_HOSTS, toDenoFlags } from "../lib/sandbox/permissions.ts";

const TOKEN = "wnt_the_runner_token_0123456789";

/** Every string reachable from `root` through own properties (cycles followed once). */
function reachableStrings(root: unknown): string[] {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") out.push(v);
    if ((typeof v !== "object" && typeof v !== "function") || v === null || seen.has(v)) return;
    seen.add(v);
    for (const key of Reflect.ownKeys(v as object)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      if (d && "value" in d) walk(d.value);
    }
  };
  walk(root);
  return out;
}

/** A frame as the connection hands it over: decoded once, at the edge. */
function inbound(type: string, payload: unknown) {
  return decodeEnvelope(envelope(type as "task.request", payload));
}

Deno.test("operations get the compiled policy, never the config or its token; a swap reaches new tasks", async () => {
  const config = parseConfig(
    `token: ${TOKEN}\npermission:\n  bash:\n    "ls *": allow\n  webfetch:\n    "*": deny\n`,
    "c.yaml",
  );
  const dir = await Deno.makeTempDir();
  const seen: OperationContext[] = [];
  const results: TaskResultPayload[] = [];
  const current: { policy: Policy } = { policy: compilePolicy(config) };
  await using services = openServices({ log: logger("test") });
  const d = new Dispatcher({
    workspace: await Workspace.open(dir),
    policy: () => current.policy,
    services,
    log: logger("test"),
    operations: {
      capture: (_args, ctx) => {
        seen.push(ctx);
        return Promise.resolve({});
      },
    },
    sink: {
      result: (p) => {
        results.push(p);
        answered?.resolve();
      },
      mcpResult: () => {},
      output: () => {},
    },
  });
  let answered: PromiseWithResolvers<void> | undefined;
  const run = async (id: string) => {
    answered = Promise.withResolvers();
    d.handle(inbound("task.request", { task_id: id, operation: "capture", args: {} }));
    await answered.promise;
  };
  try {
    await run("t1");
    await run("t2");
    expect(results.map((r) => r.success)).toEqual([true, true]);
    // compiled once: both tasks hold the same object
    expect(seen[0].policy).toBe(current.policy);
    expect(seen[1].policy).toBe(seen[0].policy);
    expect("config" in seen[0]).toBe(false);
    for (const ctx of seen) {
      expect(reachableStrings(ctx).filter((s) => s.includes(TOKEN))).toEqual([]);
    }
    // a reload swaps the compiled object; the next task sees the new one
    current.policy = compilePolicy(parseConfig('permission:\n  bash:\n    "*": allow\n', "c.yaml"));
    await run("t3");
    expect(seen[2].policy).toBe(current.policy);
    expect(seen[2].policy.command.trusted).toBe(true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every metadata endpoint is refused by webfetch's check and named in --deny-net", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const rules of [undefined, [{ pattern: "*", action: "allow" as const }]]) {
      const policy = compileUrlPolicy(rules);
      for (const { host } of METADATA_ENDPOINTS) {
        const url = new URL(`http://${host.includes(":") ? `[${host}]` : host}/latest/`);
        await expect(policy.check(url)).rejects.toThrow(/^url denied: .*(metadata|link-local)/);
      }
    }
    const perms = derivePermissions({
      config: parseConfig('permission:\n  webfetch:\n    "https://*": allow\n', "c.yaml"),
      workspace: dir,
      platformUrl: "wss://platform.example/ws",
    });
    const denyNet = toDenoFlags(perms).find((f) => f.startsWith("--deny-net="))!;
    const denied = denyNet.slice("--deny-net=".length).split(",");
    expect(denied).toEqual([...METADATA_HOSTS]);
    for (const { host } of METADATA_ENDPOINTS) {
      expect(denied).toContain(host.includes(":") ? `[${host}]` : host);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
