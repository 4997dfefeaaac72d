/**
 * The platform connection honours HTTPS_PROXY / ALL_PROXY / NO_PROXY (upper
 * and lower case): a CONNECT proxy on loopback sees the runner's tunnel to a
 * wss:// simulator when a proxy variable is set, and not when NO_PROXY
 * covers the host. The proxy's credentials reach the proxy and never a log.
 */
import { fileURLToPath } from "node:url";
import { expect } from "./deps.ts";
import { PlatformSimulator } from "./support/platform.ts";
import { startRunner } from "./support/runner.ts";
import { ConnectProxy } from "./support/connect_proxy.ts";
import { checkTunnelProxy, ProxyError, proxyFor, withoutCredentials } from "../lib/wire/proxy.ts";
import { DialError } from "../lib/wire/transport.ts";
import { dialTcp } from "../lib/wire/ws_client.ts";

const TLS_DIR = new URL("./fixtures/tls/", import.meta.url);
const CA = fileURLToPath(new URL("ca.pem", TLS_DIR));
// DENO_NO_UPDATE_CHECK as the systemd unit and the Dockerfile set it: without it `deno run`
// itself asks dl.deno.land for updates (through the proxy) before the runner's code runs.
const NO_PROXY_VARS = {
  NO_PROXY: "",
  no_proxy: "",
  HTTP_PROXY: "",
  http_proxy: "",
  DENO_NO_UPDATE_CHECK: "1",
};

async function withSimulatorAndProxy(
  fn: (sim: PlatformSimulator, proxy: ConnectProxy) => Promise<void>,
) {
  const sim = await PlatformSimulator.start({
    tls: {
      cert: await Deno.readTextFile(new URL("server.pem", TLS_DIR)),
      key: await Deno.readTextFile(new URL("server.key", TLS_DIR)),
    },
  });
  const proxy = ConnectProxy.start();
  try {
    await fn(sim, proxy);
  } finally {
    await proxy.close();
    await sim.close();
  }
}

for (const transport of ["tcp", "ws"]) {
  Deno.test(`proxy (${transport}): HTTPS_PROXY tunnels the wss:// connection with CONNECT; credentials never logged`, async () => {
    await withSimulatorAndProxy(async (sim, proxy) => {
      const runner = await startRunner({
        url: sim.url,
        token: sim.token,
        args: ["--transport", transport],
        env: {
          DENO_CERT: CA,
          ...NO_PROXY_VARS,
          HTTPS_PROXY: proxy.url("ops:pr0xy-s3cret"),
          https_proxy: "",
          ALL_PROXY: "",
          all_proxy: "",
        },
      });
      try {
        await sim.waitFor((e) => e.type === "heartbeat", 60_000, "a heartbeat through the proxy");
        expect(proxy.connects).toEqual([{
          target: `127.0.0.1:${sim.port}`,
          authorization: `Basic ${btoa("ops:pr0xy-s3cret")}`,
        }]);
        // tasks flow through the tunnel too
        expect((await sim.request("bash", { command: "echo hi" })).success).toBe(false);
        expect(runner.logs()).toContain(`through the proxy http://127.0.0.1:${proxy.port}`);
        expect(runner.logs()).not.toContain("pr0xy-s3cret");
        expect(runner.logs()).not.toContain(btoa("ops:pr0xy-s3cret"));
      } finally {
        expect(await runner.stop()).toBe(0);
      }
    });
  });
}

Deno.test("proxy: NO_PROXY covering the host connects directly; lower-case all_proxy is honoured", async () => {
  await withSimulatorAndProxy(async (sim, proxy) => {
    const direct = await startRunner({
      url: sim.url,
      token: sim.token,
      env: {
        DENO_CERT: CA,
        ...NO_PROXY_VARS,
        HTTPS_PROXY: proxy.url(),
        no_proxy: "localhost,127.0.0.1",
      },
    });
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 60_000, "a direct heartbeat");
      expect(proxy.connects).toEqual([]);
      expect(direct.logs()).not.toContain("through the proxy");
    } finally {
      expect(await direct.stop()).toBe(0);
    }

    const from = sim.received.length;
    const lower = await startRunner({
      url: sim.url,
      token: sim.token,
      env: {
        DENO_CERT: CA,
        ...NO_PROXY_VARS,
        HTTPS_PROXY: "",
        https_proxy: "",
        ALL_PROXY: "",
        all_proxy: proxy.url(),
      },
    });
    try {
      await sim.waitFor((e) => e.type === "heartbeat", 60_000, "a heartbeat via all_proxy", from);
      expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${sim.port}`]);
    } finally {
      expect(await lower.stop()).toBe(0);
    }
  });
});

Deno.test("proxy: lookup maps wss to https and ws to http; logged form has no credentials", () => {
  const saved = Object.fromEntries(
    [
      "HTTPS_PROXY",
      "https_proxy",
      "HTTP_PROXY",
      "http_proxy",
      "NO_PROXY",
      "no_proxy",
      "ALL_PROXY",
      "all_proxy",
    ]
      .map((k) => [k, Deno.env.get(k)]),
  );
  try {
    for (const k of Object.keys(saved)) Deno.env.delete(k);
    expect(proxyFor("wss://platform.example/ws")).toBeUndefined();
    Deno.env.set("HTTPS_PROXY", "http://u:p@proxy.corp:3128");
    Deno.env.set("HTTP_PROXY", "http://plain.corp:8080");
    expect(proxyFor("wss://platform.example/ws")?.host).toBe("proxy.corp:3128");
    expect(proxyFor("ws://platform.example/ws")?.host).toBe("plain.corp:8080");
    Deno.env.set("NO_PROXY", ".example");
    expect(proxyFor("wss://platform.example/ws")).toBeUndefined();
    expect(withoutCredentials("http://u:p@proxy.corp:3128")).toBe("http://proxy.corp:3128");
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
});

Deno.test("proxy (tcp): a refused CONNECT fails the dial; an https:// proxy is refused at start", async () => {
  // A proxy that wants other credentials: the dial fails with its status, nothing is tunnelled.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    await conn.write(
      new TextEncoder().encode("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
    );
    conn.close();
  })();
  try {
    const proxy = new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
    const err = await dialTcp("wss://platform.example/ws", {
      onMessage: () => {},
      onClose: () => {},
    }, { headers: {}, timeoutMs: 10_000, maxPayload: 1024, proxy }).catch((e) => e);
    expect(err).toBeInstanceOf(DialError);
    expect((err as DialError).message).toBe("proxy answered HTTP 407 to CONNECT");
  } finally {
    await served;
    listener.close();
  }
  // TLS to the proxy and TLS inside the tunnel would need TLS over TLS: said before any dial.
  expect(() => checkTunnelProxy(new URL("https://proxy.corp:3128"))).toThrow(
    /unsupported proxy scheme https: .* for the tcp transport: use an http:\/\/ proxy/,
  );
  expect(() => checkTunnelProxy(new URL("socks5://proxy.corp:1080"))).toThrow(ProxyError);
});
