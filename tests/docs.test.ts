/**
 * The documentation, held to what it promises: the README stays an
 * operator's page, every relative link resolves (anchors included), the
 * Chinese README is the same page, nothing in the repository points outside
 * it, and the test command the README gives is the one CI runs.
 */
import { dirname, join, relative, resolve } from "node:path";
import { expect } from "./deps.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const read = (path: string) => Deno.readTextFileSync(join(ROOT, path));

/** Directories that are not the project's own files. */
const SKIP_DIRS = new Set([".git", "node_modules", "dist", ".tools"]);

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    // (`.git` is a file in a worktree: skipped either way)
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory) walk(path, out);
    else if (entry.isFile) out.push(path);
  }
  return out;
}

const markdownFiles = () => [
  "README.md",
  "README_zh.md",
  "SECURITY.md",
  ...walk("docs").filter((p) => p.endsWith(".md")),
];

/** The text outside fenced code blocks, line by line (a link in a code block is not a link). */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function headings(markdown: string): string[] {
  return prose(markdown).filter((l) => /^#{1,6}\s/.test(l)).map((l) => l.split(" ")[0]);
}

function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

/** Every `[text](target)` link outside code, as written. */
function links(markdown: string): string[] {
  const out: string[] = [];
  for (const line of prose(markdown)) {
    // inline code spans hold examples, not links
    const text = line.replace(/`[^`]*`/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]);
  }
  return out;
}

Deno.test("docs: README.md is an operator's page of at most 400 lines", () => {
  const lines = read("README.md").trimEnd().split("\n").length;
  expect(lines).toBeLessThanOrEqual(400);
  // the sections an operator looks for, in this order
  const sections = prose(read("README.md")).filter((l) => l.startsWith("## "));
  expect(sections).toEqual([
    "## Try it",
    "## Install and run",
    "## Configure",
    "## Troubleshoot",
    "## Read more",
  ]);
});

Deno.test("docs: every relative link in README.md, README_zh.md, SECURITY.md and docs/ resolves", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    for (const link of links(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: ...
      checked++;
      const [path, anchor] = link.split("#", 2);
      const target = path === "" ? file : relative(ROOT, resolve(ROOT, dirname(file), path));
      if (target.startsWith("..")) {
        broken.push(`${file}: ${link} leads outside the repository`);
        continue;
      }
      let stat: Deno.FileInfo;
      try {
        stat = Deno.statSync(join(ROOT, target));
      } catch {
        broken.push(`${file}: ${link} (no such file)`);
        continue;
      }
      if (anchor !== undefined && stat.isFile && target.endsWith(".md")) {
        if (!anchors(read(target)).has(anchor)) broken.push(`${file}: ${link} (no such heading)`);
      }
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(50); // the scan saw the links (a broken parser finds none)
});

Deno.test("docs: the link checker finds a broken file, a broken anchor and an escape", () => {
  // The checker's parts against known input, so the test above cannot pass by seeing nothing.
  const md =
    "# Top\n\n## Two words\n\n[a](x.md) [b](#two-words) `[c](nope.md)`\n```\n[d](no.md)\n```\n";
  expect(links(md)).toEqual(["x.md", "#two-words"]);
  expect([...anchors(md)]).toEqual(["top", "two-words"]);
  expect(slug("The `bash` operation and `permission.bash`")).toBe(
    "the-bash-operation-and-permissionbash",
  );
  expect(slug("安装与运行")).toBe("安装与运行");
  expect(relative(ROOT, resolve(ROOT, "docs", "../../x"))).toMatch(/^\.\./);
});

Deno.test("docs: README_zh.md is the same page: same sections, same commands", () => {
  const en = read("README.md");
  const zh = read("README_zh.md");
  expect(headings(zh)).toEqual(headings(en));
  expect(codeBlocks(zh)).toEqual(codeBlocks(en));
  expect(codeBlocks(en).length).toBeGreaterThan(5);
  // each links to the other
  expect(links(en)).toContain("README_zh.md");
  expect(links(zh)).toContain("README.md");
});

Deno.test("docs: no file in the repository refers to anything outside it", () => {
  // Spelled in pieces so that this file does not match itself.
  const outside = [
    "../" + "shared",
    "PROTO" + "COL.md",
    "/" + "work/",
  ];
  const hits: string[] = [];
  let scanned = 0;
  for (const file of walk("")) {
    const bytes = Deno.readFileSync(join(ROOT, file));
    if (bytes.length > 4 * 1024 * 1024 || bytes.includes(0)) continue; // binary or data blobs
    scanned++;
    const text = new TextDecoder().decode(bytes);
    for (const needle of outside) {
      if (text.includes(needle)) hits.push(`${file}: ${needle}`);
    }
  }
  expect(hits).toEqual([]);
  expect(scanned).toBeGreaterThan(100);
  // the protocol the code cites is here
  expect(read("docs/protocol.md")).toContain("## Message types");
});

Deno.test("docs: the README's test command is what CI runs, on the Deno version CI installs", () => {
  const readme = read("README.md");
  const ci = read(".ci/run");
  const pinned = /npx -y deno@(\d+\.\d+\.\d+) task test/.exec(readme);
  expect(pinned).not.toBeNull();
  expect(readme).toContain(`npx -y deno@${pinned![1]} task demo`);
  expect(ci).toContain(`DENO_VERSION=${pinned![1]}`);
  expect(ci).toMatch(/^deno task test\b/m);
  const tasks = JSON.parse(read("deno.json")).tasks;
  expect(Object.keys(tasks)).toEqual(expect.arrayContaining(["test", "demo"]));
  // every `deno task X` the READMEs name exists
  for (const m of (readme + read("README_zh.md")).matchAll(/deno(?:@[\d.]+)? task ([\w:-]+)/g)) {
    expect({ task: m[1], exists: m[1] in tasks }).toEqual({ task: m[1], exists: true });
  }
});

Deno.test("docs: LICENSE is the Apache License 2.0 and SECURITY.md says how to report", () => {
  const license = read("LICENSE");
  expect(license).toContain("Apache License");
  expect(license).toContain("Version 2.0, January 2004");
  expect(license).toContain("END OF TERMS AND CONDITIONS");
  const security = read("SECURITY.md");
  expect(security).toContain("## Reporting a vulnerability");
  expect(security).toContain("## Supported versions");
  expect(security).toContain("## Scope");
});

Deno.test("the lib/ tree: at most six files at the root, and docs/development.md names every folder and root file", () => {
  const entries = [...Deno.readDirSync(join(ROOT, "lib"))];
  const files = entries.filter((e) => e.isFile).map((e) => e.name).sort();
  expect(files.length).toBeLessThanOrEqual(6);
  const guide = read("docs/development.md");
  for (const f of files) expect(guide).toContain(`\`${f}\``);
  for (const d of entries.filter((e) => e.isDirectory)) {
    if (d.name === "deps") continue; // named with the root's deps.ts
    expect(guide).toContain(`\`lib/${d.name}/\``);
  }
});
