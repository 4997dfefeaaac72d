/**
 * Link-local and cloud metadata addresses: where a fetch made on the
 * platform's behalf could read the host's cloud credentials. Refused unless
 * an explicit allow rule names the host (see url_policy.ts).
 */

/**
 * The cloud metadata endpoints, by name or exact address: the ONE list.
 * This module blocks each of them (plus the whole link-local ranges, which
 * contain most); lib/sandbox/permissions.ts derives Deno's `--deny-net`
 * list from it (Deno's flags take hosts, not ranges).
 */
export const METADATA_ENDPOINTS: readonly { host: string; who: string }[] = [
  { host: "169.254.169.254", who: "AWS, GCP, Azure, OCI, DigitalOcean..." },
  { host: "169.254.170.2", who: "AWS ECS task credentials" },
  { host: "fd00:ec2::254", who: "AWS over IPv6" },
  { host: "100.100.100.200", who: "Alibaba Cloud" },
  { host: "metadata.google.internal", who: "GCP" },
  { host: "metadata.goog", who: "GCP" },
];

/** Host names that are metadata services whatever they resolve to. */
const BLOCKED_NAMES = new Set(
  METADATA_ENDPOINTS.map((e) => e.host).filter((h) => !parseIPv4(h) && !parseIPv6(h)),
);

/** Exact metadata addresses, by their canonical bytes, for the addresses outside the blocked ranges. */
const BLOCKED_V4 = METADATA_ENDPOINTS.map((e) => ({ ...e, v4: parseIPv4(e.host) }))
  .filter((e) => e.v4 !== undefined) as { host: string; who: string; v4: number[] }[];
const BLOCKED_V6 = METADATA_ENDPOINTS.map((e) => ({ ...e, v6: parseIPv6(e.host) }))
  .filter((e) => e.v6 !== undefined) as { host: string; who: string; v6: Uint8Array }[];

/** Why `hostname` (as a URL gives it, brackets stripped) is blocked by name, or undefined. */
export function blockedName(hostname: string): string | undefined {
  const name = hostname.toLowerCase().replace(/\.+$/, "");
  if (BLOCKED_NAMES.has(name)) return `${name} is a cloud metadata service`;
  return undefined;
}

/** Why the IP address `ip` (v4 or v6 text) is blocked, or undefined when it is not. */
export function blockedAddress(ip: string): string | undefined {
  const v4 = parseIPv4(ip);
  if (v4) {
    if (blockedV4(v4)) return `${ip} is link-local (169.254.0.0/16, cloud metadata)`;
    const meta = metadataV4(v4);
    return meta ? `${ip} is a cloud metadata address (${meta.who})` : undefined;
  }
  const v6 = parseIPv6(ip);
  // Text that is neither is not an address we can judge: refuse (fail closed).
  if (!v6) return `${ip} is not an IP address`;
  if (v6[0] === 0xfe && (v6[1] & 0xc0) === 0x80) return `${ip} is link-local (fe80::/10)`;
  const meta6 = BLOCKED_V6.find((e) => equal(v6, e.v6));
  if (meta6) return `${ip} is a cloud metadata address (${meta6.host}, ${meta6.who})`;
  const embedded = embeddedV4(v6);
  const embeddedMeta = embedded && !blockedV4(embedded) ? metadataV4(embedded) : undefined;
  if (embeddedMeta) {
    return `${ip} embeds the cloud metadata address ${embeddedMeta.host} (${embeddedMeta.who})`;
  }
  if (embedded && blockedV4(embedded)) {
    return `${ip} embeds the link-local ${embedded.join(".")} (169.254.0.0/16, cloud metadata)`;
  }
  return undefined;
}

/** A listed metadata address outside 169.254/16 (Alibaba Cloud's sits there). */
function metadataV4(b: Uint8Array | number[]): { host: string; who: string } | undefined {
  return BLOCKED_V4.find((e) => e.v4.every((x, i) => x === b[i]));
}

function blockedV4(b: Uint8Array | number[]): boolean {
  return b[0] === 169 && b[1] === 254;
}

const NAT64 = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

/**
 * The IPv4 address carried in an IPv6 one that a dual-stack socket or a
 * NAT64 gateway would turn into that IPv4 destination: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and the NAT64 well-known
 * prefix (64:ff9b::a.b.c.d).
 */
function embeddedV4(b: Uint8Array): number[] | undefined {
  const head = Array.from(b.subarray(0, 12));
  const tail = Array.from(b.subarray(12));
  const zeros10 = head.slice(0, 10).every((x) => x === 0);
  if (zeros10 && head[10] === 0xff && head[11] === 0xff) return tail;
  if (head.every((x) => x === 0)) return tail;
  if (head.every((x, i) => x === NAT64[i])) return tail;
  return undefined;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Dotted-quad only: URL parsing has already normalised hex/octal/decimal forms. */
export function parseIPv4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

/** 16 bytes for an IPv6 text (zone id ignored, embedded IPv4 tail allowed), or undefined. */
export function parseIPv6(text: string): Uint8Array | undefined {
  let s = text.replace(/^\[|\]$/g, "");
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) return undefined;
  const words: number[] = [];
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseHalf = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const groups = h.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const left = parseHalf(halves[0]);
  const right = halves.length === 2 ? parseHalf(halves[1]) : [];
  if (!left || !right) return undefined;
  if (halves.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    words.push(...left, ...new Array(fill).fill(0), ...right);
  } else words.push(...left);
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}
