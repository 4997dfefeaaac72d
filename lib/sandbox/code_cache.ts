/**
 * Deno's V8 code cache for the confined runner child. Deno keeps the code
 * V8 compiled from each module in DENO_DIR (v8_code_cache_v2, SQLite) and
 * loads it instead of compiling again. The child runs under the kernel
 * layer, which leaves DENO_DIR read-only to it and to every program it
 * starts: were it writable, a command could rewrite the compiled code the
 * unconfined supervisor loads at its next start. So the child reads the
 * cache but never fills it, and the modules only it loads (the runner, the
 * transport) were compiled from source at every start (docs/benchmarks.md,
 * "Start-up: where the time goes").
 *
 * The supervisor fills it instead, once per module set: before confining
 * its thread it starts, beside the child, a short unconfined `deno run` of
 * code_cache_warm.ts with no permission but to write its marker file
 * (env reads answer undefined, no network, no module download), which
 * imports the child's start-up modules without running them and so leaves
 * their compiled code in the cache. The marker, in DENO_DIR, holds a key of
 * what the cache was warmed for (Deno and V8 versions, the child's V8 and
 * Deno flags, the path, size and mtime of every module under lib/ and of
 * deno.json and deno.lock); a later start whose key matches starts no
 * warmer. `deno clean` removes the marker with the cache.
 *
 * Only for a runner started from local files with `deno run`: a compiled
 * binary has no code cache (built with `--no-code-cache`, see codeCachePath),
 * and a runner started from a URL loads modules this process cannot list.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../deps.ts";
import { readEnv } from "../settings.ts";

/** The warmer's entry: imports the child's start-up modules, then writes the marker. */
const WARM_ENTRY = new URL("./code_cache_warm.ts", import.meta.url);

export interface WarmPlan {
  /** the marker file: holds `key` once a warmer succeeded */
  marker: string;
  key: string;
  /** the warmer's argv after the deno executable */
  args: string[];
}

/** Deno's cache directory as Deno finds it on Linux: DENO_DIR, else the XDG cache's deno/. */
export function denoDir(env: (name: string) => string | undefined = readEnv): string | undefined {
  const set = env("DENO_DIR");
  if (set) return set;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "deno");
  const home = env("HOME");
  return home ? join(home, ".cache", "deno") : undefined;
}

/**
 * Where this runner's code cache lives: DENO_DIR under `deno run`; none for a
 * compiled binary, built with `--no-code-cache` (tools/compile.ts: Deno would
 * keep it in the shared temp directory, where another user could plant it).
 */
export function codeCachePath(
  standalone: boolean,
  env: (name: string) => string | undefined = readEnv,
): string | undefined {
  return standalone ? undefined : denoDir(env);
}

/**
 * The kernel layer's write path that covers the code cache, if one does (a
 * `permission.write_paths` entry such as the runner user's home): then a
 * command could rewrite code the supervisor loads at its next start.
 */
export function writableCodeCache(
  write: readonly string[],
  cache: string | undefined,
): string | undefined {
  if (!cache) return undefined;
  return write.find((w) => cache === w || cache.startsWith(w.endsWith("/") ? w : w + "/"));
}

/**
 * Whether and how to warm the cache: undefined when there is nothing to do
 * (a marker holding this key, a runner not from local files, code cache
 * off, no DENO_DIR). Makes the marker's directory. Never throws: a cache
 * that stays cold costs start-up time, nothing else.
 */
export function planWarmup(opts: {
  /** the child's Deno flags other than permissions */
  denoFlags: readonly string[];
  /** the child's DENO_V8_FLAGS */
  v8Flags: string;
  /** default denoDir() */
  cacheDir?: string;
}): WarmPlan | undefined {
  if (WARM_ENTRY.protocol !== "file:" || Deno.build.standalone) return undefined;
  if (opts.denoFlags.includes("--no-code-cache")) return undefined;
  const cacheDir = opts.cacheDir ?? denoDir();
  if (!cacheDir) return undefined;
  try {
    const lib = dirname(dirname(fileURLToPath(WARM_ENTRY)));
    const key = [
      `deno ${Deno.version.deno} v8 ${Deno.version.v8}`,
      `DENO_V8_FLAGS=${opts.v8Flags}`,
      `flags ${opts.denoFlags.join(" ")}`,
      ...moduleStamps(lib),
    ].join("\n");
    const marker = join(cacheDir, "flashduty-runner", `code-cache-${fnv1a(lib)}`);
    try {
      if (Deno.readTextFileSync(marker) === key) return undefined;
    } catch { /* no marker yet */ }
    Deno.mkdirSync(dirname(marker), { recursive: true });
    return {
      marker,
      key,
      args: [
        "run",
        ...opts.denoFlags,
        "--no-prompt",
        "--cached-only",
        "--ignore-env",
        `--allow-write=${marker}`,
        WARM_ENTRY.href,
        marker,
      ],
    };
  } catch {
    return undefined;
  }
}

/**
 * path, size and mtime of every .ts module under `lib` (recursively), then
 * deno.json and deno.lock beside it: what the child's modules and their
 * npm packages are. A stat each, no reads (~160 files, a few ms).
 */
function moduleStamps(lib: string): string[] {
  const out: string[] = [];
  const stamp = (path: string) => {
    try {
      const s = Deno.statSync(path);
      out.push(`${path} ${s.size} ${s.mtime?.getTime()}`);
    } catch { /* absent */ }
  };
  const walk = (dir: string) => {
    const entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory) walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) stamp(path);
    }
  };
  walk(lib);
  for (const f of ["deno.json", "deno.lock"]) stamp(join(dirname(lib), f));
  return out;
}

/** FNV-1a, 32 bits, hex: names the marker per runner tree (not a security property). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** A running warmer: `done` resolves when it has exited (never rejects). */
export interface Warmup {
  pid: number;
  done: Promise<void>;
  /** waits up to `graceMs` for it to finish, then kills it (the supervisor is stopping) */
  finish(graceMs: number): Promise<void>;
}

/**
 * Starts the warmer (from the calling thread: call it before confining it).
 * Its key goes on its stdin, so no argv carries a list of files. Its
 * outcome is logged at debug level.
 */
export function startWarmup(
  plan: WarmPlan,
  opts: { execPath: string; env: Record<string, string>; log: Logger },
): Warmup | undefined {
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.execPath, {
      args: plan.args,
      env: opts.env,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    opts.log.debug("could not start the code cache warmer: {reason}", {
      reason: (err as Error).message,
    });
    return undefined;
  }
  const writer = child.stdin.getWriter();
  writer.write(new TextEncoder().encode(plan.key)).then(() => writer.close()).catch(() => {});
  const done = child.output().then((out) => {
    const ms = Math.round(performance.now() - started);
    if (out.success) {
      opts.log.debug("code cache warmed for the runner's modules in {ms} ms", { ms });
    } else {
      const why = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
      opts.log.debug("the code cache warmer exited {code} after {ms} ms: {why}", {
        code: out.code,
        ms,
        why,
      });
    }
  }, () => {});
  opts.log.debug("warming the code cache for the runner's modules, pid {pid}", { pid: child.pid });
  return {
    pid: child.pid,
    done,
    async finish(graceMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([done, grace]);
      clearTimeout(timer);
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await done;
    },
  };
}
