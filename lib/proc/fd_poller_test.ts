import { expect } from "../../tests/deps.ts";
import { fdPoller } from "./fd_poller.ts";
import { closeFd, fdReadable, fdWritable, openPipe } from "./fd_stream.ts";

const linux = Deno.build.os === "linux";

Deno.test({
  name: "fd poller: a read waits until the writer writes, a write until the reader makes room",
  ignore: !linux,
  async fn() {
    const { readFd, writeFd } = openPipe();
    const reader = fdReadable(readFd).getReader();
    const writer = fdWritable(writeFd).getWriter();
    let got = false;
    const first = reader.read().then((r) => {
      got = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe(false); // nothing written yet: the read waits, the event loop does not
    await writer.write(new TextEncoder().encode("hi"));
    expect(new TextDecoder().decode((await first).value)).toBe("hi");
    // more than a pipe holds (64 KiB): the write completes only as the reader drains
    const big = new Uint8Array(1 << 20).fill(120);
    const written = writer.write(big).then(() => writer.close());
    let total = 0;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      total += r.value.byteLength;
    }
    await written;
    expect(total).toBe(big.byteLength);
  },
});

Deno.test({
  name: "fd poller: forgetting the last descriptor ends the pending wait (no call outlives it)",
  ignore: !linux,
  async fn() {
    const poller = fdPoller()!;
    const { readFd, writeFd } = openPipe();
    const waited = poller.wait(readFd, "read");
    expect(() => poller.wait(readFd, "read")).toThrow(/already waited for/);
    poller.forget(readFd);
    await waited; // resolved by forget
    expect(poller.waiting).toBe(true); // the epoll_wait is still in flight on its thread...
    for (let i = 0; i < 1000 && poller.waiting; i++) await new Promise((r) => setTimeout(r, 5));
    expect(poller.waiting).toBe(false); // ...and returns: nothing else would ever wake it
    closeFd(readFd);
    closeFd(writeFd);
  },
});

Deno.test({
  name: "fd poller: a cancelled reader and an aborted writer close their ends",
  ignore: !linux,
  async fn() {
    const { readFd, writeFd } = openPipe();
    const pipe = Deno.readLinkSync(`/proc/self/fd/${readFd}`);
    const open = () =>
      Deno.readDirSync("/proc/self/fd").toArray().filter((e) => {
        try {
          return Deno.readLinkSync(`/proc/self/fd/${e.name}`) === pipe;
        } catch {
          return false;
        }
      }).length;
    const reader = fdReadable(readFd).getReader();
    const pending = reader.read(); // waits: nothing written
    const writer = fdWritable(writeFd).getWriter();
    expect(open()).toBe(2);
    await reader.cancel();
    expect((await pending).done).toBe(true);
    // the reader is gone: a write fails with BrokenPipe (EPIPE), not SIGPIPE
    await expect(writer.write(new Uint8Array(10))).rejects.toThrow(Deno.errors.BrokenPipe);
    expect(open()).toBe(0);
  },
});
