/**
 * The token is not readable by the commands it guards (issue 12). The real
 * runner (supervisor and sandboxed child) is given the token each way a user
 * can (environment, --token-file, systemd's LoadCredential=), then allowed
 * commands look for it where a command would: every /proc/<pid>/environ and
 * cmdline, `ps e`. None may find it, while the same probes do find a decoy
 * token in a process that does not protect it (the control).
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { type RunnerProcess, startRunner } from "./support/runner.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";

const TOKEN = "wnt_secret_token_4f1c9b2e7d";
const DECOY = "wnt_decoy_token_visible_91ab";
const CONFIG = `permission:
  bash:
    "ps *": allow
    "cat /proc/*": allow
    "sh -c *": allow
`;
const landlock = probeLandlock().available;

/** What allowed commands see: everything they print, for each probe. */
async function probe(
  sim: PlatformSimulator,
  runner: RunnerProcess,
  extra: number[],
): Promise<string> {
  const pids = [runner.child.pid, ...extra];
  const m = /started the sandboxed runner, pid (\d+)/.exec(runner.logs());
  if (m) pids.push(Number(m[1]));
  const commands = [
    "ps e -ww -eo pid,args",
    "ps auxeww",
    ...pids.flatMap((p) => [`cat /proc/${p}/environ`, `cat /proc/${p}/cmdline`]),
    "sh -c 'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat $f; echo; done'",
    ...pids.map((p) => `sh -c 'dd if=/proc/${p}/mem bs=1 count=1 skip=4194304 2>&1'`),
  ];
  // Each probe also writes what it read to a file in the workspace, read here from disk: the
  // results the platform gets are redacted (the runner's own token always is), and a test of the
  // hand-off must see what the command saw, not what redaction left of it.
  let seen = "";
  for (const [i, command] of commands.entries()) {
    const r = await sim.request("bash", { command: `${command} > probe_${i}.out 2>&1` }, {
      timeoutMs: 60_000,
    });
    seen += JSON.stringify(r) + "\n";
    seen += await Deno.readTextFile(join(runner.workspace, `probe_${i}.out`)).catch(() => "");
  }
  // large outputs are saved in the workspace: what the command printed, whole
  const saved = join(runner.workspace, ".work", "outputs");
  for (const e of await Array.fromAsync(Deno.readDir(saved)).catch(() => [])) {
    seen += await Deno.readTextFile(join(saved, e.name));
  }
  return seen;
}

async function withRunner(
  how: "env" | "file" | "credential",
  config: string,
  fn: (sim: PlatformSimulator, runner: RunnerProcess) => Promise<void>,
) {
  const sim = await PlatformSimulator.start({ token: TOKEN });
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "token_" }));
  const tokenFile = join(dir, "token");
  await Deno.writeTextFile(tokenFile, TOKEN + "\n", { mode: 0o600 });
  const env: Record<string, string> = how === "env"
    ? { FLASHDUTY_RUNNER_TOKEN: TOKEN }
    : how === "credential"
    ? { CREDENTIALS_DIRECTORY: dir }
    : {};
  const runner = await startRunner({
    url: sim.url,
    config,
    env,
    args: how === "file" ? ["--token-file", tokenFile] : [],
  });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 60_000);
    await fn(sim, runner);
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const how of ["env", "file", "credential"] as const) {
  Deno.test({
    name: `token (${how}): no allowed command finds it in any environ, cmdline, ps e or mem`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      // The control: a process that does not protect its token. The same probes must
      // find it there, or they prove nothing.
      const decoy = new Deno.Command("sleep", {
        args: ["600"],
        env: { FLASHDUTY_RUNNER_TOKEN: DECOY },
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await withRunner(how, CONFIG, async (sim, runner) => {
          const seen = await probe(sim, runner, [decoy.pid]);
          expect(seen).toContain(DECOY);
          expect(seen).toContain("FLASHDUTY_RUNNER_SANDBOXED"); // the child's environ was read
          expect(seen.includes(TOKEN)).toBe(false);
          if (landlock) expect(runner.logs()).toContain("kernel layer (Landlock) on");
          expect(runner.logs()).not.toContain("the token was given with --token");
        });
      } finally {
        decoy.kill("SIGKILL");
        await decoy.status;
      }
    },
  });
}

Deno.test("token (--token): works, and the log says the command line shows it to every user", async () => {
  const sim = await PlatformSimulator.start({ token: TOKEN });
  const runner = await startRunner({ url: sim.url, token: TOKEN, config: CONFIG });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 60_000);
    expect(runner.logs()).toMatch(
      /WARN .*the token was given with --token: every user of this host can read it in `ps`/,
    );
    expect(runner.logs()).not.toContain(TOKEN);
  } finally {
    await runner.stop();
    await sim.close();
  }
});
