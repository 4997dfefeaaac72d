/**
 * Redaction: every well-known secret shape and every operator-listed value
 * is masked, with its context kept; and a stream of chunks split at random
 * places (a fuzzed corpus, seeded so a failure replays) releases exactly
 * what redacting the whole text gives, with no secret in it.
 */
import { expect } from "./deps.ts";
import { REDACTED, Redactor } from "../lib/redact/redactor.ts";
import { SECRET_PATTERNS } from "../lib/redact/patterns.ts";

/** mulberry32: a small seeded PRNG, so a failing round can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)];
  const chars = (alphabet: string, n: number) =>
    Array.from({ length: n }, () => alphabet[int(0, alphabet.length - 1)]).join("");
  return { next, int, pick, chars };
}

const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM = UPPER_DIGITS + "abcdefghijklmnopqrstuvwxyz";
const B64URL = ALNUM + "-_";

type R = ReturnType<typeof rng>;
/** [text as it appears, the secret part that must never come out] */
const SHAPES: ((r: R) => [string, string])[] = [
  (r) => {
    const k = "AKIA" + r.chars(UPPER_DIGITS, 16);
    return [k, k];
  },
  (r) => {
    const k = "ASIA" + r.chars(UPPER_DIGITS, 16);
    return [`aws_access_key_id = ${k}`, k];
  },
  (r) => {
    const v = r.chars(ALNUM + "/+", 40);
    return [`AWS_SECRET_ACCESS_KEY=${v}`, v];
  },
  (r) => {
    const k = "ghp_" + r.chars(ALNUM, 36);
    return [k, k];
  },
  (r) => {
    const k = "github_pat_" + r.chars(ALNUM + "_", 60);
    return [k, k];
  },
  (r) => {
    const k = "xoxb-" + r.chars(UPPER_DIGITS, 12) + "-" + r.chars(ALNUM, 24);
    return [k, k];
  },
  (r) => {
    const jwt = "eyJ" + r.chars(B64URL, r.int(10, 60)) + ".eyJ" + r.chars(B64URL, r.int(10, 3000)) +
      "." + r.chars(B64URL, 43);
    return [jwt, jwt];
  },
  (r) => {
    const v = r.chars(ALNUM + "._-", r.int(20, 80));
    return [`Authorization: Bearer ${v}`, v];
  },
  (r) => {
    const v = r.chars(ALNUM + "!#%", r.int(6, 30));
    return [`password=${v}`, v];
  },
  (r) => {
    const v = r.chars(ALNUM, r.int(8, 30));
    return [`{"db_password": "${v}"}`, v];
  },
  (r) => {
    const v = r.chars(ALNUM, r.int(8, 30));
    return [`postgres://app:${v}@db.internal:5432/app`, v];
  },
  (r) => {
    const body = Array.from({ length: r.int(3, 40) }, () => r.chars(ALNUM + "+/", 64)).join("\n");
    return [`-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`, body];
  },
  (r) => {
    const k = "glpat-" + r.chars(B64URL, r.int(20, 64));
    return [k, k];
  },
  (r) => {
    const v = r.chars(ALNUM, 9) + "/" + r.chars(ALNUM, 11) + "/" + r.chars(ALNUM, 24);
    return [`https://hooks.slack.com/services/${v}`, v];
  },
  (r) => {
    const k = "AIza" + r.chars(ALNUM, 35);
    return [k, k];
  },
  (r) => {
    const k = r.pick(["sk", "rk"]) + "_live_" + r.chars(ALNUM, r.int(16, 99));
    return [k, k];
  },
  (r) => {
    const k = "npm_" + r.chars(ALNUM, 36);
    return [k, k];
  },
  () => ["operator-secret-Z9q", "operator-secret-Z9q"],
  () => ["wnt_the_runner_token_1234", "wnt_the_runner_token_1234"],
];
const VALUES = ["operator-secret-Z9q", "wnt_the_runner_token_1234"];
const WORDS = ["pods", "Running", "ready", "1/1", "node-a", "INFO", "GET /", "200", "ok", "{", "}"];

function filler(r: R): string {
  switch (r.int(0, 3)) {
    case 0:
      return r.pick(WORDS);
    case 1:
      return r.chars(ALNUM, r.int(1, 120)).toLowerCase().replace(/[aeiou]/g, "x");
    case 2:
      return "\n";
    default:
      return r.chars(" .:-=", r.int(1, 4));
  }
}

function corpus(r: R): { text: string; secrets: string[] } {
  const parts: string[] = [];
  const secrets: string[] = [];
  const target = r.int(200, 20_000);
  let len = 0;
  while (len < target) {
    let part: string;
    if (r.next() < 0.08) {
      const [text, secret] = r.pick(SHAPES)(r);
      secrets.push(secret);
      part = ` ${text}\n`;
    } else part = filler(r) + " ";
    parts.push(part);
    len += part.length;
  }
  return { text: parts.join(""), secrets };
}

function splitRandomly(r: R, text: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length;) {
    const n = r.next() < 0.5 ? r.int(1, 8) : r.next() < 0.9 ? r.int(1, 700) : r.int(1, 9000);
    out.push(text.slice(at, at + n));
    at += n;
  }
  return out;
}

Deno.test("redact: each well-known shape is masked and its context kept", () => {
  const red = new Redactor(VALUES);
  const r = rng(1);
  for (const shape of SHAPES) {
    const [text, secret] = shape(r);
    const out = red.redact(`before ${text} after`);
    expect({ text, out: out.includes(secret) }).toEqual({ text, out: false });
    expect(out).toContain(REDACTED);
    expect(out.startsWith("before ") && out.endsWith(" after")).toBe(true);
  }
  expect(red.redact("password=hunter2 user=bob")).toBe(`password=${REDACTED} user=bob`);
  expect(red.redact("https://u:pw12345@h/x")).toBe(`https://u:${REDACTED}@h/x`);
  // nothing secret: unchanged, byte for byte
  const plain = "NAME READY STATUS\npod-a 1/1 Running\nkey=value tokens: 5 passwords";
  expect(red.redact(plain)).toBe(plain);
});

Deno.test("redact: every match of a pattern contains its `needs`, so the quick search never skips a secret", () => {
  const texts: string[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed);
    for (const shape of SHAPES) texts.push(shape(r)[0]);
    texts.push(corpus(r).text);
    texts.push(crypto.getRandomValues(new Uint8Array(r.int(1, 4096))).toBase64());
  }
  const matched = new Map<string, number>();
  for (const { name, regex, needs } of SECRET_PATTERNS) {
    if (!needs) continue;
    for (const text of texts) {
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        if (!needs.test(m[0])) throw new Error(`${name}: a match without ${needs}: ${m[0]}`);
        matched.set(name, (matched.get(name) ?? 0) + 1);
        if (m[0] === "") regex.lastIndex++;
      }
    }
  }
  // every pattern with a `needs` was really exercised
  for (const { name, needs } of SECRET_PATTERNS) {
    if (needs) {
      expect({ name, matched: (matched.get(name) ?? 0) > 50 }).toEqual({ name, matched: true });
    }
  }
});

Deno.test("redact: an unclosed private key is masked to the end", () => {
  const red = new Redactor();
  const out = red.redact("x\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3Nza\nAAAA");
  expect(out).toBe(`x\n${REDACTED}`);
});

Deno.test("redact: operator values shorter than 4 characters are ignored", () => {
  expect(new Redactor(["ab", "a"]).redact("a cab")).toBe("a cab");
});

Deno.test("redact: fuzzed streams split secrets across chunks and release exactly redact(whole)", () => {
  const red = new Redactor(VALUES);
  let secretsSeen = 0;
  let splitSecrets = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const { text, secrets } = corpus(r);
    const chunks = splitRandomly(r, text);
    const stream = red.stream();
    let out = "";
    for (const c of chunks) out += stream.write(c);
    out += stream.end();
    const whole = red.redact(text);
    if (out !== whole) {
      throw new Error(`seed ${seed}: the stream released something other than redact(whole)`);
    }
    for (const s of secrets) {
      if (out.includes(s)) throw new Error(`seed ${seed}: a secret leaked: ${s.slice(0, 40)}`);
    }
    secretsSeen += secrets.length;
    // the corpus must really split secrets, or the test proves nothing
    let at = 0;
    const bounds = new Set(chunks.map((c) => at += c.length));
    for (const s of secrets) {
      const i = text.indexOf(s);
      for (let k = i + 1; k < i + s.length; k++) {
        if (bounds.has(k)) {
          splitSecrets++;
          break;
        }
      }
    }
  }
  expect(secretsSeen).toBeGreaterThan(1000);
  expect(splitSecrets).toBeGreaterThan(500);
});

Deno.test("redact: the stream holds back only a bounded tail", () => {
  const red = new Redactor();
  const s = red.stream();
  let out = "";
  for (let k = 0; k < 1000; k++) out += s.write("line of ordinary output\n");
  expect(out.length).toBeGreaterThan(24_000 - 2048);
  // one enormous word is released once it passes the bound
  let big = "";
  for (let k = 0; k < 100; k++) big += s.write("x".repeat(1024));
  expect(big.length).toBeGreaterThan(0);
});
