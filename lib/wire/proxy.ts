/**
 * The platform connection through an HTTP proxy, as the Go runner and most
 * tools do it: HTTPS_PROXY (for wss://), HTTP_PROXY (for ws://), ALL_PROXY,
 * NO_PROXY, upper or lower case (npm:proxy-from-env reads them), and a
 * CONNECT tunnel: the default transport opens it itself
 * (lib/wire/ws_client_handshake.ts); npm:ws (`--transport ws`) dials
 * through npm:https-proxy-agent. Deno's native WebSocket
 * (`--transport native`) reads the same variables itself.
 *
 * A proxy URL may hold credentials (http://user:pass@proxy:3128): they go
 * to the proxy in Proxy-Authorization and are never logged.
 */
import { getProxyForUrl } from "../deps/proxy.ts";

/**
 * The proxy the platform URL goes through, or undefined for a direct
 * connection. ws:// and wss:// are looked up as http:// and https:// (so
 * HTTPS_PROXY applies to wss://), NO_PROXY included.
 */
export function proxyFor(platformUrl: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(platformUrl);
  } catch {
    return undefined;
  }
  const scheme = url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : "";
  if (!scheme) return undefined;
  const asHttp = `${scheme}//${url.host}${url.pathname}`;
  let proxy: string;
  try {
    proxy = getProxyForUrl(asHttp);
  } catch {
    return undefined; // the variables are not readable (no --allow-env for them): direct
  }
  if (!proxy) return undefined;
  try {
    return new URL(proxy);
  } catch {
    throw new ProxyError(`the proxy for ${url.host} is not a URL: ${withoutCredentials(proxy)}`);
  }
}

export class ProxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyError";
  }
}

/** The proxy as it may be logged: scheme, host and port only. */
export function withoutCredentials(proxy: string | URL): string {
  try {
    const u = new URL(String(proxy));
    return `${u.protocol}//${u.host}`;
  } catch {
    return "<invalid proxy URL>";
  }
}

/** `host:port` of the proxy, for the sandbox's net grant. */
export function proxyHostPort(proxy: URL): string {
  const port = proxy.port || (proxy.protocol === "https:" ? "443" : "80");
  return `${proxy.hostname}:${port}`;
}

/**
 * The tcp transport tunnels through http:// proxies only: CONNECT inside a
 * TLS connection to the proxy would need TLS over TLS, which Deno's
 * startTls does not do. Refused at start rather than at every dial.
 */
export function checkTunnelProxy(proxy: URL): void {
  if (proxy.protocol !== "http:") {
    throw new ProxyError(
      `unsupported proxy scheme ${proxy.protocol} (${withoutCredentials(proxy)}) for the tcp ` +
        "transport: use an http:// proxy that supports CONNECT, or --transport ws",
    );
  }
}

/** An http.Agent that tunnels through `proxy` with CONNECT (for npm:ws's `agent` option). */
export async function proxyAgent(proxy: URL): Promise<unknown> {
  if (proxy.protocol !== "http:" && proxy.protocol !== "https:") {
    throw new ProxyError(
      `unsupported proxy scheme ${proxy.protocol} (${withoutCredentials(proxy)}): ` +
        "use an http:// or https:// proxy that supports CONNECT",
    );
  }
  const { HttpsProxyAgent } = await import("../deps/proxy_agent.ts");
  return new HttpsProxyAgent(proxy);
}
