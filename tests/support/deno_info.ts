/** `deno info --json ENTRY` in `cwd`, parsed: the module graph tests read (fails the test if deno cannot). */
import { expect } from "../deps.ts";

export async function denoInfo<T>(entry: string, cwd: string): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd,
    stdout: "piped",
    stderr: "null",
  }).output();
  expect(out.success).toBe(true);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}
