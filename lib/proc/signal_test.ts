import { expect } from "../../tests/deps.ts";
import { libcPath } from "../sys/libc.ts";

/**
 * Under the sandbox's scoped --allow-run, Deno.kill is refused and the
 * fallback is the `kill` program (a spawn per signal). With the FFI grant
 * for libc, a process group is signalled without either.
 */
Deno.test({
  name: "sendSignal: reaches a process group through libc, with no run grant for kill",
  ignore: Deno.build.os !== "linux" || !libcPath(),
  async fn() {
    const sleep = Deno.realPathSync("/usr/bin/sleep");
    const script = `
      import { sendSignal } from ${JSON.stringify(new URL("./signal.ts", import.meta.url).href)};
      const child = new Deno.Command(${
      JSON.stringify(sleep)
    }, { args: ["30"], detached: true }).spawn();
      let direct = "";
      try { Deno.kill(-child.pid, "SIGTERM"); } catch (e) { direct = e.constructor.name; }
      sendSignal(-child.pid, "SIGTERM");
      const status = await child.status;
      let gone = "";
      try { sendSignal(child.pid, "SIGTERM"); } catch (e) { gone = e.constructor.name; }
      console.log(JSON.stringify({ direct, signal: status.signal, gone }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-read",
        `--allow-run=${sleep}`,
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(script));
    await w.close();
    const { stdout, stderr, success } = await out.output();
    expect(new TextDecoder().decode(stderr)).not.toMatch(/error/i);
    expect(success).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(stdout))).toEqual({
      direct: "NotCapable",
      signal: "SIGTERM",
      gone: "NotFound",
    });
  },
});

Deno.test({
  name: "signalIfThere: true when sent, false (not an error) when the group is already gone",
  ignore: Deno.build.os !== "linux" || !libcPath(),
  async fn() {
    const { signalIfThere } = await import("./signal.ts");
    const child = new Deno.Command("sleep", { args: ["30"], detached: true, stdin: "null" })
      .spawn();
    expect(signalIfThere(-child.pid, "SIGKILL")).toBe(true);
    await child.status;
    // the reaped leader's group is empty: what ProcessTree.reap meets after every command
    expect(signalIfThere(-child.pid, "SIGKILL")).toBe(false);
    expect(signalIfThere(child.pid, "SIGTERM")).toBe(false);
  },
});
