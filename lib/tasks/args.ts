import { TaskError } from "./errors.ts";
import { isObject } from "../wire/protocol.ts";

/**
 * Reading an operation's `args` with the types docs/protocol.md gives. Wrong
 * types are a clear `invalid args` error, never a coerced value; every string
 * is read with its length limit (lib/wire/limits.ts FIELD_LIMITS), so a huge
 * field is an error result before any work is done on it.
 */
export class Args {
  private constructor(private readonly op: string, private readonly raw: Record<string, unknown>) {}

  static of(op: string, raw: unknown): Args {
    if (raw === undefined || raw === null) return new Args(op, {});
    if (!isObject(raw)) throw new TaskError(`invalid args for ${op}: args must be a JSON object`);
    return new Args(op, raw);
  }

  private fail(name: string, want: string): never {
    throw new TaskError(`invalid args for ${this.op}: \`${name}\` must be ${want}`);
  }

  private limit(name: string, v: string, max: number): string {
    if (v.length > max) {
      throw new TaskError(
        `invalid args for ${this.op}: \`${name}\` is ${v.length} characters long; ` +
          `the limit is ${max}`,
      );
    }
    return v;
  }

  string(name: string, max: number): string {
    const v = this.raw[name];
    if (typeof v !== "string") this.fail(name, "a string");
    return this.limit(name, v, max);
  }

  nonEmptyString(name: string, max: number): string {
    const v = this.string(name, max);
    if (v === "") this.fail(name, "a non-empty string");
    return v;
  }

  optionalString(name: string, max: number): string | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") this.fail(name, "a string");
    return this.limit(name, v, max);
  }

  optionalNumber(name: string): number | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(name, "a number");
    return v;
  }

  optionalBoolean(name: string): boolean | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") this.fail(name, "a boolean");
    return v;
  }

  /** At most `maxItems` strings of at most `max` characters each. */
  optionalStringArray(name: string, maxItems: number, max: number): string[] | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
      this.fail(name, "an array of strings");
    }
    if (v.length > maxItems) this.fail(name, `at most ${maxItems} strings`);
    for (const s of v as string[]) this.limit(`${name}[]`, s, max);
    return v as string[];
  }

  object(name: string): Record<string, unknown> {
    const v = this.raw[name];
    if (!isObject(v)) this.fail(name, "an object");
    return v;
  }

  optionalObject(name: string): Record<string, unknown> | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(name, "an object");
    return v;
  }
}

/** Standard base64 only; anything else is refused rather than half-decoded. */
export function decodeBase64(op: string, name: string, text: string): Uint8Array {
  try {
    // Line breaks are tolerated; a test first keeps a clean value from being copied.
    return Uint8Array.fromBase64(/\s/.test(text) ? text.replace(/\s+/g, "") : text);
  } catch {
    throw new TaskError(`invalid args for ${op}: \`${name}\` is not valid base64`);
  }
}
