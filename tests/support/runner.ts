/**
 * Starts the real runner (main.ts) as a subprocess against a simulator, the
 * way a user starts it, and collects its log lines for assertions.
 */
import { fileURLToPath as fromFileUrl } from "node:url";

export const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));

export interface RunnerProcess {
  child: Deno.ChildProcess;
  workspace: string;
  /** everything the runner logged so far (stderr) */
  logs(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** sends a signal and resolves with the exit code */
  stop(signal?: Deno.Signal): Promise<number>;
  exited: Promise<Deno.CommandStatus>;
}

export interface StartOptions {
  url: string;
  token?: string;
  workspace?: string;
  /** YAML text for a config file, written next to the workspace */
  config?: string;
  args?: string[];
  env?: Record<string, string>;
  /** deno flags before main.ts; defaults to --allow-all */
  denoFlags?: string[];
  mainUrl?: string;
}

export async function startRunner(opts: StartOptions): Promise<RunnerProcess> {
  const workspace = opts.workspace ?? await Deno.makeTempDir({ prefix: "fdr-ws-" });
  const args = ["run", "--url", opts.url, "--workspace", workspace, "--log-level", "debug"];
  if (opts.token !== undefined) args.push("--token", opts.token);
  if (opts.config !== undefined) {
    const file = await Deno.makeTempFile({ prefix: "fdr-config-", suffix: ".yaml" });
    await Deno.writeTextFile(file, opts.config);
    args.push("--config", file);
  }
  args.push(...(opts.args ?? []));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(opts.denoFlags ?? ["--allow-all"]), opts.mainUrl ?? MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...(opts.env ?? {}) },
  }).spawn();
  let text = "";
  const listeners: (() => void)[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const l of listeners.splice(0)) l();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await pumps;
    return s;
  });
  const waitForLog = async (pattern: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const m = pattern.exec(text);
      if (m) return m[0];
      if (Date.now() > deadline) {
        throw new Error(`runner never logged ${pattern}; logs:\n${text.slice(-4000)}`);
      }
      await Promise.race([
        new Promise<void>((r) => listeners.push(r)),
        new Promise((r) => setTimeout(r, 100)),
      ]);
    }
  };
  return {
    child,
    workspace,
    logs: () => text,
    waitForLog,
    exited,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      return (await exited).code;
    },
  };
}
