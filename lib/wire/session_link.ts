/**
 * One session's socket and its end: the one place where a send races the
 * session's end (issue 9 asked for this race to have a name).
 *
 * A frame counts as sent once the socket took it (handed it to the OS)
 * before the session ended. A send still pending when the session ends
 * (a silent peer that reads nothing) counts as not sent: the caller keeps
 * the message and the next session sends it. Nobody waits on such a send
 * past the end, and a late answer from the dead socket changes nothing.
 *
 * The waiters are kept in a set rather than raced against an `ended`
 * promise, because every race on a long-pending promise leaves a reaction
 * on it until it settles: one per send for the whole session.
 *
 * @module
 */
import type { Socket } from "./transport.ts";

export class SessionLink {
  #over = false;
  readonly #waiters = new Set<() => void>();

  constructor(readonly socket: Socket) {}

  /** true once the session ended */
  get over(): boolean {
    return this.#over;
  }

  /** The session ended: every pending sendAll resolves now with what the socket took so far. */
  end(): void {
    this.#over = true;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /**
   * Sends `texts` in order, in one socket write where the transport can
   * (several results ready in the same tick cost one system call, not one
   * each), and resolves to how many of them, from the first, the socket
   * took before a send failed or the session ended.
   */
  async sendAll(texts: readonly string[]): Promise<number> {
    const n = texts.length;
    if (this.#over || n === 0) return 0;
    const done = new Uint8Array(n);
    let wake!: () => void;
    const settled = new Promise<void>((resolve) => wake = resolve);
    this.#waiters.add(wake);
    let left = n;
    const socket = this.socket;
    const write = () => {
      for (let i = 0; i < n; i++) {
        socket.send(texts[i]).then(() => {
          done[i] = 1;
          if (--left === 0) wake();
        }, wake);
      }
    };
    if (socket.corked) socket.corked(write);
    else write();
    await settled;
    this.#waiters.delete(wake);
    let took = 0;
    while (took < n && done[took] === 1) took++;
    return took;
  }
}
