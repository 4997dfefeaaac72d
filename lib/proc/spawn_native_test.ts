import { expect } from "../../tests/deps.ts";
import { libcPath, openLibc } from "../sys/libc.ts";
import { decodeStatus, nativeSpawnAvailable, spawnNative } from "./spawn_native.ts";

const linux = Deno.build.os === "linux";
const SH = "/bin/sh";

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** Runs `script` under sh (argv0 "sh") and returns its stdout, stderr and status. */
async function sh(script: string, extra: Partial<Parameters<typeof spawnNative>[1]> = {}) {
  const child = spawnNative(SH, {
    argv0: "sh",
    args: ["-c", script],
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...extra,
  });
  const [out, err, status] = await Promise.all([
    text(child.stdout),
    text(child.stderr),
    child.status,
  ]);
  return { pid: child.pid, out, err, status };
}

/** A /proc/<pid>/status field of a process that waits until its stdin closes. */
async function procStatus(options: Partial<Parameters<typeof spawnNative>[1]> = {}) {
  const child = spawnNative("/bin/cat", {
    argv0: "cat",
    args: [],
    env: {},
    stdin: "piped",
    stdout: "null",
    stderr: "null",
    ...options,
  });
  const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
  const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
  await child.stdin.close();
  await child.status;
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)![1];
  // "pid (comm) state ppid pgrp session ...": after the last ")"
  const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pid: child.pid, field, pgrp: Number(pgrp), session: Number(session) };
}

Deno.test({
  name: "posix_spawn: available here (Linux, glibc, --allow-ffi)",
  ignore: !linux || !libcPath(),
  fn() {
    expect(nativeSpawnAvailable()).toBe(true);
  },
});

Deno.test({
  name: "posix_spawn: argv[0] as given, the arguments, the working directory, only the env given",
  ignore: !linux,
  async fn() {
    const dir = Deno.realPathSync(Deno.makeTempDirSync());
    try {
      const script = 'printf "%s|" "$0" "$1" "$2"; echo; pwd; env | sort';
      const r = await sh(script, {
        argv0: "as-typed",
        args: ["-c", script, "a b", "*"],
        cwd: dir,
        env: { ONLY: "this", PATH: "/usr/bin:/bin" },
      });
      expect(r.status).toEqual({ success: true, code: 0, signal: null });
      const [args, pwd, ...env] = r.out.trimEnd().split("\n");
      expect(args).toBe("a b|*||"); // sh -c: $0 is the first argument after the script
      expect(pwd).toBe(dir);
      // sh adds PWD (and may add SHLVL, _); nothing of this process's environment
      expect(env.filter((l) => !/^(PWD|SHLVL|_|OLDPWD)=/.test(l))).toEqual([
        "ONLY=this",
        "PATH=/usr/bin:/bin",
      ]);
      const named = await sh('echo "$0"', { argv0: "as-typed", args: ["-c", 'echo "$0"'] });
      expect(named.out).toBe("as-typed\n"); // sh's $0 is argv[0] when no argument follows
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "posix_spawn: a new session and group, no signal ignored or blocked",
  ignore: !linux,
  async fn() {
    const p = await procStatus();
    expect(p.session).toBe(p.pid);
    expect(p.pgrp).toBe(p.pid);
    // The runtime ignores SIGPIPE; an ignored signal would survive exec. Signals 1-31 only:
    // glibc keeps 32 and 33 for itself, and posix_spawn leaves them as they are (as Deno does).
    const standard = (field: string) => BigInt(`0x${p.field(field)}`) & 0x7fffffffn;
    expect(standard("SigIgn")).toBe(0n);
    expect(standard("SigBlk")).toBe(0n);
  },
});

Deno.test({
  name: "posix_spawn: a writer whose reader went away dies of SIGPIPE, as under bash",
  ignore: !linux,
  async fn() {
    const child = spawnNative("/usr/bin/yes", {
      argv0: "yes",
      args: [],
      env: {},
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const reader = child.stdout.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    const [status, err] = await Promise.all([child.status, text(child.stderr)]);
    expect(status).toEqual({ success: false, code: 128 + 13, signal: "SIGPIPE" });
    expect(err).toBe(""); // not "yes: standard output: Broken pipe"
  },
});

Deno.test({
  name: "posix_spawn: stdin piped in, stdout and stderr apart, or merged in order",
  ignore: !linux,
  async fn() {
    const child = spawnNative(SH, {
      argv0: "sh",
      args: ["-c", "while read l; do echo out:$l; echo err:$l >&2; done"],
      env: {},
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const w = child.stdin.getWriter();
    const input = Array.from({ length: 500 }, (_, i) => `line${i}\n`).join("");
    const outs = Promise.all([text(child.stdout), text(child.stderr)]);
    await w.write(new TextEncoder().encode(input));
    await w.close();
    const [out, err] = await outs;
    expect(out).toBe(input.replaceAll("line", "out:line"));
    expect(err).toBe(input.replaceAll("line", "err:line"));
    expect((await child.status).code).toBe(0);

    const merged = await sh("for i in 1 2 3 4 5; do echo o$i; echo e$i >&2; done", {
      merge: true,
    });
    expect(merged.out).toBe("o1\ne1\no2\ne2\no3\ne3\no4\ne4\no5\ne5\n");
    expect(merged.err).toBe("");
  },
});

Deno.test({
  name: "posix_spawn: stdin null reads end of file; exit codes and deaths by signal as Deno says",
  ignore: !linux,
  async fn() {
    expect((await sh("cat; echo done")).out).toBe("done\n");
    expect((await sh("exit 7")).status).toEqual({ success: false, code: 7, signal: null });
    expect((await sh("kill -TERM $$")).status).toEqual({
      success: false,
      code: 143,
      signal: "SIGTERM",
    });
    expect(decodeStatus(0)).toEqual({ success: true, code: 0, signal: null });
    expect(decodeStatus(9)).toEqual({ success: false, code: 137, signal: "SIGKILL" });
  },
});

Deno.test({
  name: "posix_spawn: the child holds only fds 0-2, and the runner keeps no pipe end",
  ignore: !linux,
  async fn() {
    // a descriptor without close-on-exec (dup drops the flag), as a service manager may leave one
    const libc = openLibc({
      dup: { parameters: ["i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
    });
    const inherited = libc.symbols.dup(0);
    expect(inherited).toBeGreaterThan(2);
    for (let i = 0; i < 10; i++) {
      // ls's own directory fd is 3; nothing else may be open in the child
      const r = await sh("ls /proc/self/fd", { stdin: "piped" });
      expect(r.out.trim().split("\n").map(Number)).toEqual([0, 1, 2, 3]);
    }
    libc.symbols.close(inherited);
    libc.close();
    // the runner's side, in a process of its own: under `deno test --parallel` other test
    // files share this one and open descriptors meanwhile (a count here moved by 5-30)
    const counts = await descriptorCounts(`
      await sh("true"); // what the first start opens once (the epoll set, its eventfd) is not a leak
      const before = count();
      for (let i = 0; i < 10; i++) await sh("ls /proc/self/fd");
      return [before, count()];
    `);
    // 10 starts with three pipes each: a leaked end a start would show as 10 or more
    expect(counts.after - counts.before).toBeLessThan(2);
  },
});

/**
 * Descriptors open in a fresh deno process before and after `body` (an
 * async function body with `sh(script)`, `spawnNative` and `count()` in
 * scope, returning [before, after]).
 */
async function descriptorCounts(body: string): Promise<{ before: number; after: number }> {
  const script = `
    import { spawnNative } from ${
    JSON.stringify(new URL("./spawn_native.ts", import.meta.url).href)
  };
    const count = () => Deno.readDirSync("/proc/self/fd").toArray().length;
    async function sh(script) {
      const c = spawnNative("/bin/sh", { argv0: "sh", args: ["-c", script], env: { PATH: "/usr/bin:/bin" },
        stdin: "null", stdout: "piped", stderr: "piped" });
      await Promise.all([new Response(c.stdout).text(), new Response(c.stderr).text(), c.status]);
    }
    const [before, after] = await (async () => { ${body} })();
    console.log(JSON.stringify({ before, after }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  expect(new TextDecoder().decode(out.stderr)).toBe("");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "posix_spawn: failures are thrown as Deno.Command throws them, and nothing leaks",
  ignore: !linux,
  async fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const base = { argv0: "x", args: [], env: {}, stdin: "piped", stdout: "piped" } as const;
      const opts = { ...base, stderr: "piped" } as const;
      expect(() => spawnNative(`${dir}/missing`, opts)).toThrow(Deno.errors.NotFound);
      Deno.writeTextFileSync(`${dir}/plain`, "echo hi\n", { mode: 0o644 });
      expect(() => spawnNative(`${dir}/plain`, opts)).toThrow(Deno.errors.PermissionDenied);
      expect(() => spawnNative(`${dir}/plain`, opts)).toThrow(/Permission denied \(os error 13\)/);
      expect(() => spawnNative(SH, { ...opts, cwd: `${dir}/nowhere` })).toThrow(
        Deno.errors.NotFound,
      );
      // C strings end at NUL: a NUL would cut the argument the rules checked
      expect(() => spawnNative(SH, { ...opts, args: ["-c", "echo a\0; rm x"] })).toThrow(
        TypeError,
      );
      expect(() => spawnNative(SH, { ...opts, env: { A: "1\0B=2" } })).toThrow(TypeError);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
    // nothing the failed starts opened stays open (counted in a process of its own, see above)
    const counts = await descriptorCounts(`
      const opts = { argv0: "x", args: [], env: {}, stdin: "piped", stdout: "piped", stderr: "piped" };
      const tries = [["/nonexistent/x", opts], ["/etc/hostname", opts], ["/bin/sh", { ...opts, cwd: "/nonexistent" }],
        ["/bin/sh", { ...opts, args: ["-c", "a\\0b"] }]];
      await sh("true");
      const before = count();
      for (let i = 0; i < 5; i++) for (const [p, o] of tries) { try { spawnNative(p, o); } catch {} }
      return [before, count()];
    `);
    expect(counts.after - counts.before).toBeLessThan(2);
  },
});

/** Runs a snippet in a deno with exactly `flags`; its stdout. */
async function underGrants(flags: string[], code: string): Promise<string> {
  const url = new URL("./spawn_native.ts", import.meta.url).href;
  // `deno eval` grants everything: a file run with exactly these flags
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  Deno.writeTextFileSync(
    file,
    `import { spawnNative } from ${JSON.stringify(url)};
       const o = { args: ["1"], env: {}, stdin: "null", stdout: "piped", stderr: "null" };
       const r = async (p, extra = {}) => {
         try {
           const c = spawnNative(p, { argv0: p, ...o, ...extra });
           await c.status;
           return "ran";
         } catch (e) { return e.name; }
       };
       ${code}`,
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, `--allow-read=${file}`, file],
      stdin: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    Deno.removeSync(file);
  }
}

Deno.test({
  name: "posix_spawn: the Deno layer still decides (--allow-run list, LD_* variables)",
  ignore: !linux || !libcPath(),
  async fn() {
    const libc = libcPath()!;
    const grants = [`--allow-ffi=${libc}`, `--allow-read=${libc}`, "--allow-run=/usr/bin/seq"];
    const out = await underGrants(
      grants,
      `console.log([await r("/usr/bin/seq"), await r("/usr/bin/id"),
        await r("/usr/bin/seq", { env: { LD_PRELOAD: "/tmp/x.so" } })].join(" "))`,
    );
    expect(out).toBe("ran NotCapable NotCapable");
    // with an unscoped grant, Deno would allow all three; so do we
    const all = await underGrants(
      [`--allow-ffi=${libc}`, `--allow-read=${libc}`, "--allow-run"],
      `console.log([await r("/usr/bin/seq"), await r("/usr/bin/id")].join(" "))`,
    );
    expect(all).toBe("ran ran");
  },
});

Deno.test({
  name: "posix_spawn: running programs hold no pool thread (async file reads go on meanwhile)",
  ignore: !linux,
  async fn() {
    // Deno's blocking pool is small: with a blocking read per pipe and a
    // blocking waitpid per program (the first version), 40 programs held
    // every async file read until they ended (measured: 2.7 s for 3 s sleeps).
    const children = Array.from({ length: 64 }, () =>
      spawnNative("/bin/sleep", {
        argv0: "sleep",
        args: ["30"],
        env: {},
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }));
    let ended = 0;
    const done = children.map((c) =>
      Promise.all([c.status, text(c.stdout), text(c.stderr)]).then(() => ended++)
    );
    try {
      for (let i = 0; i < 20; i++) await Deno.readTextFile("/proc/self/stat");
      expect(ended).toBe(0); // the reads finished while every program still ran
    } finally {
      for (const c of children) Deno.kill(c.pid, "SIGKILL");
      await Promise.all(done);
    }
  },
});

Deno.test({
  name: "posix_spawn: pipes still reach the program when the runner's own fds 0-2 are closed",
  ignore: !linux || !libcPath(),
  async fn() {
    const here = (f: string) => JSON.stringify(new URL(f, import.meta.url).href);
    const file = Deno.makeTempFileSync({ suffix: ".ts" });
    // With 0 and 1 closed, pipe2 hands out 0 and 1 for the stderr pipe: the start's
    // own /dev/null for fd 1 would overwrite the program's end before it is copied to 2.
    Deno.writeTextFileSync(
      file,
      `import { spawnNative } from ${here("./spawn_native.ts")};
       import { openLibc } from ${here("../sys/libc.ts")};
       import { openPipe, closeFd } from ${here("./fd_stream.ts")};
       const libc = openLibc({ close: { parameters: ["i32"], result: "i32" } });
       const first = openPipe(); // the libraries' own descriptors are taken before 0 and 1 close
       closeFd(first.readFd);
       closeFd(first.writeFd);
       libc.symbols.close(0);
       libc.symbols.close(1);
       const c = spawnNative("/bin/sh", { argv0: "sh", args: ["-c", "echo err >&2"],
         env: {}, stdin: "null", stdout: "null", stderr: "piped" });
       const err = await new Response(c.stderr).text();
       await c.status;
       Deno.stderr.writeSync(new TextEncoder().encode(JSON.stringify(err)));`,
    );
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", file],
        stdin: "null",
      }).output();
      expect(new TextDecoder().decode(out.stderr)).toBe(JSON.stringify("err\n"));
    } finally {
      Deno.removeSync(file);
    }
  },
});
