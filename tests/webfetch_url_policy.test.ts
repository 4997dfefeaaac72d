import { expect } from "./deps.ts";
import { join } from "node:path";
import type { Rule, RunnerConfig } from "../lib/config.ts";
import { TaskError } from "../lib/tasks/errors.ts";
import { blockedAddress } from "../lib/policy/blocked_addresses.ts";
import { type CheckedUrl, compileUrlPolicy } from "../lib/policy/url_policy.ts";

function config(webfetch?: Rule[]): RunnerConfig {
  return { permission: { bash: [], ...(webfetch ? { webfetch } : {}) } };
}

/** The whole check (scheme, rules, metadata, DNS), through the compiled policy. */
function checkUrl(url: URL, cfg: RunnerConfig): Promise<CheckedUrl> {
  return compileUrlPolicy(cfg.permission.webfetch).check(url);
}

async function assertUrlAllowed(url: URL, cfg: RunnerConfig): Promise<void> {
  await checkUrl(url, cfg);
}

async function deniedMessage(url: string, cfg = config()): Promise<string> {
  try {
    await assertUrlAllowed(new URL(url), cfg);
  } catch (err) {
    expect(err).toBeInstanceOf(TaskError);
    return (err as Error).message;
  }
  throw new Error(`expected ${url} to be denied`);
}

Deno.test("every spelling of a link-local or metadata address is refused without a rule", async () => {
  const spellings = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.0.1/",
    "http://169.254.255.255:8080/",
    "http://2852039166/", // 169.254.169.254 as one decimal number
    "http://0xa9.0xfe.0xa9.0xfe/", // hex octets
    "http://0251.0376.0251.0376/", // octal octets
    "https://169.254.169.254./", // trailing dot
    "http://[::ffff:169.254.169.254]/", // IPv4-mapped
    "http://[::ffff:a9fe:a9fe]/", // IPv4-mapped, hex
    "http://[0:0:0:0:0:ffff:a9fe:0101]/",
    "http://[::169.254.169.254]/", // IPv4-compatible
    "http://[64:ff9b::169.254.169.254]/", // NAT64
    "http://[fe80::1]/",
    "http://[febf:ffff::1]/", // top of fe80::/10
    "http://[fd00:ec2::254]/",
    "http://[FD00:EC2:0:0:0:0:0:254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./",
    "http://100.100.100.200/latest/meta-data/", // Alibaba Cloud
    "http://[::ffff:100.100.100.200]/",
  ];
  for (const url of spellings) {
    const message = await deniedMessage(url);
    expect(message).toMatch(/^url denied: /);
    expect(message).toMatch(/link-local|metadata/);
  }
});

Deno.test("addresses next to the blocked ranges are not blocked", () => {
  for (
    const ip of [
      "169.253.255.255",
      "169.255.0.0",
      "127.0.0.1",
      "10.0.0.1",
      "::1",
      "fec0::1",
      "100.100.100.201",
    ]
  ) {
    expect(blockedAddress(ip)).toBeUndefined();
  }
  for (const ip of ["fd00:ec2::253", "2001:db8::1", "::ffff:127.0.0.1", "64:ff9b::808:808"]) {
    expect(blockedAddress(ip)).toBeUndefined();
  }
  expect(blockedAddress("not-an-ip")).toMatch(/not an IP address/);
});

Deno.test("only http and https are fetched", async () => {
  for (
    const url of [
      "file:///etc/passwd",
      "ftp://127.0.0.1/x",
      "data:text/plain,hi",
      "javascript:alert(1)",
      "gopher://127.0.0.1/",
    ]
  ) {
    expect(await deniedMessage(url)).toMatch(/^url denied: .*scheme ".+" is not allowed/);
  }
});

Deno.test("a name is resolved and every address it has is checked", async () => {
  const checked = await checkUrl(new URL("http://localhost:9/"), config());
  expect(checked.addresses.length).toBeGreaterThan(0);
  for (const a of checked.addresses) expect(["127.0.0.1", "::1"]).toContain(a.address);
});

Deno.test("an unresolvable host is a clear error, not a denial", async () => {
  const err = await assertUrlAllowed(new URL("http://no-such-host.invalid/"), config()).catch((e) =>
    e
  );
  expect(err).toBeInstanceOf(TaskError);
  expect(err.message).toMatch(/^cannot resolve host no-such-host\.invalid/);
});

Deno.test("permission.webfetch rules decide, last match wins, unmatched is denied", async () => {
  const cfg = config([
    { pattern: "*", action: "deny" },
    { pattern: "http://127.0.0.1:*", action: "allow" },
    { pattern: "http://127.0.0.1:*/admin*", action: "deny" },
  ]);
  await assertUrlAllowed(new URL("http://127.0.0.1:8080/docs"), cfg);
  expect(await deniedMessage("http://127.0.0.1:8080/admin/x", cfg)).toBe(
    'url denied: http://127.0.0.1:8080/admin/x (permission.webfetch rule "http://127.0.0.1:*/admin*": deny)',
  );
  expect(await deniedMessage("http://localhost:8080/", config([]))).toMatch(
    /no rule allowed it/,
  );
});

Deno.test("a catch-all allow does not open the metadata service; a rule naming it does", async () => {
  expect(
    await deniedMessage("http://169.254.169.254/", config([{ pattern: "*", action: "allow" }])),
  )
    .toMatch(/link-local/);
  expect(
    await deniedMessage(
      "http://169.254.169.254/",
      config([{ pattern: "http://*/*", action: "allow" }]),
    ),
  ).toMatch(/link-local/);
  // Policy only: nothing here connects to the address.
  const named = config([
    { pattern: "*", action: "allow" },
    { pattern: "http://169.254.169.254/*", action: "allow" },
  ]);
  const checked = await checkUrl(new URL("http://169.254.169.254/latest/meta-data/"), named);
  expect(checked.explicitlyAllowed).toBe(true);
  // The name is no longer blocked by name; it simply does not resolve on this machine.
  const err = await assertUrlAllowed(
    new URL("http://metadata.google.internal/x"),
    config([{ pattern: "http://metadata.google.internal/*", action: "allow" }]),
  ).catch((e) => e);
  expect(err?.message ?? "allowed").not.toMatch(/url denied/);
});

Deno.test("credentials in a URL are not echoed in the message", async () => {
  const message = await deniedMessage("http://user:s3cret@169.254.169.254/");
  expect(message).not.toContain("s3cret");
});

// A name that resolves to the metadata address needs a hosts entry: run the
// check in a private mount namespace with its own /etc/hosts (root only).
const canUnshare = (() => {
  try {
    return new Deno.Command("unshare", { args: ["-m", "true"], stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "a host name that resolves to 169.254.169.254 (via /etc/hosts) is refused",
  ignore: !canUnshare,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const hosts = join(dir, "hosts");
      await Deno.writeTextFile(
        hosts,
        "127.0.0.1 localhost\n169.254.169.254 innocent.test\nfe80::1 v6.test\n",
      );
      const script = join(dir, "check.ts");
      const policy = new URL("../lib/policy/url_policy.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { compileUrlPolicy } from ${JSON.stringify(policy)};
const policy = compileUrlPolicy(undefined);
for (const u of ["http://innocent.test/", "http://v6.test/"]) {
  await policy.check(new URL(u)).then(() => console.log("ALLOWED " + u), (e) => console.log(e.message));
}`,
      );
      const out = await new Deno.Command("unshare", {
        args: [
          "-m",
          "sh",
          "-c",
          `mount --bind "$1" /etc/hosts && exec "$2" run -A --quiet "$3"`,
          "sh",
          hosts,
          Deno.execPath(),
          script,
        ],
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      expect(text).toContain(
        "url denied: http://innocent.test/: innocent.test resolves to 169.254.169.254 is link-local",
      );
      expect(text).toContain("url denied: http://v6.test/: v6.test resolves to fe80::1");
      expect(text).not.toContain("ALLOWED");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
