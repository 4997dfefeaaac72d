import { parseYamlDocument } from "./deps/yaml.ts";
import { compileUrlPolicy, UrlRuleError } from "./policy/url_policy.ts";
import { osReason } from "./ops/startup_check.ts";
import { UsageError } from "./settings.ts";

/** One permission rule, in the order the file wrote it (order decides: last match wins). */
export interface Rule {
  pattern: string;
  action: "allow" | "deny";
}

/** The YAML config file (`--config`). Every section is optional. */
export interface RunnerConfig {
  /** the file it was read from, for messages and the read-only Deno permission */
  path?: string;
  permission: {
    /** `permission.bash`: command rules; empty means deny all */
    bash: Rule[];
    /** `permission.webfetch`: URL rules; undefined means the built-in policy */
    webfetch?: Rule[];
    /** `permission.write_paths`: absolute paths the kernel layer lets programs write beneath */
    writePaths?: string[];
    /** `permission.exec_paths`: absolute paths the kernel layer lets programs execute beneath */
    execPaths?: string[];
  };
  /**
   * `sandbox`: the kernel layer (Landlock). auto (default): on where the
   * kernel has it, else one warning; require: refuse to start without it;
   * off: not applied.
   */
  sandbox?: SandboxSetting;
  /** Fields the Go reference's config file has; flags and env win over them. */
  token?: string;
  url?: string;
  workspace?: string;
  logLevel?: string;
  name?: string;
  labels?: string[];
  maxConcurrentTasks?: number;
  /** `audit_log`: a path, or {path, max_bytes, keep} (lib/ops/audit_log.ts) */
  auditLog?: { path: string; maxBytes?: number; keep?: number };
  /** `redact.values`: literal secrets to mask in results, logs and the audit log */
  redactValues?: string[];
  /** `metrics_addr`: HOST:PORT (or :PORT for loopback) of /metrics, /readyz, /healthz */
  metricsAddr?: string;
}

export const SANDBOX_SETTINGS = ["auto", "require", "off"] as const;
export type SandboxSetting = typeof SANDBOX_SETTINGS[number];

/** A bad config file: a usage error (one line, exit code 2; restarting cannot fix it). */
export class ConfigError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export function emptyConfig(): RunnerConfig {
  return { permission: { bash: [] } };
}

export async function loadConfig(path: string): Promise<RunnerConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`config ${path}: cannot read: ${osReason(err)}`);
  }
  return parseConfig(text, path);
}

// A YAML node as the `yaml` package gives it; only what we read.
interface Node {
  range?: [number, number, number];
  toJSON(): unknown;
}
interface Pair {
  key: unknown;
  value: unknown;
}

/** Parses the config text; every error names the file, the line and the reason. */
export function parseConfig(text: string, path = "<config>"): RunnerConfig {
  const doc = parseYamlDocument(text, { uniqueKeys: true, prettyErrors: false });
  const lineOf = (offset: number | undefined) => {
    if (offset === undefined) return 0;
    return text.slice(0, offset).split("\n").length;
  };
  const fail = (offset: number | undefined, reason: string): never => {
    throw new ConfigError(`config ${path}:${lineOf(offset)}: ${reason}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lineOf(e.pos?.[0]);
    throw new ConfigError(`config ${path}:${line}: ${e.message.split("\n")[0]}`);
  }
  const config = emptyConfig();
  config.path = path;
  const root = doc.contents as unknown as { items?: Pair[]; range?: [number, number, number] };
  if (root === null || root === undefined) return config; // an empty file is a valid, empty config
  if (!Array.isArray(root.items) || !isMap(root)) {
    fail(root.range?.[0], "the top level must be a map");
  }

  for (const pair of root.items!) {
    const key = scalarValue(pair.key);
    const valueNode = pair.value as Node | null;
    const offset = (pair.key as Node)?.range?.[0];
    const value = valueNode?.toJSON?.();
    switch (key) {
      case "permission": {
        if (!isMap(valueNode)) fail(offset, "`permission` must be a map");
        for (const section of (valueNode as unknown as { items: Pair[] }).items) {
          const name = scalarValue(section.key);
          const at = (section.key as Node)?.range?.[0];
          if (name === "bash") config.permission.bash = readRules(section.value, "bash", fail, at);
          else if (name === "webfetch") {
            config.permission.webfetch = readRules(section.value, "webfetch", fail, at);
          } else if (name === "write_paths" || name === "exec_paths") {
            const paths = readPaths((section.value as Node | null)?.toJSON?.(), name, fail, at);
            if (name === "write_paths") config.permission.writePaths = paths;
            else config.permission.execPaths = paths;
          } else {
            fail(
              at,
              `unknown permission section \`${
                String(name)
              }\` (known: bash, webfetch, write_paths, exec_paths)`,
            );
          }
        }
        break;
      }
      case "api_key":
      case "token":
        if (typeof value !== "string") fail(offset, `\`${key}\` must be a string`);
        config.token = value as string;
        break;
      case "api_url":
      case "url":
        if (typeof value !== "string") fail(offset, `\`${key}\` must be a string`);
        config.url = value as string;
        break;
      case "workspace_root":
      case "workspace":
        if (typeof value !== "string") fail(offset, `\`${key}\` must be a string`);
        config.workspace = value as string;
        break;
      case "name":
        if (typeof value !== "string") fail(offset, "`name` must be a string");
        config.name = value as string;
        break;
      case "labels":
        if (!Array.isArray(value) || value.some((l) => typeof l !== "string")) {
          fail(offset, "`labels` must be a list of strings");
        }
        config.labels = value as string[];
        break;
      case "log": {
        const level = (value as Record<string, unknown> | null)?.level;
        if (level !== undefined && typeof level !== "string") {
          fail(offset, "`log.level` must be a string");
        }
        config.logLevel = level as string | undefined;
        break;
      }
      case "sandbox":
        if (!(SANDBOX_SETTINGS as readonly unknown[]).includes(value)) {
          fail(offset, `\`sandbox\` must be one of ${SANDBOX_SETTINGS.join(", ")}`);
        }
        config.sandbox = value as SandboxSetting;
        break;
      case "max_concurrent_tasks":
        if (!Number.isInteger(value) || (value as number) < 1) {
          fail(offset, "`max_concurrent_tasks` must be a positive integer");
        }
        config.maxConcurrentTasks = value as number;
        break;
      case "audit_log": {
        if (typeof value === "string" && value !== "") {
          config.auditLog = { path: value };
          break;
        }
        const v = value as Record<string, unknown> | null;
        const known = ["path", "max_bytes", "keep"];
        if (
          typeof v !== "object" || v === null || Array.isArray(v) ||
          typeof v.path !== "string" || v.path === "" ||
          Object.keys(v).some((k) => !known.includes(k))
        ) {
          fail(offset, "`audit_log` must be a path, or a map of path, max_bytes and keep");
        }
        for (const k of ["max_bytes", "keep"]) {
          if (v![k] !== undefined && (!Number.isInteger(v![k]) || (v![k] as number) < 0)) {
            fail(offset, `\`audit_log.${k}\` must be a non-negative integer`);
          }
        }
        config.auditLog = {
          path: v!.path as string,
          maxBytes: v!.max_bytes as number | undefined,
          keep: v!.keep as number | undefined,
        };
        break;
      }
      case "redact": {
        const v = value as Record<string, unknown> | null;
        const values = v?.values;
        if (
          typeof v !== "object" || v === null || Object.keys(v).some((k) => k !== "values") ||
          (values !== undefined &&
            (!Array.isArray(values) ||
              values.some((x) => typeof x !== "string" || x.length < 4)))
        ) {
          fail(
            offset,
            "`redact` must be a map with `values`: a list of strings of at least 4 characters",
          );
        }
        config.redactValues = (values as string[] | undefined) ?? [];
        break;
      }
      case "metrics_addr":
        if (typeof value !== "string") fail(offset, "`metrics_addr` must be a string HOST:PORT");
        config.metricsAddr = value as string;
        break;
      default:
        fail(offset, `unknown key \`${String(key)}\``);
    }
  }
  return config;
}

function isMap(node: unknown): boolean {
  return typeof node === "object" && node !== null &&
    Array.isArray((node as { items?: unknown }).items) &&
    (node as { constructor: { name: string } }).constructor.name === "YAMLMap";
}

function scalarValue(node: unknown): unknown {
  if (typeof node === "object" && node !== null && "value" in node) {
    return (node as { value: unknown }).value;
  }
  return node;
}

function readRules(
  node: unknown,
  section: string,
  fail: (offset: number | undefined, reason: string) => never,
  at: number | undefined,
): Rule[] {
  if (node === null || node === undefined) return [];
  if (!isMap(node)) fail(at, `\`permission.${section}\` must be a map of pattern to allow or deny`);
  const rules: Rule[] = [];
  for (const pair of (node as { items: Pair[] }).items) {
    const pattern = scalarValue(pair.key);
    const action = scalarValue(pair.value);
    const offset = (pair.key as Node)?.range?.[0];
    if (typeof pattern !== "string") {
      fail(
        offset,
        `permission.${section}: pattern ${JSON.stringify(pattern)} must be a string (quote it)`,
      );
    }
    if (action !== "allow" && action !== "deny") {
      fail(
        offset,
        `permission.${section}: pattern ${JSON.stringify(pattern)} has unknown action ${
          JSON.stringify(action)
        } (use "allow" or "deny")`,
      );
    }
    const rule = { pattern: pattern as string, action: action as "allow" | "deny" };
    if (section === "webfetch") {
      // A URL rule is read as URL components; one that cannot be is an error here, not at start.
      try {
        compileUrlPolicy([rule]);
      } catch (err) {
        if (!(err instanceof UrlRuleError)) throw err;
        fail(offset, err.message);
      }
    }
    rules.push(rule);
  }
  return rules;
}

/** A list of absolute paths (no comma: Deno's flag syntax cannot carry one). */
function readPaths(
  value: unknown,
  name: string,
  fail: (offset: number | undefined, reason: string) => never,
  at: number | undefined,
): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || value.some((p) => typeof p !== "string")) {
    fail(at, `\`permission.${name}\` must be a list of absolute paths`);
  }
  for (const p of value as string[]) {
    if (!p.startsWith("/") || p.includes(",")) {
      fail(at, `permission.${name}: ${JSON.stringify(p)} must be an absolute path without commas`);
    }
  }
  return value as string[];
}
