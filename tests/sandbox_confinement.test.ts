/**
 * The second layer on its own: a Deno process started with the flags
 * derived from a config (as the supervisor starts the runner) tries what a
 * bug in the runner's own checks would let through. None of the runner's
 * checks are in the way here: the probes call Deno directly.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { parseConfig } from "../lib/config.ts";
import { derivePermissions, toDenoFlags } from "../lib/sandbox/permissions.ts";

const ERRORS = new URL("../lib/tasks/errors.ts", import.meta.url).href;
const SIGNAL = new URL("../lib/proc/signal.ts", import.meta.url).href;

/** One attempt's outcome, as the probe script reports it. */
interface Outcome {
  ok: boolean;
  value?: string;
  error?: string;
  /** the error's class name (NotCapable for the second layer) */
  kind?: string;
  /** what the platform would be told (lib/tasks/errors.ts errorMessage) */
  message?: string;
}

/**
 * The probe: runs each named attempt and prints `{name: Outcome}` as JSON.
 * Attempts are JavaScript function bodies; `ctx` holds the paths.
 */
function probeScript(attempts: Record<string, string>): string {
  const body = Object.entries(attempts).map(([name, code]) =>
    `results[${JSON.stringify(name)}] = await attempt(async () => { ${code} });`
  ).join("\n");
  return `
import { errorMessage } from ${JSON.stringify(ERRORS)};
import { sendSignal } from ${JSON.stringify(SIGNAL)};
const ctx = JSON.parse(Deno.args[0]);
const results = {};
async function attempt(fn) {
  try {
    const v = await fn();
    return { ok: true, value: v === undefined ? undefined : String(v) };
  } catch (err) {
    return { ok: false, error: err.message, kind: err.constructor.name, message: errorMessage(err) };
  }
}
const run = async (cmd, args) => {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
};
void sendSignal;
${body}
console.log(JSON.stringify(results));
`;
}

interface Sandbox extends AsyncDisposable {
  dir: string;
  workspace: string;
  outside: string;
  /** runs the probe under the flags derived from `yaml`; resolves with its outcomes */
  probe(yaml: string, attempts: Record<string, string>, extra?: Record<string, unknown>): Promise<
    Record<string, Outcome>
  >;
  flags(yaml: string): string[];
}

async function sandbox(platformUrl = "ws://127.0.0.1:9/ws"): Promise<Sandbox> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sandbox_confine_" }));
  const workspace = join(dir, "ws");
  const outside = join(dir, "outside");
  await Deno.mkdir(workspace);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret.txt"), "the host's secret\n");
  await Deno.writeTextFile(join(workspace, "inside.txt"), "workspace file\n");
  const flags = (yaml: string) =>
    toDenoFlags(
      derivePermissions({ config: parseConfig(yaml, "c.yaml"), workspace, platformUrl }),
    );
  return {
    dir,
    workspace,
    outside,
    flags,
    async probe(yaml, attempts, extra = {}) {
      const script = join(dir, `probe_${crypto.randomUUID()}.js`);
      await Deno.writeTextFile(script, probeScript(attempts));
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags(yaml), script, JSON.stringify({ workspace, outside, ...extra })],
        stdout: "piped",
        stderr: "piped",
        env: { SECRET_TOKEN: "s3cr3t" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      if (!out.success) throw new Error(`probe failed (${out.code}): ${stderr}`);
      return JSON.parse(new TextDecoder().decode(out.stdout));
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const RESTRICTED =
  'permission:\n  bash:\n    "*": deny\n    "cat *": allow\n    "sleep *": allow\n';

function denied(o: Outcome, what: RegExp): void {
  expect(o).toMatchObject({ ok: false, kind: "NotCapable" });
  expect(o.error).toMatch(what);
  // what the platform is told names the layer that refused
  expect(o.message).toMatch(/^blocked by the runner's Deno permissions \(second sandbox layer\): /);
}

Deno.test("second layer: no read or write outside the workspace by path, absolute or ..", async () => {
  await using s = await sandbox();
  const r = await s.probe(RESTRICTED, {
    readInside: "return Deno.readTextFile(ctx.workspace + '/inside.txt')",
    writeInside: "await Deno.writeTextFile(ctx.workspace + '/new.txt', 'x'); return 'written'",
    readAbsolute: "return Deno.readTextFile(ctx.outside + '/secret.txt')",
    readDotDot: "return Deno.readTextFile(ctx.workspace + '/../outside/secret.txt')",
    readEtc: "return Deno.readTextFile('/etc/passwd')",
    writeAbsolute: "await Deno.writeTextFile(ctx.outside + '/planted.txt', 'x')",
    writeDotDot: "await Deno.writeTextFile(ctx.workspace + '/../outside/planted.txt', 'x')",
    listOutside: "for await (const e of Deno.readDir(ctx.outside)) return e.name",
    renameOut: "await Deno.rename(ctx.workspace + '/inside.txt', ctx.outside + '/moved.txt')",
    nodeFsRead:
      "return (await import('node:fs/promises')).readFile(ctx.outside + '/secret.txt', 'utf8')",
    tempOutside: "return Deno.makeTempFile()",
  });
  expect(r.readInside).toEqual({ ok: true, value: "workspace file\n" });
  expect(r.writeInside).toEqual({ ok: true, value: "written" });
  denied(r.readAbsolute, /Requires read access to ".*outside\/secret.txt"/);
  denied(r.readDotDot, /Requires read access to ".*outside\/secret.txt"/);
  denied(r.readEtc, /Requires read access to "\/etc\/passwd"/);
  denied(r.writeAbsolute, /Requires write access to ".*outside\/planted.txt"/);
  denied(r.writeDotDot, /Requires write access/);
  denied(r.listOutside, /Requires read access/);
  denied(r.renameOut, /Requires write access/);
  denied(r.nodeFsRead, /Requires read access/);
  denied(r.tempOutside, /Requires write access/);
  // nothing landed outside
  expect([...Deno.readDirSync(s.outside)].map((e) => e.name)).toEqual(["secret.txt"]);
});

Deno.test("second layer: only the programs the rules name can start", async () => {
  await using s = await sandbox();
  const r = await s.probe(RESTRICTED, {
    named: "return run('cat', [ctx.workspace + '/inside.txt'])",
    shell: "return run('sh', ['-c', 'id'])",
    bash: "return run('bash', ['-c', 'id'])",
    absolute: "return run('/bin/sh', ['-c', 'id'])",
    notNamed: "return run('rm', ['-rf', ctx.outside])",
    viaNode:
      "const cp = await import('node:child_process'); cp.execFileSync('touch', [ctx.outside + '/ran'])",
  });
  expect(r.named).toEqual({ ok: true, value: "workspace file" });
  denied(r.shell, /Requires run access to "sh"/);
  denied(r.bash, /Requires run access to "bash"/);
  denied(r.absolute, /Requires run access to "\/bin\/sh"/);
  denied(r.notNamed, /Requires run access to "rm"/);
  // node:child_process (the MCP SDK's launcher) reports the refusal less clearly, but refuses.
  expect(r.viaNode).toMatchObject({
    ok: false,
    error: "Command failed: touch " + s.outside + "/ran",
  });
  expect([...Deno.readDirSync(s.outside)].map((e) => e.name)).toEqual(["secret.txt"]);
});

Deno.test("second layer limit: a symlink inside the workspace reaches outside (the first layer's job)", async () => {
  await using s = await sandbox();
  await Deno.symlink(join(s.outside, "secret.txt"), join(s.workspace, "link"));
  await Deno.symlink(s.outside, join(s.workspace, "dirlink"));
  const r = await s.probe(RESTRICTED, {
    readLink: "return Deno.readTextFile(ctx.workspace + '/link')",
    readThroughDir: "return Deno.readTextFile(ctx.workspace + '/dirlink/secret.txt')",
    writeThroughDir:
      "await Deno.writeTextFile(ctx.workspace + '/dirlink/planted.txt', 'x'); return 'written'",
    makeLink: "await Deno.symlink('/etc/passwd', ctx.workspace + '/mine')",
  });
  // Measured on Deno 2.9: path-scoped flags check the path as named, not where it leads.
  expect(r.readLink).toEqual({ ok: true, value: "the host's secret\n" });
  expect(r.readThroughDir).toEqual({ ok: true, value: "the host's secret\n" });
  expect(r.writeThroughDir).toEqual({ ok: true, value: "written" });
  expect(await Deno.readTextFile(join(s.outside, "planted.txt"))).toBe("x");
  // Creating a symlink needs unscoped read and write, so the runner itself cannot make one.
  denied(r.makeLink, /requires unscoped --allow-read and --allow-write/);
});

Deno.test("second layer limit: a program the runner starts is not confined by Deno's flags", async () => {
  await using s = await sandbox();
  const r = await s.probe(RESTRICTED, {
    catOutside: "return run('cat', [ctx.outside + '/secret.txt'])",
  });
  expect(r.catOutside).toEqual({ ok: true, value: "the host's secret" });
});

Deno.test("second layer: net is the platform alone when webfetch can reach nothing", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = (async () => {
    for await (const c of listener) c.close();
  })();
  try {
    await using s = await sandbox(`ws://127.0.0.1:${listener.addr.port}/ws`);
    const yaml = 'permission:\n  bash:\n    "*": deny\n  webfetch:\n    "*": deny\n';
    expect(s.flags(yaml)).toContain(`--allow-net=127.0.0.1:${listener.addr.port}`);
    const r = await s.probe(yaml, {
      platform:
        "const c = await Deno.connect({ hostname: '127.0.0.1', port: ctx.port }); c.close(); return 'connected'",
      otherPort:
        "const c = await Deno.connect({ hostname: '127.0.0.1', port: ctx.port + 1 }); c.close()",
      otherHost:
        "const c = await Deno.connect({ hostname: '127.0.0.2', port: ctx.port }); c.close()",
      fetch: "return (await fetch('http://127.0.0.1:' + (ctx.port + 1) + '/')).status",
      listen: "Deno.listen({ hostname: '127.0.0.1', port: 0 }).close()",
    }, { port: listener.addr.port });
    expect(r.platform).toEqual({ ok: true, value: "connected" });
    denied(r.otherPort, /Requires net access to "127.0.0.1:\d+"/);
    denied(r.otherHost, /Requires net access to "127.0.0.2:\d+"/);
    denied(r.fetch, /Requires net access/);
    denied(r.listen, /Requires net access/);
  } finally {
    listener.close();
    await accepted;
  }
});

Deno.test("second layer: --deny-net holds under an unscoped --allow-net (loopback stand-in)", async () => {
  // The derived --deny-net names cloud metadata addresses; connecting to one from a
  // test is out of bounds, so the same mechanism is shown on a loopback address.
  await using s = await sandbox();
  const script = join(s.dir, "deny.js");
  await Deno.writeTextFile(
    script,
    "try { await Deno.connect({ hostname: '127.0.0.3', port: 9 }); console.log('connected'); }" +
      " catch (e) { console.log(e.constructor.name + ': ' + e.message); }",
  );
  const flags = s.flags(RESTRICTED).map((f) => f.startsWith("--deny-net=") ? `${f},127.0.0.3` : f);
  expect(flags).toContain("--allow-net");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script],
    stdout: "piped",
  }).output();
  expect(new TextDecoder().decode(out.stdout).trim()).toBe(
    'NotCapable: Requires net access to "127.0.0.3:9", run again with the --allow-net flag',
  );
});

Deno.test("second layer: without programs, only the environment names the runner reads", async () => {
  await using s = await sandbox();
  const r = await s.probe('permission:\n  bash:\n    "*": deny\n  webfetch:\n    "*": deny\n', {
    path: "return typeof Deno.env.get('PATH')",
    secret: "return Deno.env.get('SECRET_TOKEN')",
    all: "return Object.keys(Deno.env.toObject()).length",
    uid: "return Deno.uid()",
    interfaces: "return Deno.networkInterfaces().length",
    hostname: "return typeof Deno.hostname()",
  });
  expect(r.path).toEqual({ ok: true, value: "string" });
  denied(r.secret, /Requires env access to "SECRET_TOKEN"/);
  denied(r.all, /Requires env access/);
  denied(r.uid, /Requires sys access to "uid"/);
  denied(r.interfaces, /Requires sys access to "networkInterfaces"/);
  expect(r.hostname).toEqual({ ok: true, value: "string" });
});

Deno.test("second layer: a command's process group is stopped without Deno.kill (kill(1) fallback)", async () => {
  await using s = await sandbox();
  const r = await s.probe(RESTRICTED, {
    stop: `
      const child = new Deno.Command('sleep', { args: ['60'], detached: true }).spawn();
      let direct;
      try { Deno.kill(-child.pid, 'SIGTERM'); direct = 'Deno.kill worked'; }
      catch (e) { direct = e.constructor.name; }
      sendSignal(-child.pid, 'SIGTERM');
      const status = await child.status;
      return direct + ' / ' + status.signal;`,
    gone: "sendSignal(2147483, 'SIGTERM')",
  });
  expect(r.stop).toEqual({ ok: true, value: "NotCapable / SIGTERM" });
  expect(r.gone).toMatchObject({ ok: false, kind: "NotFound" });
});
