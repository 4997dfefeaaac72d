/**
 * The workspace file operations (read, write, list, glob) against real
 * files in temp dirs: result shapes as docs/protocol.md gives them, the edge
 * cases the platform relies on, atomic writes under a concurrent reader and
 * a crash. grep has its own file (grep.test.ts).
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { read } from "../lib/operations/read.ts";
import { write } from "../lib/operations/write.ts";
import { list, MAX_LIST_ENTRIES } from "../lib/operations/list.ts";
import { glob } from "../lib/operations/glob.ts";
import { openVerified } from "../lib/fs/open_file.ts";
import { braceExpansions } from "../lib/fs/pattern.ts";
import {
  b64,
  plant,
  rejection,
  type TempWorkspace,
  tempWorkspace,
  unb64,
} from "./file_ops_support.ts";

const ESCAPE = "path escapes workspace";

// ---------------------------------------------------------------- read

Deno.test("read: {content: base64, total_size} of the whole file", async () => {
  await using t = await tempWorkspace();
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  await plant(t.ws.root, { "bin.dat": bytes });
  const r = await t.run(read, { path: "bin.dat" });
  expect(Object.keys(r).sort()).toEqual(["content", "total_size"]);
  expect(r.total_size).toBe(256);
  expect(Uint8Array.fromBase64(r.content as string)).toEqual(bytes);
});

Deno.test("read: offset and limit are bytes; negative offset is 0, limit <= 0 reads to the end", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "f.txt": "0123456789" });
  const at = async (args: Record<string, unknown>) => {
    const r = await t.run(read, { path: "f.txt", ...args });
    expect(r.total_size).toBe(10);
    return unb64(r.content as string);
  };
  expect(await at({ offset: 2, limit: 3 })).toBe("234");
  expect(await at({ offset: -5, limit: 2 })).toBe("01");
  expect(await at({ offset: 7 })).toBe("789");
  expect(await at({ offset: 7, limit: 0 })).toBe("789");
  expect(await at({ offset: 7, limit: -1 })).toBe("789");
  expect(await at({ offset: 8, limit: 100 })).toBe("89");
  expect(await at({ offset: 10 })).toBe("");
  expect(await at({ offset: 1e12, limit: 5 })).toBe("");
  expect(await at({ offset: 1.9, limit: 2.9 })).toBe("12");
  expect(await at({ offset: null, limit: null })).toBe("0123456789");
});

Deno.test("read: a directory, a missing file, a FIFO and bad args are clear errors", async () => {
  await using t = await tempWorkspace();
  await Deno.mkdir(t.at("dir"));
  expect(await rejection(t.run(read, { path: "dir" }))).toBe("cannot read a directory: dir");
  expect(await rejection(t.run(read, { path: "." }))).toBe("cannot read a directory: .");
  expect(await rejection(t.run(read, { path: "nope.txt" }))).toBe("file not found: nope.txt");
  const mk = await new Deno.Command("mkfifo", { args: [t.at("pipe")] }).output();
  expect(mk.success).toBe(true);
  // a FIFO with no writer would block open(2) forever; it is refused instead
  expect(await rejection(t.run(read, { path: "pipe" }))).toBe("not a regular file: pipe");
  expect(await rejection(t.run(read, {}))).toContain("`path` must be a string");
  expect(await rejection(t.run(read, { path: "f", offset: "3" }))).toContain("`offset`");
});

Deno.test("read: one read is capped at 16 MiB with a hint to page with offset/limit", async () => {
  await using t = await tempWorkspace();
  const f = await Deno.open(t.at("big.bin"), { write: true, create: true });
  await f.truncate(17 * 1024 * 1024); // sparse: costs no disk
  f.close();
  const msg = await rejection(t.run(read, { path: "big.bin" }));
  expect(msg).toContain("16 MiB");
  expect(msg).toContain("use offset and limit");
  const r = await t.run(read, { path: "big.bin", offset: 16 * 1024 * 1024, limit: 1024 * 1024 });
  expect(r.total_size).toBe(17 * 1024 * 1024);
  expect(Uint8Array.fromBase64(r.content as string).length).toBe(1024 * 1024);
});

Deno.test("read: small reads (through the reused buffer) and large ones (off the thread) give the bytes exactly, however they interleave", async () => {
  await using t = await tempWorkspace();
  // around the 64 KiB line between the two ways, each file with bytes of its own
  const sizes = [0, 1, 1024, 65535, 65536, 65537, 200_000];
  const files: Record<string, Uint8Array> = {};
  sizes.forEach((n, i) => {
    files[`f${n}.bin`] = Uint8Array.from(
      { length: n },
      (_, j) => (j * 31 + i * 7 + (j >> 8)) & 0xff,
    );
  });
  // paths long and short, deep and multi-byte, one after another: the C string of one
  // call must never carry a tail of the one before
  files["a/deep/directory/with/a/rather/long/name/inside.txt"] = new TextEncoder().encode("deep");
  files["b"] = new TextEncoder().encode("short");
  files["é/ü名.txt"] = new TextEncoder().encode("multi-byte");
  await plant(t.ws.root, files);
  const names = Object.keys(files);
  const reads = Array.from({ length: 6 }, () => names).flat().map(async (name) => {
    const r = await t.run(read, { path: name });
    expect({ name, size: r.total_size }).toEqual({ name, size: files[name].length });
    expect({ name, same: Uint8Array.fromBase64(r.content as string) }).toEqual({
      name,
      same: files[name],
    });
  });
  await Promise.all(reads);
  // a window across the line, from a big file and a small one in turn
  for (
    const [name, offset, limit] of [["f200000.bin", 65_000, 1_000], ["f1024.bin", 10, 20]] as const
  ) {
    const r = await t.run(read, { path: name, offset, limit });
    expect(Uint8Array.fromBase64(r.content as string)).toEqual(
      files[name].subarray(offset, offset + limit),
    );
  }
});

Deno.test("read: total_size past 4 GiB is exact (a sparse file)", async () => {
  await using t = await tempWorkspace();
  const size = 5 * 1024 ** 3 + 7;
  const f = await Deno.open(t.at("huge.bin"), { write: true, create: true });
  await f.truncate(size); // sparse: costs no disk
  f.close();
  const r = await t.run(read, { path: "huge.bin", offset: size - 3 });
  expect(r.total_size).toBe(size);
  expect(Uint8Array.fromBase64(r.content as string)).toEqual(new Uint8Array(3));
});

Deno.test("read: a symlink inside the workspace is read through; the link's name is kept", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "real.txt": "via link" });
  await Deno.symlink("real.txt", t.at("alias.txt"));
  const r = await t.run(read, { path: "alias.txt" });
  expect(unb64(r.content as string)).toBe("via link");
});

Deno.test("openVerified: a file swapped after the check is refused (rename or symlink swap)", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "f.txt": "checked", "other.txt": "swapped in" });
  const before = await Deno.lstat(t.at("f.txt"));
  const identity = { dev: before.dev!, ino: before.ino! };
  // the same inode still opens
  const ok = await openVerified(t.at("f.txt"), "f.txt", identity);
  await ok.handle.close();
  // another file renamed over the checked one
  await Deno.rename(t.at("other.txt"), t.at("f.txt"));
  expect(await rejection(openVerified(t.at("f.txt"), "f.txt", identity))).toBe(
    "file changed while being opened: f.txt",
  );
  // a symlink put in its place is not followed (O_NOFOLLOW)
  await plant(t.ws.root, { "target.txt": "x" });
  await Deno.remove(t.at("f.txt"));
  await Deno.symlink(t.at("target.txt"), t.at("f.txt"));
  expect(await rejection(openVerified(t.at("f.txt"), "f.txt", identity))).toBe(
    "file changed while being opened: f.txt",
  );
});

// ---------------------------------------------------------------- write

Deno.test("write: {success: true}, content round-trips, parents are created", async () => {
  await using t = await tempWorkspace();
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
  expect(await t.run(write, { path: "a/b/c/data.bin", content: b64(bytes) })).toEqual({
    success: true,
  });
  expect(await Deno.readFile(t.at("a/b/c/data.bin"))).toEqual(bytes);
  await t.run(write, { path: "a/b/c/data.bin", content: b64("replaced") });
  expect(await Deno.readTextFile(t.at("a/b/c/data.bin"))).toBe("replaced");
  await t.run(write, { path: "empty.txt", content: "" });
  expect((await Deno.stat(t.at("empty.txt"))).size).toBe(0);
  // no temp file is left behind
  expect((await Array.fromAsync(Deno.readDir(t.at("a/b/c")))).map((e) => e.name)).toEqual([
    "data.bin",
  ]);
});

Deno.test("write: invalid base64 is a clear error and touches nothing", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "keep.txt": "old" });
  for (const content of ["not base64!", "a===", "@@@@"]) {
    expect(await rejection(t.run(write, { path: "keep.txt", content }))).toBe(
      "invalid args for write: `content` is not valid base64",
    );
    expect(await rejection(t.run(write, { path: "new/x.txt", content }))).toContain("base64");
  }
  expect(await Deno.readTextFile(t.at("keep.txt"))).toBe("old");
  await expect(Deno.lstat(t.at("new"))).rejects.toThrow(Deno.errors.NotFound);
});

Deno.test("write: onto a directory or through a file is an error", async () => {
  await using t = await tempWorkspace();
  await Deno.mkdir(t.at("dir"));
  await plant(t.ws.root, { "dir/inner.txt": "kept", "file.txt": "f" });
  expect(await rejection(t.run(write, { path: "dir", content: b64("x") }))).toBe(
    "cannot write dir: it is a directory",
  );
  expect(await rejection(t.run(write, { path: ".", content: b64("x") }))).toContain(
    "it is a directory",
  );
  expect(await rejection(t.run(write, { path: "file.txt/child", content: b64("x") }))).toContain(
    "cannot create the directory for file.txt/child",
  );
  expect(await Deno.readTextFile(t.at("dir/inner.txt"))).toBe("kept");
  expect(await Deno.readTextFile(t.at("file.txt"))).toBe("f");
});

Deno.test("write: keeps an existing file's mode; a link inside is written through and stays a link", async () => {
  await using t = await tempWorkspace();
  await plant(t.ws.root, { "secret.txt": "old", "target.txt": "old" });
  await Deno.chmod(t.at("secret.txt"), 0o600);
  await t.run(write, { path: "secret.txt", content: b64("new") });
  expect((await Deno.stat(t.at("secret.txt"))).mode! & 0o777).toBe(0o600);
  await Deno.symlink("target.txt", t.at("link.txt"));
  await t.run(write, { path: "link.txt", content: b64("through") });
  expect(await Deno.readTextFile(t.at("target.txt"))).toBe("through");
  expect((await Deno.lstat(t.at("link.txt"))).isSymlink).toBe(true);
});

// A separate process reads the file as fast as it can and counts every read
// that is not one whole version (empty, short, or mixed).
const READER = `
const [path, stop, size, ready] = Deno.args;
const n = Number(size);
let reads = 0, torn = 0;
await Deno.writeTextFile(ready, "");
while (true) {
  try { await Deno.lstat(stop); break; } catch { /* keep reading */ }
  let b;
  try { b = await Deno.readFile(path); } catch { torn++; continue; }
  reads++;
  if (b.length !== n || b[0] !== b[n - 1] || b.indexOf(b[0] === 97 ? 98 : 97) !== -1) torn++;
}
console.log(JSON.stringify({ reads, torn }));
`;

async function raceReader(
  t: TempWorkspace,
  writeOnce: (data: Uint8Array) => Promise<unknown>,
): Promise<{ reads: number; torn: number }> {
  const n = 2 * 1024 * 1024;
  const A = new Uint8Array(n).fill(97);
  const B = new Uint8Array(n).fill(98);
  await Deno.writeFile(t.at("race.bin"), A);
  const stop = join(t.base, `stop_${crypto.randomUUID()}`);
  const ready = join(t.base, `ready_${crypto.randomUUID()}`);
  const reader = new Deno.Command(Deno.execPath(), {
    args: ["eval", READER, t.at("race.bin"), stop, String(n), ready],
    stdout: "piped",
  }).spawn();
  try {
    // The writes race the reader only once it reads: a deno process takes longer to
    // start than 60 writes take on an idle machine (CI saw the control miss every round).
    while (!(await Deno.stat(ready).then(() => true, () => false))) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // at least 60 writes, and for at least half a second of reading
    const until = Date.now() + 500;
    for (let i = 0; i < 60 || Date.now() < until; i++) await writeOnce(i % 2 ? A : B);
  } finally {
    await Deno.writeTextFile(stop, "");
  }
  const out = await reader.output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("write: a concurrent reader never sees a partial file (and a naive write would show one)", async () => {
  await using t = await tempWorkspace();
  const atomic = await raceReader(t, (d) => t.run(write, { path: "race.bin", content: b64(d) }));
  expect(atomic.reads).toBeGreaterThan(0);
  expect(atomic.torn).toBe(0);
  // control: the same reader catches a plain truncate-and-write, so the zero above means something.
  // On a loaded machine one round can miss the window, so the control gets several rounds.
  let naiveTorn = 0;
  for (let round = 0; round < 8 && naiveTorn === 0; round++) {
    naiveTorn = (await raceReader(t, (d) => Deno.writeFile(t.at("race.bin"), d))).torn;
  }
  expect(naiveTorn).toBeGreaterThan(0);
});

// Writes 4 MiB after capping its own RLIMIT_FSIZE at 1 MiB (set only now:
// Deno's caches grow at start-up): the kernel kills the writer mid-file
// (SIGXFSZ), the harshest failure a write can meet.
async function crashWhileWriting(t: TempWorkspace, how: string) {
  const script = join(t.base, "crash_writer.ts");
  const lib = new URL("../lib/", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { write } from "${lib}operations/write.ts";
import { Workspace } from "${lib}fs/workspace.ts";
const ws = await Workspace.open(${JSON.stringify(t.ws.root)});
const data = new Uint8Array(4 * 1024 * 1024).fill(120);
const limit = ["--pid", String(Deno.pid), "--fsize=1048576"];
if (!new Deno.Command("prlimit", { args: limit }).outputSync().success) Deno.exit(3);
console.log("writing");
if (${JSON.stringify(how)} === "op") {
  await write({ path: "doc.txt", content: data.toBase64() }, { workspace: ws } as never);
} else await Deno.writeFile(${JSON.stringify(t.at("doc.txt"))}, data);
console.log("done");
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ...out, text: new TextDecoder().decode(out.stdout) };
}

const hasPrlimit = new Deno.Command("sh", { args: ["-c", "command -v prlimit"] }).outputSync()
  .success;

Deno.test({
  name: "write: a writer killed mid-write leaves the old content whole",
  ignore: !hasPrlimit || Deno.build.os !== "linux", // needs util-linux prlimit
}, async () => {
  await using t = await tempWorkspace();
  const old = "the old, complete content\n".repeat(100);
  await plant(t.ws.root, { "doc.txt": old });
  const crashed = await crashWhileWriting(t, "op");
  expect(crashed.text).toContain("writing"); // it got as far as writing
  expect(crashed.text).not.toContain("done");
  expect(crashed.signal).toBe("SIGXFSZ");
  expect(await Deno.readTextFile(t.at("doc.txt"))).toBe(old);
  // control: the same crash during a plain in-place write destroys the old content
  const naive = await crashWhileWriting(t, "naive");
  expect(naive.text).toContain("writing");
  expect(await Deno.readTextFile(t.at("doc.txt"))).not.toBe(old);
});

// ---------------------------------------------------------------- list

async function listTree(t: TempWorkspace) {
  await plant(t.ws.root, {
    "a.txt": "aa",
    "b/c.txt": "ccc",
    "b/d/e.txt": "eeee",
    "b/app.log": "log",
    "node_modules/pkg/index.js": "x",
    ".hidden/h.txt": "h",
  });
  const outside = join(t.base, "outside");
  await plant(outside, { "secret.txt": "s" });
  await Deno.symlink(outside, t.at("b/out_link"));
}

Deno.test("list: not recursive gives the direct children as {path, is_dir, size}", async () => {
  await using t = await tempWorkspace();
  await listTree(t);
  const r = await t.run<{ entries: { path: string; is_dir: boolean; size: number }[] }>(list, {
    path: "b",
  });
  expect(Object.keys(r)).toEqual(["entries"]);
  const dirSize = (await Deno.lstat(t.at("b/d"))).size;
  const linkSize = (await Deno.lstat(t.at("b/out_link"))).size;
  expect(r.entries).toEqual([
    { path: "b/app.log", is_dir: false, size: 3 },
    { path: "b/c.txt", is_dir: false, size: 3 },
    { path: "b/d", is_dir: true, size: dirSize },
    // a symlink is listed as itself, never entered
    { path: "b/out_link", is_dir: false, size: linkSize },
  ]);
  const root = await t.run<{ entries: { path: string }[] }>(list, { path: "." });
  expect(root.entries.map((e) => e.path)).toEqual([".hidden", "a.txt", "b", "node_modules"]);
  const noPath = await t.run<{ entries: { path: string }[] }>(list, {});
  expect(noPath.entries).toEqual(root.entries);
});

Deno.test("list: recursive walks depth-first in name order and never enters symlinked dirs", async () => {
  await using t = await tempWorkspace();
  await listTree(t);
  const r = await t.run<{ entries: { path: string }[] }>(list, { path: "", recursive: true });
  expect(r.entries.map((e) => e.path)).toEqual([
    ".hidden",
    ".hidden/h.txt",
    "a.txt",
    "b",
    "b/app.log",
    "b/c.txt",
    "b/d",
    "b/d/e.txt",
    "b/out_link",
    "node_modules",
    "node_modules/pkg",
    "node_modules/pkg/index.js",
  ]);
});

Deno.test("list: ignore matches base names and prunes matching directories", async () => {
  await using t = await tempWorkspace();
  await listTree(t);
  const r = await t.run<{ entries: { path: string }[] }>(list, {
    path: ".",
    recursive: true,
    ignore: ["node_modules", "*.log", ".*", "d"],
  });
  expect(r.entries.map((e) => e.path)).toEqual(["a.txt", "b", "b/c.txt", "b/out_link"]);
});

Deno.test("list: a file gives that one entry; a missing path is an error", async () => {
  await using t = await tempWorkspace();
  await listTree(t);
  const r = await t.run(list, { path: "b/d/e.txt", recursive: true });
  expect(r).toEqual({ entries: [{ path: "b/d/e.txt", is_dir: false, size: 4 }] });
  expect(await t.run(list, { path: "b/d/e.txt", ignore: ["*.txt"] })).toEqual({ entries: [] });
  expect(await rejection(t.run(list, { path: "missing" }))).toMatch(/No such file|not found/);
  expect(await rejection(t.run(list, { path: "b", ignore: "d" }))).toContain("`ignore`");
});

Deno.test("list: stops at 10,000 entries and says truncated", async () => {
  await using t = await tempWorkspace();
  await Deno.mkdir(t.at("many"));
  for (let i = 0; i < MAX_LIST_ENTRIES + 5; i++) {
    Deno.writeTextFileSync(t.at(`many/f${String(i).padStart(5, "0")}`), "");
  }
  const r = await t.run<{ entries: unknown[]; truncated?: boolean }>(list, { path: "many" });
  expect(r.entries.length).toBe(MAX_LIST_ENTRIES);
  expect(r.truncated).toBe(true);
  const small = await t.run(list, { path: "." });
  expect(small).not.toHaveProperty("truncated");
});

// ---------------------------------------------------------------- glob

async function globTree(t: TempWorkspace) {
  await plant(t.ws.root, {
    "main.ts": "",
    "src/a.ts": "",
    "src/deep/b.ts": "",
    "src/deep/c.js": "",
    "docs/x.txt": "",
    "tests/y.txt": "",
    ".config/z.ts": "",
  });
  const outside = join(t.base, "outside");
  await plant(outside, { "o.ts": "", "sub/p.ts": "" });
  await Deno.symlink(outside, t.at("src/out_dir"));
  await Deno.symlink(join(outside, "o.ts"), t.at("src/out_file.ts"));
  await Deno.symlink("a.ts", t.at("src/in_file.ts"));
}

Deno.test("glob: ** crosses directories; results are sorted, root-relative, dotfiles included", async () => {
  await using t = await tempWorkspace();
  await globTree(t);
  expect(await t.run(glob, { pattern: "**/*.ts" })).toEqual({
    matches: [".config/z.ts", "main.ts", "src/a.ts", "src/deep/b.ts", "src/in_file.ts"],
  });
  expect(await t.run(glob, { pattern: "*.ts" })).toEqual({ matches: ["main.ts"] });
  expect(await t.run(glob, { pattern: "src/**" })).toEqual({
    matches: ["src/a.ts", "src/deep", "src/deep/b.ts", "src/deep/c.js", "src/in_file.ts"],
  });
  expect(await t.run(glob, { pattern: "{docs,tests}/*.txt" })).toEqual({
    matches: ["docs/x.txt", "tests/y.txt"],
  });
  expect(await t.run(glob, { pattern: "./src/*.ts" })).toEqual({
    matches: ["src/a.ts", "src/in_file.ts"],
  });
  expect(await t.run(glob, { pattern: "nothing/**" })).toEqual({ matches: [] });
});

Deno.test("glob: symlinks leading outside are neither followed nor returned", async () => {
  await using t = await tempWorkspace();
  await globTree(t);
  const all = await t.run<{ matches: string[] }>(glob, { pattern: "**" });
  expect(all.matches).not.toContain("src/out_dir");
  expect(all.matches).not.toContain("src/out_file.ts");
  expect(all.matches.filter((m) => m.startsWith("src/out_dir/"))).toEqual([]);
  expect(all.matches).toContain("src/in_file.ts");
  expect(await t.run(glob, { pattern: "src/out_dir/**" })).toEqual({ matches: [] });
});

Deno.test("glob: an absolute pattern inside the root works; .. or outside is refused", async () => {
  await using t = await tempWorkspace();
  await globTree(t);
  expect(await t.run(glob, { pattern: `${t.ws.root}/src/*.ts` })).toEqual({
    matches: ["src/a.ts", "src/in_file.ts"],
  });
  for (
    const pattern of [
      "../*",
      "src/../../outside/*",
      "/etc/*",
      `${t.base}/outside/*.ts`,
      "{..,src}/*.ts",
      "\\.\\./*",
      "a\0b",
    ]
  ) {
    expect(await rejection(t.run(glob, { pattern }))).toContain(ESCAPE);
  }
});

Deno.test("glob: a brace bomb and an empty pattern are clear errors", async () => {
  await using t = await tempWorkspace();
  expect(braceExpansions("{a,b}{1..10}")).toBe(20);
  expect(braceExpansions("{a,{b,c}}")).toBe(4); // 3 really: nested groups multiply, an upper bound
  const bomb = "{1..10}".repeat(6);
  expect(await rejection(t.run(glob, { pattern: bomb }))).toContain("more than 1024 alternatives");
  expect(await rejection(t.run(glob, { pattern: "" }))).toContain("non-empty string");
});
