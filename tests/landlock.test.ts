/**
 * The kernel layer on its own (lib/sandbox/landlock.ts): a child started
 * from a thread confinedLauncher confined, as the supervisor starts the
 * runner from its main thread, cannot write outside the write paths or
 * execute a file the exec list does not name, whatever it tries. The
 * confining happens in a process of its own (a domain is never lifted), so
 * this test process stays free.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { probeLandlock } from "../lib/sandbox/landlock.ts";
import { deriveKernelRules, type KernelRules } from "../lib/sandbox/landlock_rules.ts";
import { kernelLayer } from "../lib/sandbox/supervisor.ts";
import { parseConfig } from "../lib/config.ts";
import { lintConfig } from "../lib/policy/lint.ts";

const probe = probeLandlock();
const ignore = !probe.available;

const SUPERVISOR = new URL("../lib/sandbox/supervisor.ts", import.meta.url).href;

/**
 * Runs `script` under `sh`, started by the supervisor's confinedLauncher in
 * a separate Deno process; resolves with the script's exit code.
 */
async function confined(rules: KernelRules, script: string): Promise<number> {
  const program = `
    import { confinedLauncher } from ${JSON.stringify(SUPERVISOR)};
    const [rules, script] = JSON.parse(Deno.args[0]);
    const child = await confinedLauncher(rules).launch({
      execPath: "/bin/sh",
      args: ["-c", script],
      env: { PATH: "/usr/bin:/bin" },
      stdinLine: "",
    });
    Deno.exit((await child.status).code);
  `;
  const file = await Deno.makeTempFile({ prefix: "landlock_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, program);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", file, JSON.stringify([rules, script])],
      stdin: "null",
    }).output();
    return out.code;
  } finally {
    await Deno.remove(file);
  }
}

async function dirs() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "landlock_" }));
  const ws = join(root, "ws");
  const outside = join(root, "outside");
  await Deno.mkdir(ws);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "victim"), "original\n");
  return { root, ws, outside };
}

/** Rules that allow `sh` and the file tools the attempts use (but not `id` or `env`). */
function shRules(ws: string): KernelRules {
  const programs = ["sh", "cat", "cp", "chmod", "rm", "mkdir", "ln", "mv", "mkfifo"];
  return deriveKernelRules({
    config: parseConfig(
      `permission:\n  bash:\n${programs.map((p) => `    "${p} *": allow\n`).join("")}`,
    ),
    workspace: ws,
    path: "/usr/bin:/bin",
  });
}

Deno.test("landlock: the probe names an ABI here, or says why not", () => {
  if (probe.available) expect(probe.abi).toBeGreaterThanOrEqual(1);
  else expect(probe.reason).toMatch(/\S/);
});

Deno.test({
  name: "landlock: a confined child cannot change anything outside the write paths",
  ignore,
  async fn() {
    const { root, ws, outside } = await dirs();
    try {
      // Each attempt appends "name=exit status" to a report inside the workspace.
      const attempts: Record<string, string> = {
        create: `echo x > ${outside}/new`,
        overwrite: `echo pwned > ${outside}/victim`,
        append: `echo pwned >> ${outside}/victim`,
        truncate: `: > ${outside}/victim`,
        remove: `rm -f ${outside}/victim`,
        mkdir: `mkdir ${outside}/d`,
        symlink: `ln -s /etc/passwd ${outside}/link`,
        move_out: `echo x > ${ws}/m && mv ${ws}/m ${outside}/m`,
        hardlink_out: `echo x > ${ws}/h && ln ${ws}/h ${outside}/h`,
        fifo: `mkfifo ${outside}/fifo`,
        tmp: `echo x > /tmp/landlock_probe_$$`,
      };
      const script = Object.entries(attempts)
        .map(([name, cmd]) => `(${cmd}) 2>/dev/null; echo ${name}=$? >> ${ws}/report`)
        .join("\n") + `\necho inside > ${ws}/inside; cat /etc/hostname > ${ws}/read`;
      expect(await confined(shRules(ws), script)).toBe(0);
      const report = Object.fromEntries(
        (await Deno.readTextFile(join(ws, "report"))).trim().split("\n").map((l) => l.split("=")),
      );
      for (const name of Object.keys(attempts)) {
        expect({ name, status: report[name] }).not.toEqual({ name, status: "0" });
      }
      expect(await Deno.readTextFile(join(outside, "victim"))).toBe("original\n");
      expect([...Deno.readDirSync(outside)].map((e) => e.name)).toEqual(["victim"]);
      // writes inside and reads anywhere still work
      expect(await Deno.readTextFile(join(ws, "inside"))).toBe("inside\n");
      expect((await Deno.readTextFile(join(ws, "read"))).length).toBeGreaterThan(0);
      // this thread is not confined
      await Deno.writeTextFile(join(outside, "from_test"), "ok");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "landlock: a confined child cannot execute a program the list does not name, " +
    "nor can its children, nor a copy in the workspace",
  ignore,
  async fn() {
    const { root, ws } = await dirs();
    try {
      const script = [
        `/usr/bin/id > /dev/null 2>&1; echo id=$? >> ${ws}/report`,
        `env true 2>/dev/null; echo env=$? >> ${ws}/report`,
        // a grandchild: sh starts sh (allowed) which tries id
        `sh -c '/usr/bin/id >/dev/null 2>&1; echo nested=$? >> ${ws}/report'`,
        // a copy of an allowed program inside the (writable) workspace
        `cp /usr/bin/id ${ws}/myid; chmod +x ${ws}/myid`,
        `${ws}/myid >/dev/null 2>&1; echo copy=$? >> ${ws}/report`,
        // the loader run directly on an unnamed program
        `/lib64/ld-linux-x86-64.so.2 /usr/bin/id >/dev/null 2>&1; echo loader=$? >> ${ws}/report`,
        `echo ok=0 >> ${ws}/report`,
      ].join("\n");
      expect(await confined(shRules(ws), script)).toBe(0);
      const report = Object.fromEntries(
        (await Deno.readTextFile(join(ws, "report"))).trim().split("\n").map((l) => l.split("=")),
      );
      expect(report.id).toBe("126");
      expect(report.env).not.toBe("0");
      expect(report.nested).toBe("126");
      expect(report.copy).toBe("126");
      expect(report.ok).toBe("0");
      // ld.so maps the program itself (mmap is not an exec check): say so, do not hide it
      expect(["0", "126", "127"]).toContain(report.loader);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "landlock: write_paths and exec_paths from the config extend the lists",
  ignore,
  async fn() {
    const { root, ws, outside } = await dirs();
    try {
      const rules = deriveKernelRules({
        config: parseConfig(
          `permission:\n  bash:\n    "sh *": allow\n  write_paths: [${outside}]\n` +
            `  exec_paths: [/usr/bin/id]\n`,
        ),
        workspace: ws,
        path: "/usr/bin:/bin",
      });
      expect(rules.write).toContain(outside);
      expect(rules.exec).toContain("/usr/bin/id");
      const code = await confined(rules, `echo ok > ${outside}/granted && /usr/bin/id > /dev/null`);
      expect(code).toBe(0);
      expect(await Deno.readTextFile(join(outside, "granted"))).toBe("ok\n");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("landlock rules: the programs the rules name, their loader and interpreter, and the runner", () => {
  const rules = deriveKernelRules({
    config: parseConfig('permission:\n  bash:\n    "cat *": allow\n    "rm *": deny\n'),
    workspace: "/tmp",
    path: "/usr/bin:/bin",
  });
  expect(rules.execConfined).toBe(true);
  expect(rules.exec).toContain(Deno.realPathSync("/usr/bin/cat"));
  expect(rules.exec).toContain(Deno.execPath());
  expect(rules.exec.some((p) => /ld-linux|ld-musl/.test(p))).toBe(Deno.build.os === "linux");
  expect(rules.exec.some((p) => p.endsWith("/rm"))).toBe(false);
  expect(rules.write).toEqual(expect.arrayContaining(["/tmp", "/dev/null"]));
  const trusted = deriveKernelRules({
    config: parseConfig('permission:\n  bash:\n    "*": allow\n'),
    workspace: "/tmp",
  });
  expect(trusted).toMatchObject({ execConfined: false, exec: ["/"] });
});

Deno.test("lint with the kernel layer known: no deny rule over options is suggested, and it says what remains", () => {
  const config = parseConfig('permission:\n  bash:\n    "sort *": allow\n    "kubectl *": allow\n');
  const on = lintConfig(config, { kernel: { available: true, abi: 7 } });
  const sort = on.warnings.find((w) => w.program === "sort")!;
  expect(sort.suggest).not.toMatch(/"sort \*-o\*": deny/);
  expect(sort.suggest).toContain("no deny rule over its options holds");
  // subcommand deny rules still hold, and are still suggested
  expect(on.warnings.find((w) => w.program === "kubectl")!.suggest).toContain(
    '"kubectl exec *": deny',
  );
  expect(on.text).toMatch(/^kernel layer: on here \(Landlock ABI 7\): what sort, kubectl/m);
  const off = lintConfig(config, { kernel: { available: false, reason: "no Landlock" } });
  expect(off.text).toMatch(/^kernel layer: unavailable here \(no Landlock\): the hatches/m);
  // without the kernel layer known (the library default), the old suggestions stand
  expect(lintConfig(config).warnings.find((w) => w.program === "sort")!.suggest).toMatch(
    /: deny$/,
  );
});

Deno.test("sandbox setting: require refuses without the layer, auto warns once, off is off", async () => {
  const missing = () => ({ available: false as const, reason: "this kernel has no Landlock" });
  const lines: string[] = [];
  const log = {
    warn: (m: string, p?: Record<string, unknown>) => lines.push(`${m} ${JSON.stringify(p ?? {})}`),
  } as unknown as Parameters<typeof kernelLayer>[1];
  const cfg = (s: string) => parseConfig(`sandbox: ${s}\n`);
  expect(() => kernelLayer({ config: cfg("require"), workspace: "/tmp" }, log, missing))
    .toThrow(/sandbox: require, but the kernel layer is unavailable: this kernel has no Landlock/);
  expect(kernelLayer({ config: cfg("auto"), workspace: "/tmp" }, log, missing)).toBeUndefined();
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain("this kernel has no Landlock");
  expect(kernelLayer({ config: cfg("off"), workspace: "/tmp" }, log, missing)).toBeUndefined();
  expect(() => parseConfig("sandbox: maybe\n")).toThrow(
    /`sandbox` must be one of auto, require, off/,
  );
  // the CLI: require with --no-sandbox is a usage error, one line, exit 2
  const dir = await Deno.makeTempDir({ prefix: "landlock_cli_" });
  try {
    await Deno.writeTextFile(join(dir, "c.yaml"), "sandbox: require\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../main.ts", import.meta.url).pathname,
        "run",
        "--no-sandbox",
        "--token",
        "t",
        "--url",
        "ws://127.0.0.1:9/ws",
        "--workspace",
        join(dir, "ws"),
        "--config",
        join(dir, "c.yaml"),
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    expect(out.code).toBe(2);
    expect(new TextDecoder().decode(out.stderr)).toContain(
      "flashduty-runner: sandbox: require in the config, but --no-sandbox was given",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
