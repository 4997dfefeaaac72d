import { writeAll } from "../async/write_all.ts";
import { dirname, join } from "node:path";
import { FflateInflate } from "../deps/zip.ts";
import { TaskError } from "../tasks/errors.ts";
import { ArchiveError } from "./archive_error.ts";
import { Crc32 } from "./crc32.ts";
import type { ZipEntry } from "./zip_directory.ts";

/**
 * Compressed bytes fed to the inflater at a time. Deflate expands at most
 * ~1032:1, so one feed yields at most ~4 MB: memory stays bounded whatever
 * the archive claims.
 */
const FEED_BYTES = 4 * 1024;

/**
 * Writes `entries` of `zip` below `dest` (a fresh, empty directory). Sizes
 * are counted as the data inflates, never taken from the headers: an entry
 * that inflates past its declared size, or to less, or fails its CRC, or
 * pushes the total past `maxTotalBytes`, stops the extraction with an
 * ArchiveError. The caller throws `dest` away on any error.
 */
export async function extractEntries(
  zip: Uint8Array,
  entries: ZipEntry[],
  dest: string,
  maxTotalBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  let total = 0;
  const made = new Set<string>([dest]);
  const mkdirOnce = async (dir: string) => {
    if (made.has(dir)) return;
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    made.add(dir);
  };
  for (const entry of entries) {
    if (signal?.aborted) throw new TaskError("sync_skill cancelled");
    const path = join(dest, ...entry.parts);
    if (entry.isDir) {
      await mkdirOnce(path);
      continue;
    }
    await mkdirOnce(dirname(path));
    // createNew: never follow or overwrite anything already there.
    const file = await Deno.open(path, {
      write: true,
      createNew: true,
      mode: entry.executable ? 0o755 : 0o644,
    });
    try {
      const crc = new Crc32();
      let written = 0;
      const count = (chunk: Uint8Array) => {
        written += chunk.length;
        total += chunk.length;
        if (written > entry.size) {
          throw new ArchiveError(
            `entry ${
              JSON.stringify(entry.name)
            }: inflates past its declared size of ${entry.size} bytes`,
          );
        }
        if (total > maxTotalBytes) {
          throw new ArchiveError(`uncompressed size is over the ${maxTotalBytes} byte limit`);
        }
        crc.update(chunk);
      };
      const data = zip.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
      if (entry.method === 0) {
        for (let at = 0; at < data.length; at += 64 * 1024) {
          const chunk = data.subarray(at, at + 64 * 1024);
          count(chunk);
          await writeAll(file, chunk);
        }
      } else {
        await inflateTo(data, entry, count, file);
      }
      if (written !== entry.size) {
        throw new ArchiveError(
          `entry ${
            JSON.stringify(entry.name)
          }: holds ${written} bytes, not the declared ${entry.size}`,
        );
      }
      if (crc.value !== entry.crc) {
        throw new ArchiveError(`entry ${JSON.stringify(entry.name)}: CRC mismatch (corrupt data)`);
      }
    } finally {
      file.close();
    }
  }
}

async function inflateTo(
  data: Uint8Array,
  entry: ZipEntry,
  count: (chunk: Uint8Array) => void,
  file: Deno.FsFile,
): Promise<void> {
  let pending: Uint8Array[] = [];
  let ended = false;
  // The callback runs inside push(): counting there stops a bomb mid-feed.
  const inflater = new FflateInflate((chunk: Uint8Array, final: boolean) => {
    count(chunk);
    pending.push(chunk);
    if (final) ended = true;
  });
  const corrupt = (err: unknown) =>
    err instanceof ArchiveError ? err : new ArchiveError(
      `entry ${JSON.stringify(entry.name)}: corrupt compressed data (${(err as Error).message})`,
    );
  let at = 0;
  do {
    const end = Math.min(at + FEED_BYTES, data.length);
    try {
      inflater.push(data.subarray(at, end), end === data.length);
    } catch (err) {
      throw corrupt(err);
    }
    at = end;
    for (const chunk of pending) await writeAll(file, chunk);
    pending = [];
  } while (at < data.length);
  if (!ended) throw corrupt(new Error("the deflate stream does not end"));
}
