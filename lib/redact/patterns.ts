/**
 * Well-known secret shapes. Each pattern's named group `s` is the secret
 * (what is replaced); the rest of the match is context that stays (the
 * `password=` before a value, the `@` after URL credentials). A pattern
 * without `s` is a secret as a whole.
 *
 * Every pattern starts with a literal or a short bounded prefix and bounds
 * its repetitions, so a scan is linear in the text (no pattern rescans a
 * long run of characters from each position).
 *
 * `needs` is what every match of the pattern contains (a literal, or one of
 * a few characters): a text without it cannot match, and a quick search for
 * it spares the full scan. It only skips work: the text is redacted exactly
 * as the full scan would (tests/redact.test.ts checks each one against every
 * secret shape and a fuzzed corpus). Most results (base64 file content,
 * listings) hold none of them for most patterns.
 */
export interface SecretPattern {
  name: string;
  regex: RegExp;
  /** every match contains a match of this; absent: always scanned */
  needs?: Needs;
}

/** A quick test a text must pass to hold a match: a RegExp, or any of some literal strings. */
export interface Needs {
  test(text: string): boolean;
}

const p = (name: string, source: string, needs?: RegExp, flags = ""): SecretPattern => ({
  name,
  regex: new RegExp(source, "gd" + flags),
  needs,
});

export const SECRET_PATTERNS: readonly SecretPattern[] = [
  // A PEM private key block, header to footer (RSA, EC, OPENSSH, ENCRYPTED, PGP ... BLOCK).
  p(
    "private-key",
    String
      .raw`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----`,
    /-----BEGIN /,
  ),
  // AWS access key ids (long-lived AKIA, temporary ASIA, and the other IAM prefixes).
  p(
    "aws-access-key-id",
    String.raw`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b`,
  ),
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
  p(
    "github-token",
    String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`,
    /_/,
  ),
  p("gitlab-token", String.raw`\bglpat-[A-Za-z0-9_-]{20,64}\b`, /glpat-/),
  // Slack bot/user/app tokens and incoming webhooks.
  p("slack-token", String.raw`\bxox[abposre]-[A-Za-z0-9-]{10,250}`, /xox/),
  p(
    "slack-webhook",
    String.raw`https://hooks\.slack\.com/services/(?<s>[A-Za-z0-9/_-]{10,200})`,
    /hooks\.slack\.com/,
  ),
  p("google-api-key", String.raw`\bAIza[0-9A-Za-z_-]{35}\b`, /AIza/),
  p("stripe-key", String.raw`\b[sr]k_live_[0-9A-Za-z]{16,128}\b`, /k_live_/),
  p("npm-token", String.raw`\bnpm_[A-Za-z0-9]{36}\b`, /npm_/),
  // A JSON Web Token: header.payload.signature, both JSON parts base64url of `{"`.
  p(
    "jwt",
    String.raw`\beyJ[A-Za-z0-9_-]{2,8192}\.eyJ[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{2,8192}`,
    /eyJ/,
  ),
  // `Authorization: Bearer x` / `Basic x`.
  p("bearer", String.raw`\b(?:Bearer|Basic)\s{1,5}(?<s>[A-Za-z0-9._~+/=-]{8,4096})`, /\s/, "i"),
  // user:password@ in a URL.
  p(
    "url-credentials",
    String.raw`\b[a-z][a-z0-9+.-]{0,20}://[^/\s:@]{1,256}:(?<s>[^/\s@]{1,256})@`,
    /:\/\//,
    "i",
  ),
  // password=..., "api_key": "...", DB_PASSWORD=..., client-secret: ... (the value only).
  // The keyword ends the name or is followed by _ . -: `tokens: 5`, `secretName: x` are not secrets.
  p(
    "key-value",
    String
      .raw`(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)(?:[_.-][A-Za-z0-9_.-]{0,40})?["']?\s{0,5}[:=]\s{0,5}["']?(?<s>[^\s"'&,;<>]{1,512})`,
    /[:=]/,
    "i",
  ),
];

/** What every PRIVATE_KEY_BEGIN match starts with (a plain search for it is the quick test). */
export const PRIVATE_KEY_BEGIN_LITERAL = "-----BEGIN ";
/** A private key's header: a block opened and not (yet) closed is held or redacted to the end. */
export const PRIVATE_KEY_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
export const PRIVATE_KEY_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
