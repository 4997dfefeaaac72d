import { expect } from "./deps.ts";
import { fileURLToPath } from "node:url";
import { serveDirectory } from "./support/static_server.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

// `deno run https://.../main.ts` reads no deno.json: this proves every import
// is fully qualified and the entrypoint works from a URL.
Deno.test("main.ts runs from a URL: `deno run http://127.0.0.1:PORT/main.ts version`", async () => {
  const server = serveDirectory(REPO);
  const cwd = await Deno.makeTempDir(); // away from deno.json, as a user's shell would be
  try {
    const host = new URL(server.url).host;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        `--allow-import=${host}`,
        "--allow-env",
        `${server.url}/main.ts`,
        "version",
      ],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    expect({ code: out.code, stderr: out.code === 0 ? "" : stderr }).toEqual({
      code: 0,
      stderr: "",
    });
    expect(new TextDecoder().decode(out.stdout)).toMatch(
      /^flashduty-runner \d+\.\d+\.\d+ \(commit /,
    );
  } finally {
    await server.close();
    await Deno.remove(cwd, { recursive: true });
  }
});
