import { RE2JS } from "../deps/re2.ts";
import { TaskError } from "../tasks/errors.ts";

/** A grep pattern checked on the main thread, rebuilt in the worker as RE2JS.compile(source, flags). */
export interface CompiledPattern {
  source: string;
  flags: number;
}

export const MAX_REGEX_LENGTH = 10_000;

/**
 * Compiles a grep `pattern` as RE2 syntax (what ripgrep and Go accept:
 * `(?i)`, `\pL`, `[[:alpha:]]`, `\Q…\E`; no backreferences or lookaround)
 * with ripgrep's smart case: case-insensitive unless the pattern has an
 * upper-case letter of its own (escapes such as `\S`, `\W` or `\p{Lu}` do
 * not count). RE2 matches in time linear in the input whatever the
 * pattern, so no pattern can backtrack catastrophically. An invalid
 * pattern is a clear error.
 */
export function compileGrepPattern(pattern: string): CompiledPattern {
  if (pattern.length > MAX_REGEX_LENGTH) {
    throw new TaskError(`grep pattern too long (${pattern.length} > ${MAX_REGEX_LENGTH} chars)`);
  }
  const flags = hasUpperCaseLiteral(pattern) ? 0 : RE2JS.CASE_INSENSITIVE;
  try {
    RE2JS.compile(pattern, flags);
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, "");
    throw new TaskError(
      `invalid regular expression ${JSON.stringify(pattern)}: ${why} ` +
        `(RE2 syntax, as ripgrep: no backreferences or lookaround)`,
    );
  }
  return { source: pattern, flags };
}

// Escapes and group names are not literal letters; \Q…\E is (its text is kept).
const NOT_LITERAL = new RegExp(
  [
    String.raw`\\[pP]\{[^}]*\}`, // \p{Lu}
    String.raw`\\[pP][A-Za-z]`, // \pL
    String.raw`\(\?P?<[^>]*>`, // (?P<Name> / (?<Name>
    String.raw`\\x\{[0-9a-fA-F]+\}`,
    String.raw`\\x[0-9a-fA-F]{2}`,
    String.raw`\\.`,
  ].join("|"),
  "gs",
);

export function hasUpperCaseLiteral(pattern: string): boolean {
  const quotedKept = pattern.replace(/\\Q(.*?)(?:\\E|$)/gs, (_, text: string) =>
    // quoted text is literal: keep its letters, drop its backslashes
    text.replaceAll("\\", ""));
  return /\p{Lu}/u.test(quotedKept.replace(NOT_LITERAL, ""));
}
