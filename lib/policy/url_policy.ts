import { lookup } from "node:dns/promises";
import type { RunnerConfig } from "../config.ts";
import { TaskError } from "../tasks/errors.ts";
import { type Decision, describeDecision, RuleSet } from "./rules.ts";
import { blockedAddress, blockedName, parseIPv4, parseIPv6 } from "./blocked_addresses.ts";

/** A getaddrinfo answer can hang on a broken resolver; the fetch's own timeout also applies. */
const DNS_TIMEOUT_MS = 15_000;

/** One resolved address of a checked URL's host. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** What the policy let through: the URL and the addresses it checked for it. */
export interface CheckedUrl {
  url: URL;
  /** the host without IPv6 brackets */
  hostname: string;
  /** every address the host resolved to (all of them were checked) */
  addresses: CheckedAddress[];
  /** true when an explicit allow rule lifted the link-local/metadata block */
  explicitlyAllowed: boolean;
}

/**
 * Throws TaskError(`url denied: ...`) when `url` may not be fetched: a
 * scheme other than http/https, a URL the `permission.webfetch` rules deny,
 * or a host that is (or resolves to) a link-local / cloud metadata address.
 * Call it again for every redirect target.
 */
export async function assertUrlAllowed(
  url: URL,
  config: RunnerConfig,
  signal?: AbortSignal,
): Promise<void> {
  await checkUrl(url, config, signal);
}

/** assertUrlAllowed, returning the addresses it checked so a connection can be pinned to them. */
export async function checkUrl(
  url: URL,
  config: RunnerConfig,
  signal?: AbortSignal,
): Promise<CheckedUrl> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TaskError(
      `url denied: ${safeUrl(url)}: scheme ${JSON.stringify(url.protocol.slice(0, -1))} ` +
        `is not allowed (only http and https)`,
    );
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  if (hostname === "") throw new TaskError(`url denied: ${safeUrl(url)}: no host`);

  let explicitlyAllowed = false;
  const rules = config.permission.webfetch;
  if (rules !== undefined) {
    const decision = new RuleSet(rules).decide(url.href);
    if (decision.action === "deny") {
      throw new TaskError(
        `url denied: ${safeUrl(url)} (permission.webfetch ${describeDecision(decision)})`,
      );
    }
    explicitlyAllowed = namesHost(decision, url);
  }

  const byName = blockedName(hostname);
  if (byName && !explicitlyAllowed) throw blocked(url, byName);

  const addresses = await resolve(hostname, signal);
  if (!explicitlyAllowed) {
    for (const a of addresses) {
      const why = blockedAddress(a.address);
      if (why) throw blocked(url, a.address === hostname ? why : `${hostname} resolves to ${why}`);
    }
  }
  return { url, hostname, addresses, explicitlyAllowed };
}

function blocked(url: URL, why: string): TaskError {
  return new TaskError(
    `url denied: ${safeUrl(url)}: ${why}; link-local and cloud metadata addresses are blocked ` +
      `(an explicit permission.webfetch allow rule naming the host lifts this)`,
  );
}

/**
 * True when the deciding rule allows and names this host literally (no `*`
 * in its host part), e.g. `http://169.254.169.254/*`. A catch-all such as
 * `*` or `https://*` never lifts the metadata block: reaching the metadata
 * service has to be asked for by name.
 */
function namesHost(decision: Decision, url: URL): boolean {
  if (decision.action !== "allow" || !decision.rule) return false;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(decision.rule.pattern);
  if (!m || m[1].includes("*")) return false;
  const authority = m[1].replace(/^.*@/, "").toLowerCase();
  return authority === url.host.toLowerCase() || authority === url.hostname.toLowerCase();
}

/**
 * Resolves like the connection will: node:dns `lookup` goes through
 * getaddrinfo (so /etc/hosts and nsswitch apply), unlike Deno.resolveDns.
 */
async function resolve(hostname: string, signal?: AbortSignal): Promise<CheckedAddress[]> {
  if (parseIPv4(hostname)) return [{ address: hostname, family: 4 }];
  if (parseIPv6(hostname)) return [{ address: hostname, family: 6 }];
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const answers = await Promise.race([
      lookup(hostname, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TaskError(`cannot resolve host ${hostname}: DNS lookup timed out`)),
          DNS_TIMEOUT_MS,
        );
        onAbort = () => reject(signal!.reason ?? new TaskError("cancelled"));
        signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
    if (answers.length === 0) throw new TaskError(`cannot resolve host ${hostname}: no addresses`);
    return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  } catch (err) {
    if (err instanceof TaskError || signal?.aborted) throw err;
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new TaskError(`cannot resolve host ${hostname}: ${code}`);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/** The URL for messages and logs, without any user:password part. */
export function safeUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}
