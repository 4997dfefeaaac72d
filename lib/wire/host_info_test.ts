import { expect } from "../../tests/deps.ts";

/**
 * hostTimeZone (Temporal, cheap) names the same zone as Intl.DateTimeFormat
 * (what the first heartbeat used to ask, ~25 ms) for a few TZ settings. In
 * a child process: the zone is read once per process.
 */
async function zonesUnder(tz: string): Promise<{ ours: string; intl: string }> {
  const code = `import { hostTimeZone } from ${
    JSON.stringify(new URL("./host_info.ts", import.meta.url).href)
  };
console.log(JSON.stringify({ ours: hostTimeZone(), intl: Intl.DateTimeFormat().resolvedOptions().timeZone }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TZ: tz },
    stdout: "piped",
    stderr: "piped",
  }).output();
  expect(new TextDecoder().decode(out.stderr)).toBe("");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("hostTimeZone names the zone Intl names", async () => {
  for (const tz of ["Asia/Shanghai", "America/New_York", "UTC"]) {
    const { ours, intl } = await zonesUnder(tz);
    expect(intl).toBe(tz);
    expect(ours).toBe(intl);
  }
});
