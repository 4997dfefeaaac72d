/**
 * Writes all of `data` to a writer whose `write` may take only part of it
 * (a socket, a file): one loop, shared by the webfetch relay and skill
 * extraction.
 */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: string | Uint8Array,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let done = 0;
  while (done < bytes.length) done += await w.write(bytes.subarray(done));
}
