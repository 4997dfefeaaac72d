/**
 * `flashduty-runner doctor`: the self-check an operator runs before (or
 * instead of) reading logs. One line per check, `ok|warn|fail <check>:
 * <detail>`; main.ts exits 1 when any line is `fail`. Every check calls the
 * module the runner itself uses (config, lint, start-up probe, permission
 * derivation, Landlock probe, program lookup, proxy choice, the
 * connection's upgrade request and dialer), so what doctor says is what
 * `run` will meet.
 */
import { withDeadline } from "../async/deadline.ts";
import type { RunnerConfig } from "../config.ts";
import type { RunSettings } from "../settings.ts";
import { lintConfig } from "../policy/lint.ts";
import { checkAuditLog, checkWorkspace, osReason } from "./startup_check.ts";
import { operatorGrants } from "./grants.ts";
import { derivePermissions, envPath, namedPrograms } from "../sandbox/permissions.ts";
import { type Availability, probeLandlock } from "../sandbox/landlock.ts";
import { proxyFor, proxyHostPort, withoutCredentials } from "../wire/proxy.ts";
import { redactUrl, upgradeRequest } from "../wire/connection.ts";
import { type Dialer, DialError } from "../wire/transport.ts";
import { decodeInbound, parseFrame } from "../wire/protocol.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/limits.ts";

export type Level = "ok" | "warn" | "fail";
/** Records one finding (the checks below report through it, in order). */
type AddFinding = (level: Level, check: string, detail: string) => void;

export interface Finding {
  level: Level;
  check: string;
  detail: string;
}

export interface DoctorInput {
  config: RunnerConfig;
  /** the config file, or undefined for built-in defaults */
  configPath?: string;
  settings: RunSettings;
  /** the platform dialer (lib/wire/platform_dial.ts: the transport, through the proxy) */
  dial: Dialer;
  /** per network step; short, since an operator is waiting */
  timeoutMs?: number;
  /** masks the token and `redact.values` in every line (lib/redact/runner_redactor.ts: what the logs mask) */
  redact?: (text: string) => string;
  /** the kernel layer probe (tests stand in for a kernel without Landlock) */
  probeKernel?: () => Availability;
}

/** Clock skew above this is a warning: the platform's time-bound tokens and logs drift. */
export const MAX_SKEW_MS = 60_000;

export async function runDoctor(input: DoctorInput): Promise<Finding[]> {
  const { config, settings } = input;
  const timeoutMs = input.timeoutMs ?? 5000;
  const out: Finding[] = [];
  const redact = input.redact ?? ((text: string) => text);
  const add = (level: Level, check: string, detail: string) =>
    out.push({ level, check, detail: redact(detail) });

  add("ok", "config", input.configPath ? `${input.configPath} loaded` : "no file: built-in rules");
  const kernel = (input.probeKernel ?? probeLandlock)();
  const lint = lintConfig(config, { kernel });
  if (lint.warnings.length === 0) add("ok", "lint", "no warnings");
  else {
    add(
      "warn",
      "lint",
      `${lint.warnings.length} warning(s); see \`flashduty-runner check --lint\``,
    );
  }

  let workspace = settings.workspace;
  try {
    workspace = await checkWorkspace(settings.workspace);
    add("ok", "workspace", `${workspace} is a writable directory`);
  } catch (err) {
    add("fail", "workspace", (err as Error).message);
  }

  if (settings.auditLog) {
    try {
      await checkAuditLog(settings.auditLog.path);
      add("ok", "audit log", `${settings.auditLog.path} opens for appending`);
    } catch (err) {
      add("fail", "audit log", (err as Error).message);
    }
  }

  try {
    const p = derivePermissions({
      config,
      workspace,
      configPath: input.configPath,
      platformUrl: settings.url,
      operator: operatorGrants(settings),
    });
    const run = p.run === "all" ? "any program" : `${p.run.length} program(s)`;
    const net = p.net === "all" ? "any host" : p.net.join(", ");
    add("ok", "deno permissions", `run: ${run}; net: ${net}; write: ${p.write.length} path(s)`);
  } catch (err) {
    add("fail", "deno permissions", (err as Error).message);
  }
  const setting = config.sandbox ?? "auto";
  if (setting === "off") add("warn", "kernel layer", "off (sandbox: off)");
  else if (kernel.available) add("ok", "kernel layer", `Landlock ABI ${kernel.abi}`);
  else add(setting === "require" ? "fail" : "warn", "kernel layer", `missing: ${kernel.reason}`);

  const programs = namedPrograms(config.permission.bash, envPath(), workspace);
  const missing = programs.filter((p) => p.path === undefined).map((p) => p.program);
  if (missing.length > 0) {
    add("warn", "programs", `not found on PATH: ${missing.join(", ")} (rules name them)`);
  } else add("ok", "programs", `${programs.length} named by the rules, all found on PATH`);

  await networkChecks(input, timeoutMs, add);
  return out;
}

async function networkChecks(
  input: DoctorInput,
  timeoutMs: number,
  add: AddFinding,
): Promise<void> {
  const { settings } = input;
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    add("fail", "url", `not a URL: ${redactUrl(settings.url)}`);
    return;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const tls = url.protocol === "wss:";
  const port = Number(url.port || (tls ? 443 : 80));
  let proxy: URL | undefined;
  try {
    proxy = proxyFor(settings.url);
  } catch (err) {
    add("fail", "proxy", (err as Error).message);
    return;
  }

  if (isIpLiteral(host)) add("ok", "dns", `${host} is an IP address: nothing to resolve`);
  else {
    const resolved = await resolve(host, timeoutMs);
    if (resolved.ok) add("ok", "dns", `${host} -> ${resolved.addresses.join(", ")}`);
    else if (proxy) add("warn", "dns", `${host}: ${resolved.reason} (the proxy resolves it)`);
    else add("fail", "dns", `${host}: ${resolved.reason}`);
  }

  const target = proxy ? proxyHostPort(proxy) : `${host}:${port}`;
  const via = proxy ? ` through the proxy ${withoutCredentials(proxy)}` : "";
  const reach = await withTimeout(
    (async () => {
      const [h, p] = proxy ? [proxy.hostname, Number(proxyHostPort(proxy).split(":").pop())] : [
        host,
        port,
      ];
      const conn = tls && !proxy
        ? await Deno.connectTls({ hostname: h, port: p })
        : await Deno.connect({ hostname: h, port: p });
      if (tls && !proxy) await (conn as Deno.TlsConn).handshake();
      return conn;
    })(),
    timeoutMs,
    (conn) => conn.close(),
  );
  if (!reach.ok) {
    add("fail", "reach", `failed to connect to ${target}${via}: ${reach.reason}`);
    return;
  }
  reach.value.close();
  add("ok", "reach", `${tls && !proxy ? "TLS" : "TCP"} to ${target}${via}`);

  await tokenCheck(input, timeoutMs, add);
}

/** A real upgrade with the runner's token and dialer, then the platform's welcome. */
async function tokenCheck(
  input: DoctorInput,
  timeoutMs: number,
  add: AddFinding,
): Promise<void> {
  const { settings } = input;
  const safeUrl = redactUrl(settings.url);
  const upgrade = upgradeRequest(settings.url, settings.token);
  const welcome = Promise.withResolvers<{ name: string; id: string; timestamp: number }>();
  let socket;
  try {
    socket = await input.dial(upgrade.url, {
      onMessage: (text) => {
        const msg = decodeInbound(text);
        const frame = parseFrame(text);
        if (msg.kind !== "welcome" || !frame.ok) return;
        welcome.resolve({
          name: msg.welcome.name,
          id: msg.welcome.worknode_id,
          timestamp: Number(frame.envelope.timestamp),
        });
      },
      onClose: () => {},
    }, { headers: upgrade.headers, timeoutMs, maxPayload: DEFAULT_MAX_FRAME_BYTES });
  } catch (err) {
    if (err instanceof DialError && err.kind === "auth") {
      add(
        "fail",
        "token",
        `authentication failed: the platform rejected the token (HTTP ${err.status}) at ${safeUrl}`,
      );
    } else add("fail", "token", `failed to connect to ${safeUrl}: ${(err as Error).message}`);
    add("warn", "clock", "not checked: no welcome from the platform");
    return;
  }
  const received = Date.now();
  const got = await withTimeout(welcome.promise, timeoutMs);
  try {
    socket.close(1000, "doctor done");
  } catch { /* already closed */ }
  if (!got.ok) {
    add("warn", "token", `accepted, but no welcome within ${timeoutMs} ms`);
    add("warn", "clock", "not checked: no welcome carrying the platform's time");
    return;
  }
  add("ok", "token", `accepted; welcomed as ${got.value.id} (${got.value.name})`);
  const ts = got.value.timestamp;
  if (!Number.isFinite(ts) || ts <= 0) {
    add("warn", "clock", "not checked: the welcome carries no timestamp");
    return;
  }
  // The welcome left the platform between our upgrade and its arrival: skew beyond that window.
  const skew = Date.now() - ts;
  const slack = Date.now() - received;
  const beyond = Math.max(0, Math.abs(skew) - slack);
  const detail = `${skew >= 0 ? "ahead of" : "behind"} the platform by ${Math.abs(skew)} ms`;
  add(beyond > MAX_SKEW_MS ? "warn" : "ok", "clock", detail);
}

/** The report: one line per finding. */
export function doctorText(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.level} ${f.check}: ${f.detail}`).join("\n") + "\n";
}

export function anyFailed(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.level === "fail");
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

async function resolve(
  host: string,
  timeoutMs: number,
): Promise<{ ok: true; addresses: string[] } | { ok: false; reason: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const settled = await Promise.allSettled(
      (["A", "AAAA"] as const).map((t) => Deno.resolveDns(host, t, { signal: controller.signal })),
    );
    const addresses = settled.flatMap((s) => s.status === "fulfilled" ? s.value : []);
    if (addresses.length > 0) return { ok: true, addresses: addresses.slice(0, 4) };
    const first = settled.find((s) => s.status === "rejected") as PromiseRejectedResult | undefined;
    const reason = controller.signal.aborted
      ? `no answer within ${timeoutMs} ms`
      : `does not resolve (${dnsReason(first?.reason)})`;
    return { ok: false, reason };
  } finally {
    clearTimeout(timer);
  }
}

/** `work` or a timeout; a late result is handed to `discard` (a socket that opened too late). */
async function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  discard?: (late: T) => void,
): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
  let timedOut = false;
  const done = work.then(
    (value) => {
      if (timedOut) discard?.(value);
      return { ok: true as const, value };
    },
    (err) => ({ ok: false as const, reason: osReason(err) }),
  );
  return await withDeadline(done, ms, () => {
    timedOut = true;
    return { ok: false as const, reason: `timed out after ${ms} ms` };
  });
}

/** Deno's resolver errors quote the whole query: the operator needs the gist. */
function dnsReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err ?? "");
  if (message === "" || /no records found/i.test(message)) return "no A or AAAA records";
  return osReason(err);
}
