/**
 * The Deno permissions the operator's own settings need, on top of what
 * the rules need (lib/sandbox/permissions.ts adds them): the audit log's
 * file and its rotations (write), the metrics listener (net). Each grant
 * names the setting that asked for it.
 */
import type { OperatorGrants } from "../sandbox/permissions.ts";
import type { RunSettings } from "../settings.ts";
import { AUDIT_DEFAULT_KEEP, auditLogPaths } from "./audit_log.ts";
import { proxyFor, proxyHostPort, withoutCredentials } from "../wire/proxy.ts";

export function operatorGrants(settings: RunSettings): OperatorGrants {
  const read: string[] = [];
  const write: string[] = [];
  const net: string[] = [];
  const notes: string[] = [];
  if (settings.auditLog) {
    // Deno asks for read as well as write to open a file for appending.
    const files = auditLogPaths(
      settings.auditLog.path,
      settings.auditLog.keep ?? AUDIT_DEFAULT_KEEP,
    );
    read.push(...files);
    write.push(...files);
    notes.push(
      `--allow-read/--allow-write name the audit log ${settings.auditLog.path} and its rotations`,
    );
  }
  if (settings.metricsAddr) {
    const { hostname, port } = settings.metricsAddr;
    net.push(`${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`);
    notes.push(`--allow-net names ${net.at(-1)}: the metrics listener (--metrics-addr)`);
  }
  let envAll = false;
  let proxy: URL | undefined;
  try {
    proxy = proxyFor(settings.url);
  } catch { /* reported when the runner connects */ }
  if (proxy) {
    net.push(proxyHostPort(proxy));
    notes.push(
      `--allow-net names ${proxyHostPort(proxy)}: the proxy for the platform ` +
        `(${withoutCredentials(proxy)}, from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY)`,
    );
    if (settings.transport === "ws") {
      envAll = true;
      notes.push(
        "--allow-env is unscoped: the proxy agent (npm:https-proxy-agent) loads npm:debug, " +
          "which reads the whole environment when it loads",
      );
    }
  }
  return { read, write, net, envAll, notes };
}
