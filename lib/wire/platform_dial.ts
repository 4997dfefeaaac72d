import { logger } from "../log.ts";
import { type RunSettings, UsageError } from "../settings.ts";
import { type Dialer, dialer } from "./transport.ts";
import { checkTunnelProxy, proxyAgent, ProxyError, proxyFor, withoutCredentials } from "./proxy.ts";

/**
 * The transport's dialer, through the proxy the environment names for the
 * platform URL (the tcp transport opens the CONNECT tunnel itself; npm:ws
 * gets a CONNECT agent; Deno's native WebSocket reads the same variables
 * itself). The proxy is logged without credentials.
 */
export async function platformDialer(settings: RunSettings): Promise<Dialer> {
  const dial = dialer(settings.transport);
  let proxy: URL | undefined;
  let agent: unknown;
  try {
    proxy = proxyFor(settings.url);
    if (proxy && settings.transport === "ws") agent = await proxyAgent(proxy);
    if (proxy && settings.transport === "tcp") checkTunnelProxy(proxy);
  } catch (err) {
    if (err instanceof ProxyError) throw new UsageError(err.message);
    throw err;
  }
  if (!proxy) return dial;
  logger("connection").info("connecting to the platform through the proxy {proxy}", {
    proxy: withoutCredentials(proxy),
  });
  if (agent) return (url, handlers, opts) => dial(url, handlers, { ...opts, agent });
  if (settings.transport === "tcp") {
    const via = proxy;
    return (url, handlers, opts) => dial(url, handlers, { ...opts, proxy: via });
  }
  return dial;
}
