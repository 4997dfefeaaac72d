import { lookup } from "node:dns/promises";
import { withDeadline } from "../async/deadline.ts";
import type { Rule } from "../config.ts";
import { TaskError } from "../tasks/errors.ts";
import { type Decision, describeDecision } from "./rules.ts";
import { compileGlob, type GlobMatcher } from "./glob_match.ts";
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

/** The compiled `permission.webfetch`, plus the built-in checks every URL gets. */
export interface UrlPolicy {
  /** the rules as written; undefined: no section, the built-in policy alone */
  readonly rules: readonly Rule[] | undefined;
  /** what the rules alone say about `url` (no scheme, address or DNS checks) */
  decide(url: URL): Decision;
  /**
   * Everything: throws TaskError(`url denied: ...`) for a scheme other than
   * http/https, a URL the rules deny, or a host that is (or resolves to) a
   * link-local / cloud metadata address. Call it again for every redirect
   * target. Returns the addresses it checked, so a connection can be pinned.
   */
  check(url: URL, signal?: AbortSignal): Promise<CheckedUrl>;
}

/**
 * Compiles the rules once. Each rule is read as URL components, not as
 * text over the whole URL (issue 12: `https://*.kubernetes.io/*` read as
 * text admitted `https://127.0.0.1:9/.kubernetes.io/`):
 *
 * - `*` (only stars): every URL.
 * - `SCHEME://HOST[:PORT][/PATH...]`: the scheme and the host are matched
 *   against the URL's own (lower case, trailing dot dropped, IDN as
 *   punycode, IP literals normalised); `*` in the host matches any run of
 *   host characters. `:PORT` is one port, `:*` any; no port means the
 *   scheme's default port in an allow rule (any port for a host of just
 *   `*`), and any port in a deny rule. The rest (path and query) is a glob over the URL's path and
 *   query; no rest means any path. A `user@` part is refused.
 *
 * The path is matched twice: as sent (percent-encoding kept) and decoded
 * (`%69` is `i`, duplicate slashes collapsed, `.`/`..` resolved), since
 * servers read paths both ways; a URL is allowed only when both readings
 * allow it. Deny rules match ignoring case (a case-insensitive server
 * serves `/INTERNAL/` as `/internal/`); allow rules are exact.
 *
 * Throws UrlRuleError for a pattern that is not one of these forms.
 */
export function compileUrlPolicy(rules: readonly Rule[] | undefined): UrlPolicy {
  const compiled = rules?.map(compileRule);
  const decideWith = (url: URL) => compiled ? decideUrl(compiled, url) : undefined;
  return {
    rules,
    decide: (url) => decideWith(url)?.decision ?? { action: "allow" },
    check: (url, signal) => checkWith(url, decideWith, signal),
  };
}

/** A `permission.webfetch` pattern that cannot be read as URL components. */
export class UrlRuleError extends Error {
  constructor(pattern: string, why: string) {
    super(`permission.webfetch rule ${JSON.stringify(pattern)}: ${why}`);
    this.name = "UrlRuleError";
  }
}

/**
 * The host a rule names literally (no `*`), normalised as URLs are, e.g.
 * `169.254.169.254` for `http://169.254.169.254/*` and `fd00:ec2::254` for
 * `http://[fd00:ec2::254]/*`; undefined for wildcards and catch-alls.
 */
export function literalRuleHost(pattern: string): string | undefined {
  const parts = splitPattern(pattern);
  if (!parts || parts.host.includes("*")) return undefined;
  return stripBrackets(normaliseHost(parts.host, pattern));
}

interface CompiledRule {
  rule: Rule;
  /** undefined: the rule matches every URL */
  parts?: {
    scheme: GlobMatcher;
    host: GlobMatcher;
    /** normalised host when written without `*` (lifts the metadata block) */
    literalHost?: string;
    /** "default": the scheme's default port only; "any"; or one port number */
    port: string;
    /** path and query, as sent and decoded; undefined: any */
    raw?: GlobMatcher;
    decoded?: GlobMatcher;
  };
}

function compileRule(rule: Rule): CompiledRule {
  const pattern = rule.pattern;
  if (/^\*+$/.test(pattern)) return { rule };
  const parts = splitPattern(pattern);
  if (!parts) {
    throw new UrlRuleError(
      pattern,
      'write "*" or scheme://host/path (e.g. https://docs.example.com/*)',
    );
  }
  const ignoreCase = rule.action === "deny";
  const glob = (p: string, fold = ignoreCase) =>
    compileGlob(p, { starOnly: true, ignoreCase: fold });
  const host = normaliseHost(parts.host, pattern);
  // No port: the default port for an allow rule; any port for a deny rule (fail closed).
  let port = parts.port ?? (parts.host === "*" || rule.action === "deny" ? "*" : "");
  if (port !== "*" && port !== "" && DEFAULT_PORT[parts.scheme.toLowerCase()] === port) port = "";
  return {
    rule,
    parts: {
      scheme: glob(parts.scheme, true),
      host: glob(host, true),
      literalHost: host.includes("*") ? undefined : stripBrackets(host),
      port: port === "*" ? "any" : port === "" ? "default" : port,
      raw: parts.rest === "" ? undefined : glob(parts.rest),
      decoded: parts.rest === "" ? undefined : glob(decodedPath(parts.rest, true)),
    },
  };
}

const DEFAULT_PORT: Record<string, string> = { http: "80", https: "443" };

/** `scheme`, `host`, `port` and the rest of a pattern, or undefined when it has no `://`. */
function splitPattern(pattern: string) {
  const m = /^([A-Za-z*][A-Za-z0-9+.\-*]*):\/\/([^/?#]*)([^#]*)/.exec(pattern);
  if (!m) return undefined;
  const [, scheme, authority, rest] = m;
  if (authority.includes("@")) throw new UrlRuleError(pattern, "a rule may not contain user@");
  if (authority === "") throw new UrlRuleError(pattern, "no host (use * for any host)");
  let host = authority;
  let port: string | undefined;
  const v6 = /^(\[[^\]]*\])(?::(.*))?$/.exec(authority);
  if (v6) [host, port] = [v6[1], v6[2]];
  else {
    const colon = authority.lastIndexOf(":");
    if (colon >= 0) [host, port] = [authority.slice(0, colon), authority.slice(colon + 1)];
  }
  if (port !== undefined && !/^(\d{1,5}|\*)$/.test(port)) {
    throw new UrlRuleError(pattern, `port ${JSON.stringify(port)} is not a number or *`);
  }
  return { scheme, host, port, rest };
}

/** The host as the URL parser would give it: lower case, punycode, IPs canonical, no trailing dot. */
function normaliseHost(host: string, pattern: string): string {
  if (host.includes("*")) {
    // Labels with a wildcard stay as written; the others go through the URL parser.
    return host.toLowerCase().split(".").map((label) =>
      label.includes("*") || label === "" ? label : parseHost(label, pattern)
    ).join(".").replace(/\.+$/, "");
  }
  return parseHost(host, pattern).replace(/\.+$/, "");
}

function parseHost(host: string, pattern: string): string {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    throw new UrlRuleError(pattern, `${JSON.stringify(host)} is not a valid host`);
  }
}

function stripBrackets(host: string): string {
  return host.replace(/^\[|\]$/g, "");
}

/**
 * The path (and query, kept as sent) the way a decoding server reads it:
 * percent-escapes decoded, runs of `/` collapsed, dot segments resolved.
 * For a pattern, `%2A` stays escaped so it never becomes a wildcard.
 */
function decodedPath(pathAndQuery: string, isPattern = false): string {
  const q = pathAndQuery.indexOf("?");
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? "" : pathAndQuery.slice(q);
  const decoded = path.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    if (isPattern && /%2a/i.test(run)) return run;
    try {
      return decodeURIComponent(run);
    } catch {
      return run; // not UTF-8: left as sent
    }
  });
  const out: string[] = [];
  for (const seg of decoded.replace(/\/+/g, "/").split("/").slice(1)) {
    if (seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  const last = decoded.endsWith("/.") || decoded.endsWith("/..") ? "/" : "";
  return (decoded.startsWith("/") ? "/" : "") + out.join("/") + last + query;
}

/**
 * The rules' decision over both readings of the URL: denied when either
 * reading denies, with the rule that denied; allowed with the rule that
 * allowed the URL as sent. `literal` says whether every reading was decided
 * by an allow rule naming this host without a wildcard.
 */
function decideUrl(
  compiled: readonly CompiledRule[],
  url: URL,
): { decision: Decision; literal: boolean } {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  const bare = stripBrackets(host);
  const rest = url.pathname + url.search;
  const readings = [rest, decodedPath(rest)];
  const decisions = readings.map((subject, k) => {
    let decision: Decision = { action: "deny" };
    let literal = false;
    for (const { rule, parts } of compiled) {
      if (parts) {
        if (!parts.scheme.match(scheme) || !parts.host.match(host)) continue;
        if (
          parts.port === "default"
            ? url.port !== ""
            : parts.port !== "any" && parts.port !== url.port
        ) {
          continue;
        }
        const glob = k === 0 ? parts.raw : parts.decoded;
        if (glob && !glob.match(subject)) continue;
      }
      decision = { action: rule.action, rule };
      literal = parts?.literalHost === bare;
    }
    return { decision, literal };
  });
  const denied = decisions.find((d) => d.decision.action === "deny");
  if (denied) return { decision: denied.decision, literal: false };
  return { decision: decisions[0].decision, literal: decisions.every((d) => d.literal) };
}

async function checkWith(
  url: URL,
  decide: (url: URL) => { decision: Decision; literal: boolean } | undefined,
  signal?: AbortSignal,
): Promise<CheckedUrl> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TaskError(
      `url denied: ${safeUrl(url)}: scheme ${JSON.stringify(url.protocol.slice(0, -1))} ` +
        `is not allowed (only http and https)`,
    );
  }
  const hostname = stripBrackets(url.hostname);
  if (hostname === "") throw new TaskError(`url denied: ${safeUrl(url)}: no host`);

  let explicitlyAllowed = false;
  const ruled = decide(url);
  if (ruled) {
    if (ruled.decision.action === "deny") {
      throw new TaskError(
        `url denied: ${safeUrl(url)} (permission.webfetch ${describeDecision(ruled.decision)})`,
      );
    }
    // Reaching a metadata service has to be asked for by name: a catch-all never lifts it.
    explicitlyAllowed = ruled.literal;
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
 * Resolves like the connection will: node:dns `lookup` goes through
 * getaddrinfo (so /etc/hosts and nsswitch apply), unlike Deno.resolveDns.
 */
async function resolve(hostname: string, signal?: AbortSignal): Promise<CheckedAddress[]> {
  if (parseIPv4(hostname)) return [{ address: hostname, family: 4 }];
  if (parseIPv6(hostname)) return [{ address: hostname, family: 6 }];
  signal?.throwIfAborted();
  try {
    const answers = await withDeadline(
      lookup(hostname, { all: true, verbatim: true }),
      DNS_TIMEOUT_MS,
      () => {
        throw new TaskError(`cannot resolve host ${hostname}: DNS lookup timed out`);
      },
      signal,
    );
    if (answers.length === 0) throw new TaskError(`cannot resolve host ${hostname}: no addresses`);
    return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  } catch (err) {
    if (err instanceof TaskError || signal?.aborted) throw err;
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new TaskError(`cannot resolve host ${hostname}: ${code}`);
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
