/**
 * The shipping files, read statically (no Docker engine, systemd or cluster
 * here): the Dockerfile's stages and runtime properties, what its build
 * context holds, the systemd unit's hardening (and that docs/installing.md describes
 * each directive), the Kubernetes manifests and the release workflow.
 */
import { join } from "node:path";
import { expect } from "./deps.ts";
import { parseYaml } from "../lib/deps/yaml.ts";
import { parseConfig } from "../lib/config.ts";
import { compileFlags, TARGETS } from "../tools/compile.ts";
import { denoInfo } from "./support/deno_info.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const read = (path: string) => Deno.readTextFileSync(join(ROOT, path));

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    pending += (pending ? " " : "") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) continue;
    const m = /^(\w+)\s+(.*)$/.exec(pending)!;
    pending = "";
    const op = m[1].toUpperCase();
    if (op === "FROM") stage++;
    out.push({ op, args: m[2], stage });
  }
  return out;
}

Deno.test("Dockerfile: built on denoland/deno:2.9.6, run as nonroot on distroless with /workspace", () => {
  const ins = dockerfile(read("Dockerfile"));
  const froms = ins.filter((i) => i.op === "FROM").map((i) => i.args);
  expect(froms).toEqual(["denoland/deno:2.9.6 AS build", "gcr.io/distroless/cc-debian12:nonroot"]);
  const final = ins.filter((i) => i.stage === 1);
  const ops = (op: string) => final.filter((i) => i.op === op).map((i) => i.args);
  expect(ops("USER")).toEqual(["nonroot:nonroot"]);
  expect(ops("VOLUME")).toEqual(['["/workspace"]']);
  expect(ops("WORKDIR")).toEqual(["/workspace"]);
  expect(JSON.parse(ops("ENTRYPOINT")[0])).toEqual(["/usr/local/bin/flashduty-runner", "run"]);
  const env = ops("ENV").join(" ");
  expect(env).toContain("FLASHDUTY_RUNNER_WORKSPACE=/workspace");
  expect(env).toContain("FLASHDUTY_RUNNER_URL=wss://api.flashcat.cloud/safari/worknode/ws");
  // the token is given at run time, never baked into a layer
  for (const i of ins) {
    if (i.op === "ENV" || i.op === "ARG") expect(i.args).not.toMatch(/TOKEN/);
  }
  // distroless has no shell: the run stage only copies what the build stage made
  expect(ops("RUN")).toEqual([]);
  for (const copy of ops("COPY")) expect(copy).toMatch(/^--from=build /);
  expect(ops("COPY")).toContain("--from=build /flashduty-runner /usr/local/bin/flashduty-runner");
  expect(ops("COPY")).toContain("--from=build --chown=65532:65532 /rootfs/workspace /workspace");
  // the binary is compiled by tools/compile.ts (broad flags: the kernel layer confines writes)
  const build = ins.filter((i) => i.stage === 0 && i.op === "RUN").map((i) => i.args).join("\n");
  expect(build).toContain("deno task compile --host --no-archive --out-dir /out");
  const flags = compileFlags("linux");
  expect(flags).toContain("--allow-write");
  expect(flags.some((f) => f.startsWith("--allow-ffi="))).toBe(true);
});

Deno.test("Dockerfile: the build context holds every module main.ts and tools/compile.ts load", async () => {
  const ins = dockerfile(read("Dockerfile"));
  const copied = ins.filter((i) => i.stage === 0 && i.op === "COPY")
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  expect(copied).toEqual(["deno.json", "deno.lock", "main.ts", "lib", "tools/compile.ts"]);
  const ignored = read(".dockerignore").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const isIgnored = (path: string) =>
    ignored.some((p) =>
      p.startsWith("*.") ? path.endsWith(p.slice(1)) : path === p || path.startsWith(`${p}/`)
    );
  for (const src of copied) {
    expect({ src, ignored: isIgnored(src) }).toEqual({ src, ignored: false });
  }
  for (const dir of ["tests", "bench", ".git", "dist", "deploy"]) expect(isIgnored(dir)).toBe(true);
  // every local module of both entry points lies in what is copied
  for (const entry of ["main.ts", "tools/compile.ts"]) {
    const info = await denoInfo<{ modules: { specifier: string }[] }>(entry, ROOT);
    const local = info.modules.map((m) => m.specifier).filter((s) => s.startsWith("file://"))
      .map((s) => s.slice(`file://${ROOT}/`.length));
    expect(local.length).toBeGreaterThan(10);
    for (const path of local) {
      const inside = copied.some((c) => path === c || path.startsWith(`${c}/`));
      expect({ path, inside }).toEqual({ path, inside: true });
    }
  }
});

/** A unit file's [Section] -> key -> values (a key may repeat). */
function unitFile(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    (out[section][key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

Deno.test("systemd: the unit is hardened, and docs/installing.md describes every directive it sets", () => {
  const unit = unitFile(read("deploy/systemd/flashduty-runner.service"));
  const svc = unit.Service;
  const one = (k: string) => {
    expect({ k, n: svc[k]?.length }).toEqual({ k, n: 1 });
    return svc[k][0];
  };
  expect(one("ExecStart")).toBe(
    "/usr/local/bin/flashduty-runner run --config /etc/flashduty-runner/config.yaml",
  );
  expect(one("EnvironmentFile")).toBe("/etc/flashduty-runner/flashduty-runner.env");
  expect(one("User")).toBe("flashduty-runner");
  for (
    const [k, v] of Object.entries({
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
      RestrictSUIDSGID: "yes",
      ReadWritePaths: "/var/lib/flashduty-runner",
      BindPaths: "/var/lib/flashduty-runner/workspace:/workspace",
      RestartPreventExitStatus: "2",
    })
  ) expect({ k, v: one(k) }).toEqual({ k, v });
  // the compiled binary may write /workspace only: that is where the workspace must be
  expect(svc.Environment).toContain("FLASHDUTY_RUNNER_WORKSPACE=/workspace");
  expect(one("StateDirectory").split(" ")).toContain("flashduty-runner/workspace");
  // longer than the runner's 30 s drain
  expect(Number(one("TimeoutStopSec"))).toBeGreaterThan(30);
  // V8's JIT needs writable-executable memory
  expect(svc.MemoryDenyWriteExecute).toBeUndefined();
  expect(unit.Install.WantedBy).toEqual(["multi-user.target"]);

  // described in the README or in the depth docs under docs/ (docs/installing.md has the table)
  const docs = [
    read("README.md"),
    ...[...Deno.readDirSync(join(ROOT, "docs"))].filter((e) => e.name.endsWith(".md"))
      .map((e) => read(`docs/${e.name}`)),
  ].join("\n");
  for (const key of Object.keys(svc)) {
    expect({ key, described: docs.includes(`\`${key}=`) }).toEqual({ key, described: true });
  }

  const env = read("deploy/systemd/flashduty-runner.env");
  const set = env.split("\n").filter((l) => /^[A-Z_]+=/.test(l));
  expect(set).toEqual(["FLASHDUTY_RUNNER_TOKEN="]); // a placeholder, no value shipped
  for (const l of env.split("\n").filter((l) => /^#?[A-Z_]+=/.test(l))) {
    expect(l.replace(/^#/, "")).toMatch(/^FLASHDUTY_RUNNER_/);
  }
});

const K8S = "deploy/kubernetes";
// deno-lint-ignore no-explicit-any
const manifest = (file: string) => parseYaml(read(`${K8S}/${file}`)) as any;

Deno.test("kubernetes: every manifest parses and kustomization lists exactly them", () => {
  const files = [...Deno.readDirSync(join(ROOT, K8S))].map((e) => e.name)
    .filter((n) => n.endsWith(".yaml")).sort();
  for (const f of files) expect(manifest(f)).toHaveProperty("apiVersion");
  const kust = manifest("kustomization.yaml");
  expect([...kust.resources].sort()).toEqual(
    files.filter((f) => f !== "kustomization.yaml" && f !== "secret.example.yaml"),
  );
  for (const f of files.filter((f) => f !== "kustomization.yaml" && f !== "clusterrole.yaml")) {
    if (manifest(f).kind === "ClusterRoleBinding") continue;
    expect({ f, ns: manifest(f).metadata.namespace ?? manifest(f).metadata.name }).toEqual({
      f,
      ns: "flashduty-runner",
    });
  }
});

Deno.test("kubernetes: the Deployment runs one non-root, read-only pod with the token from a Secret", () => {
  const d = manifest("deployment.yaml");
  expect(d.kind).toBe("Deployment");
  expect(d.spec.replicas).toBe(1);
  expect(d.spec.strategy.type).toBe("Recreate");
  const pod = d.spec.template.spec;
  expect(pod.serviceAccountName).toBe(manifest("serviceaccount.yaml").metadata.name);
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
  expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
  expect(pod.containers).toHaveLength(1);
  const c = pod.containers[0];
  expect(c.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
  });
  expect(c.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  expect(c.resources.requests).toMatchObject({
    cpu: expect.any(String),
    memory: expect.any(String),
  });
  const env = Object.fromEntries(
    // deno-lint-ignore no-explicit-any
    c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
  );
  expect(env.FLASHDUTY_RUNNER_TOKEN).toEqual({
    secretKeyRef: { name: "flashduty-runner", key: "token" },
  });
  expect(env.FLASHDUTY_RUNNER_WORKSPACE).toBe("/workspace");
  expect(manifest("secret.example.yaml").metadata.name).toBe("flashduty-runner");
  // deno-lint-ignore no-explicit-any
  const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m]));
  expect(mounts["/workspace"].readOnly).toBeUndefined();
  expect(mounts["/etc/flashduty-runner"].readOnly).toBe(true);
  // the --config it is given is the ConfigMap's key, mounted where the binary may read
  expect(c.args).toEqual(["--config", "/etc/flashduty-runner/config.yaml"]);
  // deno-lint-ignore no-explicit-any
  const config = pod.volumes.find((v: any) => v.name === mounts["/etc/flashduty-runner"].name);
  expect(config.configMap.name).toBe(manifest("configmap.yaml").metadata.name);
  expect(Object.keys(manifest("configmap.yaml").data)).toEqual(["config.yaml"]);
  expect(compileFlags("linux")[0]).toBe("--allow-read"); // the config is readable wherever it is
});

Deno.test("kubernetes: the ConfigMap carries the read-only kubectl example, rule for rule", () => {
  const inMap = parseConfig(manifest("configmap.yaml").data["config.yaml"], "configmap");
  const example = parseConfig(read("examples/readonly-kubernetes.yaml"), "example");
  expect(inMap.permission).toEqual(example.permission);
  expect(inMap.permission.bash.find((r) => r.pattern === "kubectl get *")?.action).toBe("allow");
});

Deno.test("kubernetes: the ClusterRole only reads, never secrets, and includes pod logs", () => {
  const role = manifest("clusterrole.yaml");
  expect(role.kind).toBe("ClusterRole");
  const readVerbs = new Set(["get", "list", "watch"]);
  const resources: string[] = [];
  for (const rule of role.rules) {
    for (const v of rule.verbs) expect({ v, read: readVerbs.has(v) }).toEqual({ v, read: true });
    for (const g of rule.apiGroups) expect(g).not.toBe("*");
    for (const r of rule.resources) {
      expect(r).not.toBe("*");
      resources.push(`${rule.apiGroups[0] || "core"}/${r}`);
    }
  }
  expect(resources).toContain("core/pods/log");
  expect(resources).toContain("core/pods");
  expect(resources).toContain("apps/deployments");
  expect(resources.some((r) => /secret/i.test(r))).toBe(false);
  expect(resources.some((r) => /(exec|attach|portforward|proxy)$/.test(r))).toBe(false);
  const binding = manifest("clusterrolebinding.yaml");
  expect(binding.roleRef).toEqual({
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: role.metadata.name,
  });
  expect(binding.subjects).toEqual([
    { kind: "ServiceAccount", name: "flashduty-runner", namespace: "flashduty-runner" },
  ]);
});

Deno.test("release workflow: on a tag, Deno 2.9.6 compiles and attaches the four archives", () => {
  // deno-lint-ignore no-explicit-any
  const wf = parseYaml(read(".github/workflows/release.yml")) as any;
  expect(wf.on.push.tags).toEqual(["v*"]);
  expect(wf.permissions.contents).toBe("write");
  const steps = wf.jobs.release.steps;
  // deno-lint-ignore no-explicit-any
  const setup = steps.find((s: any) => String(s.uses).startsWith("denoland/setup-deno@"));
  expect(setup.with["deno-version"]).toBe("v2.9.6");
  // deno-lint-ignore no-explicit-any
  expect(steps.some((s: any) => s.run === "deno task compile")).toBe(true);
  // deno-lint-ignore no-explicit-any
  const upload = steps.find((s: any) => String(s.uses).startsWith("softprops/action-gh-release@"));
  expect(upload.with.files.trim().split("\n").map((l: string) => l.trim())).toEqual([
    ...TARGETS.map((t) => `dist/${t.archive}.tar.gz`),
    "dist/checksums.txt",
  ]);
});
