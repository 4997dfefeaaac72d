/**
 * The shipped read-only examples allow nothing that changes the host: every
 * host-changing command of the corpus (tests/corpus/commands.json) and every
 * escape spelled out in issue 11 is refused by each of them, while the
 * investigations they exist for pass. Decided by `check`, the same plan the
 * runner makes before anything runs (tests/corpus_fidelity.test.ts runs them).
 */
import { expect } from "./deps.ts";
import { loadConfig, type RunnerConfig } from "../lib/config.ts";
import { checkCommand } from "../lib/bash/check.ts";
import { lintConfig } from "../lib/policy/lint.ts";
import { compilePolicy } from "../lib/policy/mod.ts";
import { EXAMPLES, loadCorpus, underRunner } from "./corpus/corpus.ts";
import { makeFixture } from "./corpus/fixture.ts";

const READ_ONLY = ["readonly-linux.yaml", "readonly-kubernetes.yaml"];

async function examples(): Promise<[string, RunnerConfig][]> {
  return await Promise.all(
    READ_ONLY.map(async (f) => [f, await loadConfig(EXAMPLES + f)] as [string, RunnerConfig]),
  );
}

const allowed = (c: RunnerConfig, command: string) =>
  checkCommand(c, command, { env: { HOME: "/root", PATH: "/usr/bin:/bin" }, cwd: "/" }).ok;

Deno.test({
  name: "examples: every host-changing corpus command is refused by each read-only example",
  sanitizeResources: false,
  fn: async () => {
    const hostChanging = loadCorpus().filter((e) => e.kind === "host-changing");
    expect(hostChanging.length).toBeGreaterThanOrEqual(100);
    // The rules refuse most before anything runs. What `check` cannot decide alone is
    // decided when it runs: a redirect outside the workspace (`echo 3 >
    // /proc/sys/vm/drop_caches`) when the runner resolves it, a word known only at run
    // time (`kill $(pgrep java)`) by the gate before the program starts. Those run
    // through the operation, on tripwires only, and must change nothing there.
    const fx = await makeFixture(hostChanging.flatMap((e) => e.command.split(/[^\w.+-]+/)));
    try {
      for (const [name, config] of await examples()) {
        const policy = compilePolicy(config);
        const passed: string[] = [];
        for (const e of hostChanging.filter((e) => allowed(config, e.command))) {
          fx.clearMarkers();
          const r = await underRunner(e.command, fx, policy, "host-changing", 10);
          // refused when it ran (the gate), or it ran and started nothing that changes
          // anything: every program here is a tripwire that would have left a marker
          if (fx.ranMarkers().length > 0) passed.push(`${e.command} (${r.status})`);
        }
        expect({ name, passed }).toEqual({ name, passed: [] });
      }
    } finally {
      await fx.remove();
    }
  },
});

/** Issue 11's payloads and their relatives: writing, killing and reconfiguring spellings. */
const ESCAPES = [
  // ss kills sockets (-K, also clustered and abbreviated) and writes a file (-D, --diag)
  "ss -K dst 10.0.0.31",
  "ss -tK dport = :5432",
  "ss --kill state time-wait",
  "ss --ki dst 10.0.0.31",
  "ss -D /tmp/ss.raw",
  "ss --diag=/etc/x",
  "ss --di=/etc/x",
  // ip reconfigures the network
  "ip link set eth0 down",
  "ip l s eth0 down",
  "ip addr add 10.0.0.99/24 dev eth0",
  "ip addr flush dev eth0",
  "ip -br addr flush dev eth0",
  "ip a flush eth0",
  "ip -s link set eth0 down",
  "ip route add default via 10.0.0.254",
  "ip netns exec x sh",
  "ip -batch /tmp/cmds",
  // journalctl writes and deletes, also abbreviated
  "journalctl --cursor-file=/etc/x",
  "journalctl --cursor-f=/etc/x",
  "journalctl -u app --cursor-file /etc/x",
  "journalctl --vacuum-size=1",
  "journalctl --vac=1",
  "journalctl --rotate",
  "journalctl --rot",
  "journalctl --flush",
  "journalctl --setup-keys",
  "journalctl --update-catalog",
  // sort writes (-o, clustered, long, abbreviated) and runs programs (--compress-program)
  "sort -o /etc/x f",
  "sort -uo /etc/x f",
  "sort -nro /etc/x f",
  "sort --output=/etc/x f",
  "sort --out=/etc/x f",
  "sort --compress-program=sh f",
  "sort -S 1K --comp=sh f",
  // find deletes, runs and writes
  "find . -delete",
  "find / -name x -exec rm {} +",
  "find . -execdir sh ;",
  "find . -ok rm {} ;",
  "find . -fprint /etc/x",
  "find . -fls /etc/x",
  // awk runs programs and writes files
  "awk 'BEGIN{system(\"id\")}'",
  "awk '{print > \"/etc/x\"}' f",
  "awk '{print | \"sh\"}' f",
  "awk '{\"id\" | getline x}' f",
  "awk -f /tmp/prog.awk f",
  "uniq f /etc/x",
  "dmesg -C",
  "dmesg -c",
  "dmesg -TC",
  "dmesg --clear",
  "dmesg -n 1",
  "dmesg -E",
  "sysctl -w vm.swappiness=0",
  "sysctl vm.swappiness=0",
  "sysctl -p /tmp/x",
  "sysctl -n -w x=1",
  "iptables -L -Z",
  "iptables -F",
  "systemctl restart nginx",
  "systemctl status app -H root@evil",
  "date -s 2026-01-01",
  "date --set=2026-01-01",
  "hostname evil",
  "jcmd 3390 GC.heap_dump /tmp/h",
  "jcmd 3390 GC.heap_dump /tmp/x Thread.print",
  "jmap -histo:live 3390",
  "docker run --rm -v /:/h busybox sh",
  "docker -H tcp://evil ps",
  "docker ps -H tcp://evil",
  "crictl exec c sh",
  "ethtool -s eth0 speed 1000",
  "ethtool eth0 -s speed 1000",
  "ethtool -S eth0 -s x",
  "conntrack -F",
  "conntrack -L -D",
  "ping -c 1 -f x",
  "sar -o /etc/x 1 1",
  "pidstat -e sh -c id",
  "file -C -m /tmp/x",
  // deny rules also match the base name and ignore case
  "/bin/rm -rf /tmp/x",
  "RM -rf /tmp/x",
  "kubectl delete pod x",
  "kubectl get pods --kubeconfig=./k.yaml",
  "kubectl exec -it pod -- sh",
];

Deno.test("examples: issue 11's escapes are refused by each read-only example", async () => {
  for (const [name, config] of await examples()) {
    const passed = ESCAPES.filter((c) => allowed(config, c));
    expect({ name, passed }).toEqual({ name, passed: [] });
  }
});

Deno.test("examples: the Kubernetes example refuses Secrets in any case and --raw API paths", async () => {
  const k8s = await loadConfig(EXAMPLES + "readonly-kubernetes.yaml");
  for (
    const c of [
      "kubectl get secrets",
      "kubectl get SECRETS",
      "kubectl get Secret db -o yaml",
      "kubectl describe secret db",
      "kubectl get --raw /api/v1/namespaces/default/%73ecrets",
      "kubectl get --raw=/api/v1/namespaces/default/secrets",
    ]
  ) expect({ c, ok: allowed(k8s, c) }).toEqual({ c, ok: false });
  // and says plainly that RBAC, not these rules, is the boundary
  const text = Deno.readTextFileSync(EXAMPLES + "readonly-kubernetes.yaml");
  expect(text).toMatch(/RBAC is the boundary/);
  expect(text).toMatch(/ClusterRole/);
});

Deno.test("examples: what investigations use passes", async () => {
  const linux = await loadConfig(EXAMPLES + "readonly-linux.yaml");
  const k8s = await loadConfig(EXAMPLES + "readonly-kubernetes.yaml");
  for (
    const c of [
      "uptime",
      "dmesg -T | tail -20",
      "vmstat 1 5",
      "mpstat -P ALL 1",
      "pidstat 1",
      "iostat -xz 1",
      "free -m",
      "sar -n DEV 1",
      "top -b -n 1 | head -15",
      "ss -tulpn",
      "ss -s",
      "ss -tn dst 10.0.0.31",
      "ss -o state established '( dport = :https or sport = :https )'",
      "ip -br addr",
      "ip route get 10.0.0.31",
      "journalctl -u nginx --since today | grep -i error | head -n 50",
      "journalctl -p err -b",
      "systemctl status nginx",
      "awk '{print $1}' access.log | sort | uniq -c | sort -nr | head -n 20",
      "awk '$9 ~ /^5/ {print $7}' access.log | sort | uniq -c | sort -rn",
      "find /var/log -name '*.gz' -mtime +30",
      "ps aux --sort=-%mem | head -10",
      "df -h",
      "du -sh /var/log/*",
      "jq -r .msg app.json.log | sort | uniq -c",
      "sysctl net.core.somaxconn",
      "iptables -L -n -v",
      "docker ps -a",
      "docker logs api --tail 50",
    ]
  ) expect({ c, ok: allowed(linux, c) }).toEqual({ c, ok: true });
  for (
    const c of [
      "kubectl get pods -A | grep -v Running",
      "kubectl logs deploy/api --tail=100",
      "kubectl get pods -o json | jq '.items[].metadata.name'",
      "kubectl get pods -A | awk '{print $4}' | sort | uniq -c",
      "kubectl top pod | sort -k3 -h | tail -3",
    ]
  ) expect({ c, ok: allowed(k8s, c) }).toEqual({ c, ok: true });
});

Deno.test("examples: lint reports no warnings for the read-only examples and the catch-all for trusted", async () => {
  for (const [name, config] of await examples()) {
    const r = lintConfig(config);
    expect({ name, text: r.text }).toEqual({ name, text: "lint: no warnings\n" });
  }
  const trusted = lintConfig(await loadConfig(EXAMPLES + "trusted.yaml"));
  expect(trusted.warnings.map((w) => w.rule)).toEqual(["*"]);
});
