import { expect } from "../../tests/deps.ts";
import { ProcessTree } from "../bash/proc.ts";
import { mergedPipe, mergedPipeAvailable } from "./spawn_merged.ts";

const linux = Deno.build.os === "linux";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name: "merged pipe: fd 1 and fd 2 of a program are one pipe, read in the order written",
  ignore: !linux,
  async fn() {
    expect(mergedPipeAvailable()).toBe(true);
    const tree = new ProcessTree();
    const script = "i=0; while [ $i -lt 2000 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done";
    const s = tree.spawn(
      "/bin/sh",
      {
        args: ["-c", script],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      },
      "sh",
      true,
    );
    expect(s.merged).toBe(true);
    const [text, rest] = await Promise.all([readAll(s.child.stdout), readAll(s.child.stderr)]);
    expect((await s.child.status).code).toBe(0);
    tree.reap(s.pid);
    const want = Array.from({ length: 2000 }, (_, i) => `o${i}\ne${i}\n`).join("");
    expect(text).toBe(want);
    expect(rest).toBe("");
  },
});

Deno.test({
  name: "merged pipe: no descriptor outlives its program, read to the end or cancelled early",
  ignore: !linux,
  async fn() {
    const tree = new ProcessTree();
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const s = tree.spawn(
        "/bin/sh",
        {
          args: ["-c", "echo a; echo b >&2; while :; do echo y; done"],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        },
        "sh",
        true,
      );
      if (i % 2 === 0) {
        // the reader stops: the read end closes, the writer gets SIGPIPE and ends
        const reader = s.child.stdout.getReader();
        await reader.read();
        await reader.cancel();
      } else {
        // killed, read to end-of-file
        Deno.kill(s.pid, "SIGKILL");
        await readAll(s.child.stdout);
      }
      const status = await s.child.status;
      expect(status.signal).toBe(i % 2 === 0 ? "SIGPIPE" : "SIGKILL");
      tree.reap(s.pid);
    }
    expect(openFds()).toBe(before);
  },
});

Deno.test({
  name: "merged pipe: a pipe made but never used closes both ends",
  ignore: !linux,
  async fn() {
    const before = openFds();
    const p = mergedPipe()!;
    expect(openFds()).toBe(before + 2);
    p.closeWrite();
    p.closeWrite(); // twice is harmless: the fd number may belong to someone else by now
    await p.readable.cancel();
    expect(openFds()).toBe(before);
  },
});
