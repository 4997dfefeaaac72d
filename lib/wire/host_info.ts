import { statfs } from "node:fs/promises";
import type { EnvironmentInfo, Metrics } from "./protocol.ts";

/** Go's GOARCH names, which the platform shows to the model. */
const ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

function tryOr<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** "+08:00" for the host's current offset from UTC. */
export function utcOffset(date = new Date()): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${
    String(abs % 60).padStart(2, "0")
  }`;
}

/** RFC 3339 in local time with its offset, as Go's time.Now().Format(time.RFC3339). */
export function rfc3339Local(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${
    p(date.getHours())
  }:${p(date.getMinutes())}:${p(date.getSeconds())}${utcOffset(date)}`;
}

/**
 * The host's IANA time zone ("Asia/Shanghai"). Temporal asks the engine for
 * just the zone; `Intl.DateTimeFormat` (the fallback) first builds a whole
 * date formatter with its locale data: ~25 ms on the first heartbeat, the
 * start-up's critical path (docs/benchmarks.md).
 */
export function hostTimeZone(): string {
  const temporal = (globalThis as { Temporal?: { Now?: { timeZoneId?: () => string } } })
    .Temporal;
  return tryOr(() => temporal?.Now?.timeZoneId?.(), undefined) ??
    Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The `environment` block of the first heartbeat after each (re)connect. */
export function environmentInfo(workspaceRoot: string): EnvironmentInfo {
  const env = (name: string) => tryOr(() => Deno.env.get(name) ?? "", "");
  return {
    os: Deno.build.os,
    os_version: tryOr(() => Deno.osRelease(), ""),
    arch: ARCH[Deno.build.arch] ?? Deno.build.arch,
    hostname: tryOr(() => Deno.hostname(), ""),
    shell: env("SHELL") || "/bin/sh",
    home_dir: env("HOME"),
    workspace_root: workspaceRoot,
    username: env("USER") || env("LOGNAME"),
    num_cpu: navigator.hardwareConcurrency,
    total_memory_mb: Math.round(tryOr(() => Deno.systemMemoryInfo().total, 0) / 1048576),
    current_time: rfc3339Local(),
    timezone: hostTimeZone(),
    utc_offset: utcOffset(),
  };
}

/**
 * cpu/memory/disk percent. CPU is the busy share since the previous sample
 * (from /proc/stat on Linux; the 1-minute load average per core elsewhere).
 */
export class MetricsSampler {
  private lastCpu?: { idle: number; total: number };

  constructor(private readonly diskPath: string) {}

  async sample(): Promise<Metrics> {
    return {
      cpu_percent: round(await this.cpu()),
      memory_percent: round(memoryPercent()),
      disk_percent: round(await diskPercent(this.diskPath)),
    };
  }

  private async cpu(): Promise<number> {
    try {
      const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
      const nums = line.trim().split(/\s+/).slice(1).map(Number);
      const idle = nums[3] + (nums[4] ?? 0);
      const total = nums.reduce((a, b) => a + b, 0);
      const prev = this.lastCpu;
      this.lastCpu = { idle, total };
      if (prev && total > prev.total) return 100 * (1 - (idle - prev.idle) / (total - prev.total));
      return 100 * (1 - idle / total);
    } catch {
      return tryOr(
        () => Math.min(100, (100 * Deno.loadavg()[0]) / navigator.hardwareConcurrency),
        0,
      );
    }
  }
}

function memoryPercent(): number {
  return tryOr(() => {
    const m = Deno.systemMemoryInfo();
    return m.total > 0 ? (100 * (m.total - m.available)) / m.total : 0;
  }, 0);
}

async function diskPercent(path: string): Promise<number> {
  try {
    const s = await statfs(path);
    const used = s.blocks - s.bfree;
    const denom = used + s.bavail; // as df computes it: reserved blocks don't count as free
    return denom > 0 ? (100 * used) / denom : 0;
  } catch {
    return 0;
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
