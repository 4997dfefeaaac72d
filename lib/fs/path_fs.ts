/**
 * The workspace's file access where descriptors cannot be used (not Linux,
 * no glibc, or no `--allow-ffi` for libc): each path is confined by the
 * workspace's lstat chain, then opened by path with O_NOFOLLOW and checked
 * against what was confined. A directory swapped for a symlink between the
 * check and the open can still be followed: lib/fs/beneath.ts closes that
 * window on Linux, and docs/file-safety.md says what this one leaves.
 *
 * @module
 */
import { join } from "node:path";
import { PathEscapeError, TaskError } from "../tasks/errors.ts";
import { atomicFile, atomicWrite } from "./atomic_write.ts";
import type { Stat } from "./linux_fs.ts";
import { openVerified, readAt } from "./open_file.ts";
import type { RealResolver } from "./beneath.ts";
import {
  type AtomicFile,
  byName,
  chunkStream,
  type DirHandle,
  type FileHandle,
  type OpenMode,
  type WorkspaceFs,
} from "./workspace_fs.ts";

export class PathFs implements WorkspaceFs {
  readonly kind = "path";

  constructor(private readonly root: string, private readonly realRel: RealResolver) {}

  async openFile(rel: string, display: string, mode: OpenMode): Promise<FileHandle> {
    const real = join(this.root, await this.realRel(rel, display));
    if (mode === "read") {
      const { handle, size } = await openVerified(real, display).catch((err) => {
        if (err instanceof TaskError && err.message.startsWith("file not found")) {
          throw new Deno.errors.NotFound(`${display}: No such file or directory`);
        }
        throw err;
      });
      const read = (position: number, length: number) => readAt(handle, position, length);
      return {
        size,
        read,
        readWith: (position, length, use) => read(position, length).then(use),
        readable: () => chunkStream(read),
        write: () => Promise.reject(new TaskError(`${display} is open for reading`)),
        close: () => void handle.close().catch(() => {}),
      };
    }
    const info = await Deno.lstat(real).catch(() => undefined);
    if (info?.isDirectory) throw new TaskError(`cannot write ${display}: it is a directory`);
    if (info && !info.isFile) throw new TaskError(`not a regular file: ${display}`);
    if (info && (info.nlink ?? 1) > 1) {
      throw new TaskError(`cannot write ${display}: it has more than one hard link`);
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(real, { write: true, create: true, append: mode === "append" });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(`${display}: No such file or directory`);
      }
      throw err;
    }
    if (mode === "write") await file.truncate(0);
    return {
      size: 0,
      read: () => Promise.reject(new TaskError(`${display} is open for writing`)),
      readWith: () => Promise.reject(new TaskError(`${display} is open for writing`)),
      readable: () => new ReadableStream({ start: (c) => c.close() }),
      async write(data) {
        for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
      },
      close: () => file.close(),
    };
  }

  async openRealDir(realRel: string): Promise<DirHandle> {
    const dir = join(this.root, realRel);
    const info = await Deno.lstat(dir);
    if (info.isSymlink) throw new PathEscapeError(realRel);
    return {
      async entries() {
        const out = [];
        for await (const e of Deno.readDir(dir)) {
          const kind = e.isSymlink
            ? "symlink"
            : e.isDirectory
            ? "dir"
            : e.isFile
            ? "file"
            : "other";
          out.push({ name: e.name, kind } as const);
        }
        return out.sort(byName);
      },
      stat: (name) => Deno.lstat(join(dir, name)).then(toStat, () => undefined),
      close() {},
    };
  }

  async stat(rel: string): Promise<Stat | undefined> {
    const real = join(this.root, await this.realRel(rel, rel));
    return await Deno.lstat(real).then(toStat, () => undefined);
  }

  async writeAtomic(rel: string, data: Uint8Array, display: string): Promise<void> {
    const real = join(this.root, await this.realRel(rel, display));
    await atomicWrite(this.root, real, data, display);
  }

  async createAtomic(rel: string, display: string): Promise<AtomicFile> {
    const real = join(this.root, await this.realRel(rel, display));
    return await atomicFile(this.root, real, display);
  }
}

function toStat(info: Deno.FileInfo): Stat {
  return {
    kind: info.isSymlink ? "symlink" : info.isDirectory ? "dir" : info.isFile ? "file" : "other",
    size: info.size,
    mode: (info.mode ?? 0o644) & 0o7777,
    nlink: info.nlink ?? 1,
    ino: BigInt(info.ino ?? 0),
    dev: String(info.dev ?? 0),
  };
}
