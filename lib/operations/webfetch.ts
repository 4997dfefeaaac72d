import { TIMEOUTS, timeoutSeconds } from "../tasks/timeout.ts";
import { Args } from "../tasks/args.ts";
import { TaskError } from "../tasks/errors.ts";
import type { OperationContext, OperationHandler } from "../tasks/context.ts";
import { limitOutput } from "../tasks/output.ts";
import type { WebfetchArgs, WebfetchResult } from "../wire/protocol.ts";
import { FIELD_LIMITS } from "../wire/limits.ts";
import { fetchWithPolicy } from "../webfetch/fetch_with_policy.ts";
import { decodeBody, htmlToMarkdown, htmlToText, isHtml } from "../webfetch/html_convert.ts";
import { safeUrl } from "../policy/url_policy.ts";

const FORMATS = ["markdown", "text", "html"] as const;
type Format = typeof FORMATS[number];

// The reference runner's request headers: sites answer a browser-like client.
const USER_AGENT =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const ACCEPT: Record<Format, string> = {
  markdown: "text/markdown, text/html;q=0.9, */*;q=0.8",
  text: "text/plain, text/html;q=0.9, */*;q=0.8",
  html: "text/html, */*;q=0.8",
};

/**
 * `webfetch {url, format?, timeout?}` -> `{content, url, truncated?, ...}`.
 * Every hop is checked by the URL policy (lib/policy/url_policy.ts);
 * HTML becomes Markdown or text per `format`, anything else is returned as
 * text, as it came.
 */
export const webfetch: OperationHandler = async (raw, ctx) => {
  const args = webfetchArgs(raw);
  const urlText = args.url.trim();
  const format = readFormat(args.format);
  const timeoutS = timeoutSeconds(TIMEOUTS.webfetch, args.timeout);
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new TaskError(`invalid url: ${JSON.stringify(urlText)} (a full http or https URL)`);
  }
  return await fetchAndConvert(url, format, timeoutS, ctx);
};

/** The operation body, with `caCerts` for tests that speak TLS to a local server. */
export async function fetchAndConvert(
  url: URL,
  format: Format,
  timeoutS: number,
  ctx: OperationContext,
  caCerts?: string[],
): Promise<WebfetchResult> {
  const fetched = await fetchWithPolicy(url, {
    policy: ctx.policy.url,
    signal: ctx.signal,
    timeoutMs: timeoutS * 1000,
    headers: {
      "User-Agent": USER_AGENT,
      "Accept": ACCEPT[format],
      "Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8,zh;q=0.7",
    },
    caCerts,
  });
  ctx.log.debug("webfetch {url} -> {final}: {status} {type}, {bytes} bytes", {
    url: safeUrl(url),
    final: safeUrl(fetched.url),
    status: fetched.status,
    type: fetched.contentType,
    bytes: fetched.body.length,
  });
  const html = isHtml(fetched.contentType, fetched.body);
  const text = decodeBody(fetched.body, fetched.contentType, html);
  let content = text;
  if (html && format === "markdown") content = htmlToMarkdown(text, fetched.url);
  else if (html && format === "text") content = htmlToText(text, fetched.url);
  const { content: limited, ...truncation } = await limitOutput(ctx.workspace, "webfetch", content);
  return { content: limited, url: fetched.url.href, ...truncation };
}

export function webfetchArgs(raw: unknown): WebfetchArgs {
  const args = Args.of("webfetch", raw);
  return {
    url: args.nonEmptyString("url", FIELD_LIMITS.url),
    format: args.optionalString("format", FIELD_LIMITS.name),
    timeout: args.optionalNumber("timeout"),
  };
}

function readFormat(value: string | undefined): Format {
  if (value === undefined || value === "") return "markdown";
  const f = value.toLowerCase();
  if ((FORMATS as readonly string[]).includes(f)) return f as Format;
  throw new TaskError(
    `invalid args for webfetch: \`format\` must be markdown, text or html (got ${
      JSON.stringify(value)
    })`,
  );
}
