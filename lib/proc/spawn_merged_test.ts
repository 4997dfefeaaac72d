import { expect } from "../../tests/deps.ts";
import { ProcessTree } from "../bash/proc.ts";
import { mergedPipe, mergedPipeAvailable } from "./spawn_merged.ts";

const linux = Deno.build.os === "linux";

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/**
 * The descriptors of this process open on `pipe` ("pipe:[inode]"). Counted by
 * identity, not by number: `deno task test` runs other modules in this process.
 */
function openOn(pipe: string): number[] {
  const fds: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === pipe) fds.push(Number(e.name));
    } catch {
      // closed meanwhile (readDir's own descriptor, another module's file)
    }
  }
  return fds;
}

/** The pipe a started program has as fd 1, once it has it; fd 2 must be the same one. */
async function outputPipe(pid: number): Promise<string> {
  for (let i = 0; i < 200; i++) {
    try {
      const out = Deno.readLinkSync(`/proc/${pid}/fd/1`);
      if (out.startsWith("pipe:")) {
        expect(Deno.readLinkSync(`/proc/${pid}/fd/2`)).toBe(out);
        return out;
      }
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no pipe on fd 1 of ${pid}`);
}

// Both ways a program is started: posix_spawn (spawn_native.ts) and the
// node:child_process fallback with this module's pipe.
for (const native of [true, false]) {
  const how = native ? "posix_spawn" : "node:child_process";

  Deno.test({
    name:
      `merged pipe (${how}): fd 1 and fd 2 of a program are one pipe, read in the order written`,
    ignore: !linux,
    async fn() {
      expect(mergedPipeAvailable()).toBe(true);
      const tree = new ProcessTree({ native });
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
    name:
      `merged pipe (${how}): no descriptor outlives its program, read to the end or cancelled early`,
    ignore: !linux,
    async fn() {
      const tree = new ProcessTree({ native });
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
        const pipe = await outputPipe(s.pid);
        expect(openOn(pipe)).toHaveLength(1); // our read end; the write end went to the child
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
        expect(openOn(pipe)).toEqual([]);
      }
    },
  });
}

Deno.test({
  name: "merged pipe: a pipe made but never used closes both ends",
  ignore: !linux,
  async fn() {
    const p = mergedPipe()!;
    const pipe = Deno.readLinkSync(`/proc/self/fd/${p.writeFd}`);
    expect(openOn(pipe)).toHaveLength(2);
    p.closeWrite();
    p.closeWrite(); // twice is harmless: the fd number may belong to someone else by now
    await p.readable.cancel();
    expect(openOn(pipe)).toEqual([]);
  },
});
