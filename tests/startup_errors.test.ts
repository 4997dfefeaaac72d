/**
 * Every start-up problem is one line naming the setting and its value, and
 * exit code 2 (systemd does not restart on it). Each case starts the real
 * CLI; none may get as far as connecting (the URL points at a closed port).
 */
import { expect } from "./deps.ts";
import { MAIN } from "./support/runner.ts";

const CLOSED_URL = "ws://127.0.0.1:9/ws";

async function start(args: string[], opts: { wrap?: string[]; env?: Record<string, string> } = {}) {
  const argv = [Deno.execPath(), "run", "--allow-all", MAIN, "run", ...args];
  const [cmd, ...rest] = [...(opts.wrap ?? []), ...argv];
  const out = await new Deno.Command(cmd, {
    args: rest,
    env: { NO_COLOR: "1", FLASHDUTY_RUNNER_TOKEN: "", ...(opts.env ?? {}) },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Exit 2, nothing on stdout, exactly one line on stderr, which matches `want`. */
function expectOneLine(r: { code: number; stdout: string; stderr: string }, want: RegExp) {
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  expect({ code: r.code, lines }).toEqual({ code: 2, lines: [expect.stringMatching(want)] });
  expect(lines[0]).toMatch(/^flashduty-runner: /);
  expect(lines[0]).not.toMatch(/os error/);
}

Deno.test("startup: missing token names the flag and the env variable", async () => {
  const ws = await Deno.makeTempDir();
  expectOneLine(
    await start(["--url", CLOSED_URL, "--workspace", ws]),
    /missing token: pass --token or set FLASHDUTY_RUNNER_TOKEN/,
  );
});

Deno.test("startup: a bad URL names --url and the value", async () => {
  const ws = await Deno.makeTempDir();
  expectOneLine(
    await start(["--token", "t", "--url", "not a url", "--workspace", ws]),
    /invalid --url "not a url"/,
  );
  expectOneLine(
    await start(["--token", "t", "--url", "https://example.com/ws", "--workspace", ws]),
    /invalid --url.*wss:\/\//,
  );
});

Deno.test("startup: a broken or missing config names the file and line", async () => {
  const ws = await Deno.makeTempDir();
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(file, "permission:\n  bash:\n    ls: maybe\n");
  expectOneLine(
    await start(["--token", "t", "--url", CLOSED_URL, "--workspace", ws, "--config", file]),
    new RegExp(`config ${file}:3: .*unknown action "maybe"`),
  );
  expectOneLine(
    await start(["--token", "t", "--url", CLOSED_URL, "--workspace", ws, "--config", ws + "/nope"]),
    new RegExp(`config ${ws}/nope: cannot read: does not exist$`),
  );
});

Deno.test("startup: a workspace that is a file, or under a file, names --workspace", async () => {
  const file = await Deno.makeTempFile();
  expectOneLine(
    await start(["--token", "t", "--url", CLOSED_URL, "--workspace", file]),
    new RegExp(`invalid --workspace "${file}".*: exists and is a file, not a directory`),
  );
  expectOneLine(
    await start(["--token", "t", "--url", CLOSED_URL, "--workspace", `${file}/sub/ws`]),
    new RegExp(`invalid --workspace "${file}/sub/ws".*: .*\\(${file} is a file\\)$`),
  );
});

Deno.test("startup: bad numbers and names in other settings are one line each", async () => {
  const ws = await Deno.makeTempDir();
  const base = ["--token", "t", "--url", CLOSED_URL, "--workspace", ws];
  expectOneLine(await start([...base, "--log-level", "loud"]), /unknown log level "loud"/);
  expectOneLine(
    await start([...base, "--max-concurrent-tasks", "0"]),
    /--max-concurrent-tasks must be a positive integer, got "0"/,
  );
  expectOneLine(await start([...base, "--transport", "carrier-pigeon"]), /unknown transport/);
});

// Root ignores file modes, so the unwritable workspace is a read-only tmpfs
// in a private mount namespace (unshare -rm: no privilege needed).
const canUnshare = await new Deno.Command("unshare", {
  args: ["-rm", "true"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name: "startup: an existing but unwritable workspace is caught at start, not by the first write",
  ignore: !canUnshare,
  fn: async () => {
    const ws = await Deno.makeTempDir({ prefix: "fdr-ro-" });
    const r = await start(["--token", "t", "--url", CLOSED_URL, "--workspace", ws], {
      wrap: [
        "unshare",
        "-rm",
        "sh",
        "-c",
        `mount -t tmpfs -o ro tmpfs "$0" && exec "$@"`,
        ws,
      ],
    });
    expectOneLine(
      r,
      new RegExp(`invalid --workspace "${ws}".*: not writable: read-only file system`),
    );
  },
});

Deno.test({
  name: "startup: the writable control starts (so the read-only case fails only on writability)",
  ignore: !canUnshare,
  fn: async () => {
    const ws = await Deno.makeTempDir({ prefix: "fdr-rw-" });
    const child = new Deno.Command("unshare", {
      args: [
        "-rm",
        "sh",
        "-c",
        `mount -t tmpfs tmpfs "$0" && exec "$@"`,
        ws,
        Deno.execPath(),
        "run",
        "--allow-all",
        MAIN,
        "run",
        "--no-sandbox",
        "--token",
        "t",
        "--url",
        CLOSED_URL,
        "--workspace",
        ws,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/starting/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGKILL");
    await reader.cancel();
    await child.status;
    expect(text).toMatch(/starting/);
    expect(text).not.toMatch(/invalid --workspace/);
  },
});
