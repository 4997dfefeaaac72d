import { basename, dirname, join } from "node:path";
import { TaskError } from "../tasks/errors.ts";

/** One replacement at a time per directory, so two syncs of one skill cannot interleave. */
const locks = new Map<string, Promise<unknown>>();

export async function withDirectoryLock<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(target) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(fn);
  locks.set(target, run);
  try {
    return await run;
  } finally {
    if (locks.get(target) === run) locks.delete(target);
  }
}

/**
 * Replaces the directory `target` with one that `fill` builds, all or
 * nothing: `fill` writes into a new directory beside the target; only when it
 * succeeds is the old directory renamed away, the new one renamed in, and
 * the old one removed. If `fill` fails, the new directory is removed and the
 * target is left exactly as it was. (Renames within one directory are atomic;
 * between the two renames the target is briefly absent.)
 */
export async function replaceDirectory(
  target: string,
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  const existing = await Deno.lstat(target).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  });
  if (existing && !existing.isDirectory) {
    throw new TaskError(`skill_dir exists and is not a directory: ${basename(target)}`);
  }
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true, mode: 0o755 });
  const tag = crypto.randomUUID().slice(0, 8);
  const fresh = join(parent, `.${basename(target)}.sync-${tag}`);
  await Deno.mkdir(fresh, { mode: 0o755 });
  try {
    await fill(fresh);
  } catch (err) {
    await removeTree(fresh);
    throw err;
  }
  if (!existing) {
    await Deno.rename(fresh, target).catch(async (err) => {
      await removeTree(fresh);
      throw err;
    });
    return;
  }
  const old = join(parent, `.${basename(target)}.old-${tag}`);
  try {
    await Deno.rename(target, old);
  } catch (err) {
    await removeTree(fresh);
    throw err;
  }
  try {
    await Deno.rename(fresh, target);
  } catch (err) {
    await Deno.rename(old, target).catch(() => {});
    await removeTree(fresh);
    throw err;
  }
  await removeTree(old);
}

async function removeTree(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}
