import { expect } from "../../tests/deps.ts";
import { SessionLink } from "./session_link.ts";
import type { Socket } from "./transport.ts";

/** A socket whose sends settle only when the test says so. */
function heldSocket() {
  const pending: { text: string; ok(): void; fail(): void }[] = [];
  let corks = 0;
  const socket: Socket = {
    send: (text) =>
      new Promise<void>((ok, reject) =>
        pending.push({ text, ok, fail: () => reject(new Error("closed")) })
      ),
    close() {},
    corked(write) {
      corks++;
      write();
    },
  };
  return { socket, pending, corks: () => corks };
}

Deno.test("session link: frames ready together go out in one corked write, in order", async () => {
  const { socket, pending, corks } = heldSocket();
  const link = new SessionLink(socket);
  const took = link.sendAll(["a", "b", "c"]);
  expect(corks()).toBe(1);
  expect(pending.map((p) => p.text)).toEqual(["a", "b", "c"]);
  for (const p of pending) p.ok();
  expect(await took).toBe(3);
});

Deno.test("session link: a send still pending when the session ends counts as not sent", async () => {
  const { socket, pending } = heldSocket();
  const link = new SessionLink(socket);
  const took = link.sendAll(["a", "b"]);
  pending[0].ok();
  await Promise.resolve();
  link.end(); // the peer went silent: "b" never completes
  expect(await took).toBe(1);
  pending[1].ok(); // a late answer from the dead socket changes nothing
  expect(await link.sendAll(["c"])).toBe(0); // nothing is sent on an ended session
  expect(pending.length).toBe(2);
});

Deno.test("session link: a failed send ends the count; only the frames before it were taken", async () => {
  const { socket, pending } = heldSocket();
  const link = new SessionLink(socket);
  const took = link.sendAll(["a", "b", "c"]);
  pending[0].ok();
  pending[1].fail();
  pending[2].fail();
  expect(await took).toBe(1);
});
