/**
 * sync_skill against local tampering (issue 12): every case of
 * tests/redteam/skill_tamper.json, through the real runner under its
 * sandbox. After a re-sync of the same archive with the same checksum the
 * skill directory holds exactly the archive's content; nothing outside
 * the workspace changes, whatever the tampering pointed at.
 */
import { expect } from "./deps.ts";
import { dirname, join } from "node:path";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { buildZip } from "./support/zip_builder.ts";

type Step =
  | { write: string; content: string }
  | { runner_write: string; content: string }
  | { mkdir: string }
  | { remove: string }
  | { symlink: string; target: string }
  | { hardlink: string; target: string }
  | { mkfifo: string }
  | { chmod: string; mode: string };

interface Case {
  name: string;
  steps: Step[];
  refused?: boolean;
  expect_error?: string;
}

const corpus = JSON.parse(
  await Deno.readTextFile(new URL("./redteam/skill_tamper.json", import.meta.url)),
) as { archive: Record<string, string>; executable: string[]; checksum: string; cases: Case[] };

/** name -> "dir" | "link" | "other" | "<mode> <content>", below `dir` (lstat: links not followed). */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const p = join(d, e.name);
      if (e.isSymlink) out[r] = "link";
      else if (e.isDirectory) {
        out[r] = "dir";
        await walk(p, r);
      } else if (e.isFile) {
        const exec = ((await Deno.lstat(p)).mode! & 0o100) !== 0;
        out[r] = `${exec ? "x" : "-"} ${await Deno.readTextFile(p)}`;
      } else out[r] = "other";
    }
  };
  await walk(dir, "");
  return out;
}

function expectedTree(): Record<string, string> {
  const out: Record<string, string> = { ".checksum": `- ${corpus.checksum}` };
  for (const [name, content] of Object.entries(corpus.archive)) {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) out[parts.slice(0, i).join("/")] = "dir";
    out[name] = `${corpus.executable.includes(name) ? "x" : "-"} ${content}`;
  }
  return out;
}

const zip = buildZip({
  entries: Object.entries(corpus.archive).map(([name, content]) => ({
    name,
    content,
    unixMode: corpus.executable.includes(name) ? "100755" : "100644",
  })),
}).toBase64();

Deno.test("sync_skill: every tampering of tests/redteam/skill_tamper.json is undone by a re-sync", async () => {
  expect(corpus.cases.length).toBeGreaterThanOrEqual(15);
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "fdr-skill-tamper-" }));
  const ws = join(base, "ws");
  const outside = join(base, "outside");
  await Deno.mkdir(join(outside, "dir"), { recursive: true });
  await Deno.mkdir(ws);
  await Deno.writeTextFile(join(outside, "secret.txt"), "OUTSIDE SECRET\n");
  await Deno.writeTextFile(join(outside, "dir", "inner.txt"), "OUTSIDE INNER\n");
  const outsideBefore = await tree(outside);
  const skill = join(ws, "skills", "demo");
  const fill = (s: string) => s.replaceAll("{outside}", outside).replaceAll("{skill}", skill);

  const sim = await PlatformSimulator.start();
  const runner = await startRunner({ url: sim.url, token: sim.token, workspace: ws });
  const sync = () =>
    sim.request("sync_skill", {
      skill_name: "demo",
      skill_dir: "skills/demo",
      zip_data: zip,
      checksum: corpus.checksum,
    }, { timeoutMs: 60_000 });
  try {
    await sim.waitFor((e) => e.type === "heartbeat", 30_000);
    for (const c of corpus.cases) {
      const first = await sync();
      expect({ case: c.name, first: first.success }).toEqual({ case: c.name, first: true });
      expect({ case: c.name, tree: await tree(skill) }).toEqual({
        case: c.name,
        tree: expectedTree(),
      });
      for (const step of c.steps) await apply(step, skill, fill, sim);
      const again = await sync();
      if (c.refused) {
        expect({ case: c.name, error: again.error }).toEqual({
          case: c.name,
          error: expect.stringContaining(c.expect_error!),
        });
        // put the directory back for the next case
        await Deno.remove(skill);
        await Deno.mkdir(skill);
      } else {
        expect({ case: c.name, success: again.success, error: again.error }).toEqual({
          case: c.name,
          success: true,
          error: undefined,
        });
        expect({ case: c.name, tree: await tree(skill) }).toEqual({
          case: c.name,
          tree: expectedTree(),
        });
      }
      expect({ case: c.name, outside: await tree(outside) }).toEqual({
        case: c.name,
        outside: outsideBefore,
      });
    }
  } finally {
    await runner.stop();
    await sim.close();
    await Deno.remove(base, { recursive: true });
  }
});

async function apply(
  step: Step,
  skill: string,
  fill: (s: string) => string,
  sim: PlatformSimulator,
): Promise<void> {
  const at = (rel: string) => rel === "." ? skill : join(skill, rel);
  if ("runner_write" in step) {
    const r = await sim.request("write", {
      path: step.runner_write,
      content: btoa(step.content),
    });
    expect(r.success).toBe(true);
  } else if ("write" in step) {
    await Deno.mkdir(dirname(at(step.write)), { recursive: true });
    await Deno.writeTextFile(at(step.write), step.content);
  } else if ("mkdir" in step) await Deno.mkdir(at(step.mkdir), { recursive: true });
  else if ("remove" in step) await Deno.remove(at(step.remove), { recursive: true });
  else if ("symlink" in step) await Deno.symlink(fill(step.target), at(step.symlink));
  else if ("hardlink" in step) await Deno.link(fill(step.target), at(step.hardlink));
  else if ("mkfifo" in step) {
    const out = await new Deno.Command("mkfifo", { args: [at(step.mkfifo)] }).output();
    expect(out.success).toBe(true);
  } else if ("chmod" in step) await Deno.chmod(at(step.chmod), parseInt(step.mode, 8));
}
