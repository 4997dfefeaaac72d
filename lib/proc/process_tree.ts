/**
 * The processes below a stdio MCP server. The SDK stops only the process it
 * started; a server launched through a wrapper (`npx`, `uvx`, `sh -c`) has
 * the real server as a grandchild, which would be orphaned. We note the
 * tree before closing and kill what is left of it afterwards.
 */

export interface ProcessId {
  pid: number;
  /** Linux start time (clock ticks since boot): guards against a reused pid */
  start?: string;
}

/**
 * Every descendant of `root` (not `root` itself), children before
 * grandchildren; undefined when no process list can be read.
 */
export async function descendants(root: number): Promise<ProcessId[] | undefined> {
  const table = await processTable();
  if (!table) return undefined;
  const children = new Map<number, ProcessId[]>();
  for (const p of table) {
    const list = children.get(p.ppid) ?? [];
    list.push({ pid: p.pid, start: p.start });
    children.set(p.ppid, list);
  }
  const out: ProcessId[] = [];
  const queue = [root];
  const seen = new Set(queue);
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (seen.has(c.pid)) continue;
      seen.add(c.pid);
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** SIGKILLs each process that still exists and is still the same process; returns how many. */
export async function killAll(procs: readonly ProcessId[]): Promise<number> {
  if (procs.length === 0) return 0;
  // Without start times (no /proc), one ps listing says which pids still exist.
  const listed = procs.some((p) => p.start === undefined)
    ? new Set((await processTable() ?? []).map((r) => r.pid))
    : undefined;
  const alive: number[] = [];
  for (const p of procs) {
    if (p.start !== undefined ? await sameProcessRuns(p) : listed!.has(p.pid)) alive.push(p.pid);
  }
  const refused: number[] = [];
  for (const pid of alive) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch (err) {
      // Deno.kill needs an unscoped --allow-run; the sandbox may grant the kill program instead.
      if (err instanceof Deno.errors.NotCapable) refused.push(pid);
    }
  }
  if (refused.length > 0) await run("kill", ["-KILL", ...refused.map(String)]);
  return alive.length;
}

/** True while the process with this pid and start time runs (a zombie counts as gone). */
async function sameProcessRuns(p: ProcessId): Promise<boolean> {
  const stat = await readStat(p.pid);
  return stat !== undefined && stat.state !== "Z" && stat.start === p.start;
}

interface Row {
  pid: number;
  ppid: number;
  start?: string;
}

async function processTable(): Promise<Row[] | undefined> {
  if (Deno.build.os === "linux") {
    const rows: Row[] = [];
    try {
      for await (const e of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        const stat = await readStat(Number(e.name));
        if (stat) rows.push({ pid: Number(e.name), ppid: stat.ppid, start: stat.start });
      }
      return rows;
    } catch {
      // Deno grants /proc only with --allow-all: under the sandbox, ask ps.
    }
  }
  const out = await run("ps", ["-A", "-o", "pid=,ppid="]);
  if (out === undefined) return undefined;
  return out.split("\n").flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(line);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]) }] : [];
  });
}

/** A helper program's stdout, or undefined when it cannot run (missing, or not permitted). */
async function run(program: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(program, { args, stdin: "null", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return undefined;
  }
}

async function readStat(
  pid: number,
): Promise<{ state: string; ppid: number; start: string } | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); starttime is field 22.
  return { state: fields[0], ppid: Number(fields[1]), start: fields[19] };
}
