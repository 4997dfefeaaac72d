/**
 * Writes zip archives byte by byte from a JSON-able spec, so tests can forge
 * what a real zipper never would: sizes that lie, symlink attributes, names
 * with `..` or backslashes, duplicate names, local headers that disagree
 * with the central directory, overlapping entries, corrupt data.
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../../lib/skill/crc32.ts";

export interface ZipEntrySpec {
  name: string;
  /** UTF-8 text content */
  content?: string;
  /** generated content: `size` copies of `byte` (for bombs and big files) */
  fill?: { byte: number; size: number };
  /** default deflate (directories: stored) */
  method?: "stored" | "deflate";
  /** raw compression method number written in both headers (e.g. 12, bzip2) */
  methodCode?: number;
  /** the uncompressed size written in the headers, whatever the data holds */
  declaredSize?: number;
  /** the CRC written in the headers */
  crc?: number;
  /** unix mode, octal text, e.g. "120777" for a symlink, "100755" for an executable */
  unixMode?: string;
  /** host OS in "version made by" (3 unix, the default; 0 MS-DOS) */
  madeBy?: number;
  /** MS-DOS attribute byte (0x10 = directory) */
  msdosAttrs?: number;
  /** general purpose flags (bit 0 = encrypted) */
  flags?: number;
  /** a different name in the local header */
  localName?: string;
  /** the name as raw bytes (base64), e.g. invalid UTF-8 */
  nameBase64?: string;
  /** flip bytes in the middle of the compressed data */
  corruptData?: boolean;
  /** drop this many bytes from the end of the compressed data */
  truncateData?: number;
  /** the central directory claims the data runs on over the following entries (overlap) */
  spanToEnd?: boolean;
}

export interface ZipSpec {
  entries?: ZipEntrySpec[];
  /** `count` more small stored entries named `${prefix}${i}` */
  generate?: { count: number; prefix: string };
  /** `copies` extra central records pointing at the first entry's data (Fifield's overlap bomb) */
  overlap?: { copies: number };
  /** write this entry count in the end record instead of the real one */
  eocdTotal?: number;
  /** not a zip at all: these bytes (base64) */
  rawBase64?: string;
}

interface Built {
  nameBytes: Uint8Array;
  localNameBytes: Uint8Array;
  data: Uint8Array;
  method: number;
  crc: number;
  size: number;
  flags: number;
  external: number;
  madeBy: number;
  spanToEnd: boolean;
  offset: number;
}

const deflateCache = new Map<string, Uint8Array>();

function content(e: ZipEntrySpec): Uint8Array {
  if (e.fill) return new Uint8Array(e.fill.size).fill(e.fill.byte);
  return new TextEncoder().encode(e.content ?? "");
}

function compress(e: ZipEntrySpec, raw: Uint8Array): Uint8Array {
  const key = e.fill ? `${e.fill.byte}x${e.fill.size}` : undefined;
  const hit = key ? deflateCache.get(key) : undefined;
  if (hit) return hit;
  const out = new Uint8Array(deflateRawSync(raw));
  if (key) deflateCache.set(key, out);
  return out;
}

function prepare(e: ZipEntrySpec): Omit<Built, "offset"> {
  const raw = content(e);
  const isDir = e.name.endsWith("/");
  const stored = e.method === "stored" || (e.method === undefined && isDir);
  let data = stored ? raw : compress(e, raw);
  if (e.corruptData) {
    data = data.slice();
    for (let i = Math.floor(data.length / 3); i < Math.min(data.length, data.length / 3 + 8); i++) {
      data[i] ^= 0xa5;
    }
  }
  if (e.truncateData) data = data.subarray(0, Math.max(0, data.length - e.truncateData));
  const nameBytes = e.nameBase64
    ? Uint8Array.fromBase64(e.nameBase64)
    : new TextEncoder().encode(e.name);
  const mode = e.unixMode !== undefined ? parseInt(e.unixMode, 8) : isDir ? 0o40755 : 0o100644;
  return {
    nameBytes,
    localNameBytes: e.localName !== undefined ? new TextEncoder().encode(e.localName) : nameBytes,
    data,
    method: e.methodCode ?? (stored ? 0 : 8),
    crc: e.crc ?? crc32(raw),
    size: e.declaredSize ?? raw.length,
    flags: e.flags ?? 0x0800, // UTF-8 names
    external: ((mode << 16) | (e.msdosAttrs ?? (isDir ? 0x10 : 0))) >>> 0,
    madeBy: e.madeBy ?? 3,
    spanToEnd: e.spanToEnd ?? false,
  };
}

/** The zip file bytes for `spec`. */
export function buildZip(spec: ZipSpec): Uint8Array {
  if (spec.rawBase64 !== undefined) return Uint8Array.fromBase64(spec.rawBase64);
  const specs = [...(spec.entries ?? [])];
  for (let i = 0; i < (spec.generate?.count ?? 0); i++) {
    specs.push({ name: `${spec.generate!.prefix}${i}`, content: "x", method: "stored" });
  }
  const out = new Writer();
  const built: Built[] = [];
  for (const s of specs) {
    const b = { ...prepare(s), offset: out.length };
    out.u32(0x04034b50).u16(20).u16(b.flags).u16(b.method).u16(0).u16(0x21)
      .u32(b.crc).u32(b.data.length).u32(b.size)
      .u16(b.localNameBytes.length).u16(0).bytes(b.localNameBytes).bytes(b.data);
    built.push(b);
  }
  const records = [...built];
  for (let i = 0; i < (spec.overlap?.copies ?? 0); i++) {
    records.push({ ...built[0], nameBytes: new TextEncoder().encode(`copy${i}`) });
  }
  const cdOffset = out.length;
  for (const b of records) {
    const dataStart = b.offset + 30 + b.localNameBytes.length;
    const compressed = b.spanToEnd ? cdOffset - dataStart : b.data.length;
    out.u32(0x02014b50).u16((b.madeBy << 8) | 20).u16(20).u16(b.flags).u16(b.method)
      .u16(0).u16(0x21).u32(b.crc).u32(compressed).u32(b.size)
      .u16(b.nameBytes.length).u16(0).u16(0).u16(0).u16(0).u32(b.external).u32(b.offset)
      .bytes(b.nameBytes);
  }
  const cdSize = out.length - cdOffset;
  const total = spec.eocdTotal ?? records.length;
  out.u32(0x06054b50).u16(0).u16(0).u16(total).u16(total).u32(cdSize).u32(cdOffset).u16(0);
  return out.finish();
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;

  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v & 0xffff, true);
    return this.bytes(b);
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.bytes(b);
  }

  bytes(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
