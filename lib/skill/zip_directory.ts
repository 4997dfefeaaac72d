import { ArchiveError } from "./archive_error.ts";
import { collisionKey, safeEntryPath } from "./entry_names.ts";

/** One entry of a zip archive, checked: a safe relative path and a kind we extract. */
export interface ZipEntry {
  /** the name as the archive wrote it */
  name: string;
  /** safe path components below the extraction directory */
  parts: string[];
  isDir: boolean;
  /** 0 stored, 8 deflate */
  method: 0 | 8;
  crc: number;
  compressedSize: number;
  /** the uncompressed size the archive declares (checked against the real one on extraction) */
  size: number;
  /** where the entry's local header starts */
  headerOffset: number;
  /** where the entry's compressed bytes start */
  dataOffset: number;
  executable: boolean;
}

export interface ZipLimits {
  maxEntries: number;
  maxTotalBytes: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * Reads and checks an archive's central directory without extracting
 * anything. Refuses: a malformed or multi-disk archive, more entries than
 * allowed, encryption, methods other than stored/deflate, unsafe names,
 * symlinks and other special files, duplicates (after normalization),
 * a name that is both a file and a directory, declared sizes over the
 * limit, entries whose local header disagrees with the directory, and
 * entries whose data overlaps another's (the overlapping-file zip bomb).
 */
export function readZipDirectory(zip: Uint8Array, limits: ZipLimits): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = findEocd(zip, view);
  let total = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    throw new ArchiveError("multi-disk archives are not supported");
  }
  let cdLimit = eocd;
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const z64 = readZip64Eocd(view, eocd);
    ({ total, cdSize, cdOffset } = z64);
    cdLimit = z64.at;
  }
  if (total > limits.maxEntries) {
    throw new ArchiveError(`${total} entries, more than the ${limits.maxEntries} allowed`);
  }
  if (cdOffset + cdSize > cdLimit) throw new ArchiveError("central directory out of bounds");

  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let pos = cdOffset;
  for (let i = 0; i < total; i++) {
    if (pos + 46 > cdOffset + cdSize || view.getUint32(pos, true) !== SIG_CENTRAL) {
      throw new ArchiveError("central directory is corrupt (fewer entries than declared)");
    }
    const madeBy = view.getUint16(pos + 4, true);
    const flags = view.getUint16(pos + 8, true);
    const method = view.getUint16(pos + 10, true);
    const crc = view.getUint32(pos + 16, true);
    let compressedSize = view.getUint32(pos + 20, true);
    let size = view.getUint32(pos + 24, true);
    const nameLen = view.getUint16(pos + 28, true);
    const extraLen = view.getUint16(pos + 30, true);
    const commentLen = view.getUint16(pos + 32, true);
    const external = view.getUint32(pos + 38, true);
    let localOffset = view.getUint32(pos + 42, true);
    const next = pos + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) throw new ArchiveError("central directory is corrupt");
    const nameBytes = zip.subarray(pos + 46, pos + 46 + nameLen);
    let name: string;
    try {
      name = decoder.decode(nameBytes);
    } catch {
      throw new ArchiveError(`entry #${i + 1}: name is not valid UTF-8`);
    }
    const z64 = readZip64Extra(view, pos + 46 + nameLen, extraLen, {
      size: size === 0xffffffff,
      compressedSize: compressedSize === 0xffffffff,
      localOffset: localOffset === 0xffffffff,
    }, name);
    size = z64.size ?? size;
    compressedSize = z64.compressedSize ?? compressedSize;
    localOffset = z64.localOffset ?? localOffset;

    const quoted = JSON.stringify(name);
    if (flags & 0x41) {
      throw new ArchiveError(`entry ${quoted}: encrypted entries are not supported`);
    }
    if (method !== 0 && method !== 8) {
      throw new ArchiveError(`entry ${quoted}: compression method ${method} is not supported`);
    }
    const parts = safeEntryPath(name);
    // Unix mode bits live in the high half; honour them whatever OS claims to
    // have made the archive, so a symlink cannot hide behind a DOS "made by".
    const mode = external >>> 16;
    const type = mode & S_IFMT;
    if (type === S_IFLNK) throw new ArchiveError(`entry ${quoted}: symlinks are not allowed`);
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      throw new ArchiveError(
        `entry ${quoted}: special files (device, fifo, socket) are not allowed`,
      );
    }
    const isDir = name.endsWith("/") || type === S_IFDIR ||
      ((madeBy >> 8) === 0 && (external & 0x10) !== 0);
    if (isDir && size !== 0) throw new ArchiveError(`entry ${quoted}: a directory with data`);
    if (method === 0 && compressedSize !== size) {
      throw new ArchiveError(`entry ${quoted}: stored entry whose sizes disagree`);
    }
    const dataOffset = checkLocalHeader(zip, view, localOffset, nameBytes, method, quoted);
    if (dataOffset + compressedSize > cdOffset) {
      throw new ArchiveError(`entry ${quoted}: data out of bounds`);
    }
    entries.push({
      name,
      parts,
      isDir,
      method,
      crc,
      compressedSize,
      size,
      headerOffset: localOffset,
      dataOffset,
      executable: (mode & 0o111) !== 0,
    });
    pos = next;
  }
  if (pos !== cdOffset + cdSize) {
    throw new ArchiveError("central directory holds more than the declared entries");
  }
  checkOverlaps(entries);
  checkNames(entries);
  const declared = entries.reduce((n, e) => n + e.size, 0);
  if (declared > limits.maxTotalBytes) {
    throw new ArchiveError(
      `uncompressed size ${declared} bytes is over the ${limits.maxTotalBytes} byte limit`,
    );
  }
  return entries;
}

function findEocd(zip: Uint8Array, view: DataView): number {
  const lowest = Math.max(0, zip.length - 22 - 0xffff);
  for (let p = zip.length - 22; p >= lowest; p--) {
    if (
      view.getUint32(p, true) === SIG_EOCD && p + 22 + view.getUint16(p + 20, true) <= zip.length
    ) {
      return p;
    }
  }
  throw new ArchiveError("not a zip archive (no end of central directory)");
}

function readZip64Eocd(view: DataView, eocd: number) {
  const loc = eocd - 20;
  if (loc < 0 || view.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) {
    throw new ArchiveError("zip64 archive without its locator");
  }
  const at = u64(view, loc + 8, "zip64 end of central directory offset");
  if (at + 56 > loc || view.getUint32(at, true) !== SIG_ZIP64_EOCD) {
    throw new ArchiveError("zip64 end of central directory is corrupt");
  }
  return {
    at,
    total: u64(view, at + 32, "entry count"),
    cdSize: u64(view, at + 40, "central directory size"),
    cdOffset: u64(view, at + 48, "central directory offset"),
  };
}

/** The zip64 extra field (0x0001) holds, in order, only the values the record marked 0xffffffff. */
function readZip64Extra(
  view: DataView,
  start: number,
  length: number,
  want: { size: boolean; compressedSize: boolean; localOffset: boolean },
  name: string,
): { size?: number; compressedSize?: number; localOffset?: number } {
  if (!want.size && !want.compressedSize && !want.localOffset) return {};
  for (let p = start; p + 4 <= start + length;) {
    const id = view.getUint16(p, true);
    const len = view.getUint16(p + 2, true);
    if (id === 0x0001) {
      const out: { size?: number; compressedSize?: number; localOffset?: number } = {};
      let q = p + 4;
      const take = (what: string) => {
        if (q + 8 > p + 4 + len) {
          throw new ArchiveError(`entry ${JSON.stringify(name)}: bad zip64 field`);
        }
        const v = u64(view, q, what);
        q += 8;
        return v;
      };
      if (want.size) out.size = take("size");
      if (want.compressedSize) out.compressedSize = take("compressed size");
      if (want.localOffset) out.localOffset = take("offset");
      return out;
    }
    p += 4 + len;
  }
  throw new ArchiveError(`entry ${JSON.stringify(name)}: zip64 sizes missing`);
}

function u64(view: DataView, at: number, what: string): number {
  if (at + 8 > view.byteLength) throw new ArchiveError(`${what} out of bounds`);
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveError(`${what} is too large`);
  return Number(v);
}

/** The local header must name the same entry with the same method; returns where its data starts. */
function checkLocalHeader(
  zip: Uint8Array,
  view: DataView,
  offset: number,
  centralName: Uint8Array,
  method: number,
  quoted: string,
): number {
  if (offset + 30 > zip.length || view.getUint32(offset, true) !== SIG_LOCAL) {
    throw new ArchiveError(`entry ${quoted}: local header missing`);
  }
  const nameLen = view.getUint16(offset + 26, true);
  const extraLen = view.getUint16(offset + 28, true);
  const localName = zip.subarray(offset + 30, offset + 30 + nameLen);
  if (localName.length !== centralName.length || localName.some((b, i) => b !== centralName[i])) {
    throw new ArchiveError(`entry ${quoted}: local header names a different file`);
  }
  if (view.getUint16(offset + 8, true) !== method) {
    throw new ArchiveError(`entry ${quoted}: local header disagrees on the compression method`);
  }
  return offset + 30 + nameLen + extraLen;
}

/** Entries must not share bytes: overlapping entries inflate the same data many times. */
function checkOverlaps(entries: ZipEntry[]): void {
  const spans = [...entries].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].headerOffset < prev.dataOffset + prev.compressedSize) {
      throw new ArchiveError(
        `entries ${JSON.stringify(prev.name)} and ${JSON.stringify(spans[i].name)} overlap`,
      );
    }
  }
}

/** No two entries on one path (after normalization), and no path both a file and a directory. */
function checkNames(entries: ZipEntry[]): void {
  const seen = new Map<string, string>();
  const files = new Map<string, string>();
  const dirs = new Map<string, string>();
  for (const e of entries) {
    const key = collisionKey(e.parts);
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new ArchiveError(
        `entries ${JSON.stringify(previous)} and ${JSON.stringify(e.name)} name the same file`,
      );
    }
    seen.set(key, e.name);
    (e.isDir ? dirs : files).set(key, e.name);
    for (let i = 1; i < e.parts.length; i++) {
      const parent = collisionKey(e.parts.slice(0, i));
      if (!dirs.has(parent)) dirs.set(parent, e.name);
    }
  }
  for (const [key, name] of files) {
    if (dirs.has(key)) {
      throw new ArchiveError(
        `entry ${JSON.stringify(name)} is a file and also the directory of ${
          JSON.stringify(dirs.get(key))
        }`,
      );
    }
  }
}
