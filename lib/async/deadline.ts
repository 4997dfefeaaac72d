/**
 * Racing work against a deadline, written once: the timer is always cleared
 * (a leaked timer keeps a process alive and trips Deno's test sanitizers),
 * and an abort signal, when given, ends the wait with its reason.
 *
 * @module
 */

/**
 * `work`'s value, or `onTimeout()`'s if `ms` pass first (a throwing
 * `onTimeout` rejects). With `signal`, an abort rejects with its reason.
 * `work` itself is not cancelled: callers that own it stop it themselves.
 */
export async function withDeadline<T, F>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => F,
  signal?: AbortSignal,
): Promise<T | F> {
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race<T | F>([
      work,
      new Promise<F>((resolve, reject) => {
        timer = setTimeout(() => {
          try {
            resolve(onTimeout());
          } catch (err) {
            reject(err);
          }
        }, ms);
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
