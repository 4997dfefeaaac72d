import { TaskError } from "../tasks/errors.ts";
import { PinnedRelay } from "./pinned_relay.ts";
import { safeUrl, type UrlPolicy } from "../policy/url_policy.ts";

export const MAX_REDIRECTS = 10;
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export interface FetchOptions {
  /** every hop is checked against it */
  policy: UrlPolicy;
  /** task.cancel / shutdown */
  signal: AbortSignal;
  /** the whole fetch (DNS, connects, redirects and body) must finish within this */
  timeoutMs: number;
  headers?: Record<string, string>;
  maxBodyBytes?: number;
  /** extra trusted roots (PEM), for tests against a local TLS server */
  caCerts?: string[];
}

export interface Fetched {
  /** the final URL, after redirects */
  url: URL;
  status: number;
  contentType: string;
  body: Uint8Array;
}

/**
 * GET `start`, following up to 10 redirects by hand so that every hop is
 * checked by the URL policy (rules, scheme, link-local/metadata addresses
 * after DNS) before any connection is made to it, and every connection goes
 * to the addresses that were checked (see PinnedRelay). The body is read as
 * a stream and abandoned as soon as it passes the size limit.
 */
export async function fetchWithPolicy(start: URL, opts: FetchOptions): Promise<Fetched> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new TimedOut()), opts.timeoutMs);
  const onCancel = () => abort.abort(opts.signal.reason ?? new Error("cancelled"));
  if (opts.signal.aborted) onCancel();
  opts.signal.addEventListener("abort", onCancel, { once: true });
  const signal = abort.signal;
  try {
    let url = start;
    for (let hop = 0;; hop++) {
      const checked = await opts.policy.check(url, signal).catch((err) => {
        throw requestError(err, url, signal, opts, undefined);
      });
      const relay = envProxyFor(url) ? undefined : PinnedRelay.start(url, checked.addresses);
      const client = Deno.createHttpClient({
        ...(relay ? { proxy: relay.proxy } : {}),
        ...(opts.caCerts ? { caCerts: opts.caCerts } : {}),
      });
      try {
        let response: Response;
        try {
          response = await fetch(url, {
            method: "GET",
            redirect: "manual",
            headers: opts.headers,
            signal,
            client,
          });
        } catch (err) {
          throw requestError(err, url, signal, opts, relay);
        }
        const location = response.headers.get("location");
        if (isRedirect(response.status) && location !== null) {
          await response.body?.cancel().catch(() => {});
          if (hop >= MAX_REDIRECTS) {
            throw new TaskError(
              `too many redirects: more than ${MAX_REDIRECTS} (last: ${safeUrl(url)})`,
            );
          }
          try {
            url = new URL(location, url);
          } catch {
            throw new TaskError(`bad redirect from ${safeUrl(url)}: ${JSON.stringify(location)}`);
          }
          continue;
        }
        const body = await readLimited(response, opts.maxBodyBytes ?? MAX_BODY_BYTES, url)
          .catch((err) => {
            throw requestError(err, url, signal, opts, relay);
          });
        return {
          url,
          status: response.status,
          contentType: response.headers.get("content-type") ?? "",
          body,
        };
      } finally {
        client.close();
        await relay?.close();
      }
    }
  } finally {
    clearTimeout(timer);
    opts.signal.removeEventListener("abort", onCancel);
  }
}

class TimedOut extends Error {
  constructor() {
    super("timed out");
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 ||
    status === 308;
}

/** Reads at most `max` bytes; a longer body is an error and is not read further. */
async function readLimited(response: Response, max: number, url: URL): Promise<Uint8Array> {
  const tooLarge = (size: string) =>
    new TaskError(
      `response too large: ${size} from ${safeUrl(url)} exceeds the ${
        max / (1024 * 1024)
      } MB limit`,
    );
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(`${declared} bytes`);
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`more than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** One clear message per way a request can fail. */
function requestError(
  err: unknown,
  url: URL,
  signal: AbortSignal,
  opts: FetchOptions,
  relay: PinnedRelay | undefined,
): Error {
  if (err instanceof TaskError) return err;
  if (signal.aborted) {
    if (signal.reason instanceof TimedOut) {
      return new TaskError(
        `request timed out after ${opts.timeoutMs / 1000} s: ${safeUrl(url)}`,
      );
    }
    return new TaskError(`webfetch cancelled: ${safeUrl(url)}`);
  }
  if (relay?.lastError) {
    return new TaskError(`cannot connect to ${url.host}: ${relay.lastError}`);
  }
  const cause = (err as { cause?: { message?: string } }).cause?.message;
  const detail = (cause ?? (err as Error).message ?? String(err))
    .replace(/^error sending request[^:]*: /, "");
  return new TaskError(`request to ${safeUrl(url)} failed: ${detail}`);
}

/**
 * True when an HTTP(S)_PROXY / ALL_PROXY variable is set: the request then
 * goes through that proxy as Deno's fetch decides (NO_PROXY included), and
 * the proxy, not us, connects to the host: the connection is not pinned.
 */
function envProxyFor(url: URL): boolean {
  const names = url.protocol === "https:"
    ? ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    : ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
  try {
    return names.some((n) => (Deno.env.get(n) ?? "") !== "");
  } catch {
    return false; // no env permission: Deno's fetch cannot read them either
  }
}
