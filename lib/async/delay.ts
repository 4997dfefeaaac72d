/**
 * The one "wait, unless told to stop" of the runner: the reconnect backoff
 * and the supervisor's restart delay both sleep until their time is up or
 * a stop cuts the wait short. The timer is always cleared, so an early stop
 * leaves nothing that keeps the process alive.
 *
 * @module
 */

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
