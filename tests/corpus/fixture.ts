/**
 * The corpus's deterministic world: a workspace with known logs, configs and
 * /proc snapshots, a stub bin dir OUTSIDE the workspace for tools that are
 * absent here or whose output changes from one second to the next, and a
 * tripwire bin dir in which every program only records that it ran.
 *
 * Real programs run where they are deterministic (grep, awk, sed, sort, uniq,
 * head, tail, wc, cut, tr, ls, find, du, stat, jq, ...). A stub prints fixed
 * text; any of its sub-commands that would change the host (kubectl delete,
 * systemctl restart, ss -K, ip link set, ...) touches a marker file instead,
 * so a host-changing command that ran is visible after the fact.
 */
import { dirname, join } from "node:path";

export interface Fixture {
  /** the workspace: bash and the runner both start here */
  workspace: string;
  /** stub programs, first on PATH for read-only commands */
  stubBin: string;
  /** recorders for every program name: the only PATH host-changing commands get */
  tripwireBin: string;
  /** where stubs and recorders leave a file when something host-changing ran */
  markers: string;
  home: string;
  /** the environment both bash and the runner give programs */
  env(kind: "read-only" | "host-changing"): Record<string, string>;
  /** rewrites the workspace to its initial content (between the bash run and the runner run) */
  reset(): Promise<void>;
  /** a listing of the workspace and `outside/` (path, size, mtime): equal listings mean nothing was written */
  snapshot(): string;
  /** names of the marker files present (empty when nothing host-changing ran) */
  ranMarkers(): string[];
  clearMarkers(): void;
  remove(): Promise<void>;
}

/** Every file's and directory's mtime: fixed, so `ls -l`, `find -mtime` and `stat` agree. */
const MTIME = new Date("2026-01-01T10:00:00Z");

/** Makes the fixture in a fresh temp dir (workspace, stubs, tripwires, markers side by side). */
export async function makeFixture(tripwireNames: Iterable<string> = []): Promise<Fixture> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "corpus_" }));
  const workspace = join(base, "ws");
  const stubBin = join(base, "stubbin");
  const tripwireBin = join(base, "tripwire");
  const markers = join(base, "markers");
  const home = join(base, "home");
  for (const d of [workspace, stubBin, tripwireBin, markers, home]) await Deno.mkdir(d);
  // a directory outside the workspace that commands may `cd` to (`cd ../outside`), as they
  // would to /etc or /var/log, with content that is the same on every host
  await Deno.mkdir(join(base, "outside", "log"), { recursive: true });
  await Deno.writeTextFile(join(base, "outside", "os-release"), 'NAME="Fixture"\nID=fixture\n');
  for (const f of ["alternatives.log", "apt", "auth.log", "syslog"]) {
    await Deno.writeTextFile(join(base, "outside", "log", f), "outside\n");
  }
  await writeStubs(stubBin, markers);
  await writeTripwires(tripwireBin, markers, tripwireNames);
  const fixture: Fixture = {
    workspace,
    stubBin,
    tripwireBin,
    markers,
    home,
    env(kind) {
      return {
        PATH: kind === "read-only" ? `${stubBin}:/usr/bin:/bin` : tripwireBin,
        HOME: home,
        LANG: "C",
        TZ: "UTC",
        USER: "sre",
        LOGNAME: "sre",
        TERM: "dumb",
      };
    },
    async reset() {
      await Deno.remove(workspace, { recursive: true });
      await Deno.mkdir(workspace);
      await writeWorkspace(workspace);
    },
    snapshot() {
      return [...listing(workspace, ""), ...listing(join(base, "outside"), "")].join("\n");
    },
    ranMarkers() {
      return [...Deno.readDirSync(markers)].map((e) => e.name).sort();
    },
    clearMarkers() {
      for (const e of Deno.readDirSync(markers)) Deno.removeSync(join(markers, e.name));
    },
    async remove() {
      await Deno.remove(base, { recursive: true });
    },
  };
  await writeWorkspace(workspace);
  return fixture;
}

function listing(root: string, rel: string): string[] {
  const out: string[] = [];
  const dir = join(root, rel);
  const info = Deno.lstatSync(dir);
  out.push(`${rel}/ ${info.mtime?.getTime()}`);
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...listing(root, path));
    else {
      const i = Deno.lstatSync(join(root, path));
      out.push(`${path} ${i.size} ${i.mtime?.getTime()} ${i.mode}`);
    }
  }
  return out;
}

async function writeWorkspace(root: string): Promise<void> {
  const files = workspaceFiles();
  const dirs = new Set<string>();
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    for (let d = dirname(rel); d !== "."; d = dirname(d)) dirs.add(d);
  }
  for (const rel of Object.keys(files)) await Deno.utime(join(root, rel), MTIME, MTIME);
  for (const d of dirs) await Deno.utime(join(root, d), MTIME, MTIME);
  await Deno.utime(root, MTIME, MTIME);
}

// ---------------------------------------------------------------------------
// Workspace content: logs with known errors, configs, /proc snapshots.

const IPS = [
  "203.0.113.7",
  "198.51.100.23",
  "192.0.2.44",
  "203.0.113.7",
  "10.0.0.12",
  "203.0.113.7",
  "198.51.100.23",
  "172.16.4.9",
];
const PATHS = [
  "/",
  "/api/orders",
  "/api/users/42",
  "/login",
  "/static/app.js",
  "/api/orders",
  "/wp-login.php",
  "/healthz",
];
const STATUSES = [200, 200, 200, 304, 404, 500, 502, 200, 301, 503, 200, 499];
const AGENTS = [
  "curl/8.5.0",
  "Mozilla/5.0 (X11; Linux x86_64)",
  "Googlebot/2.1",
  "kube-probe/1.29",
];

/** A deterministic sequence (a linear congruential generator): the same logs every run. */
function sequence(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    // mulberry32: every bit well mixed (an LCG's low bits cycle too fast for `% n`)
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

function nginxAccess(lines: number, seed: number): string {
  const r = sequence(seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const ip = IPS[r(IPS.length)];
    const min = String(Math.floor(i / 6)).padStart(2, "0");
    const sec = String((i * 7) % 60).padStart(2, "0");
    const method = r(5) === 0 ? "POST" : "GET";
    const path = PATHS[r(PATHS.length)];
    const status = STATUSES[r(STATUSES.length)];
    const bytes = status === 304 ? 0 : 200 + r(5000);
    const rt = (r(2500) / 1000).toFixed(3);
    out.push(
      `${ip} - - [01/Dec/2026:14:${min}:${sec} +0000] "${method} ${path} HTTP/1.1" ${status} ${bytes} ` +
        `"-" "${AGENTS[r(AGENTS.length)]}" rt=${rt}`,
    );
  }
  return out.join("\n") + "\n";
}

function syslog(): string {
  const lines = [
    "Dec  1 14:00:01 web01 systemd[1]: Started Daily apt download activities.",
    "Dec  1 14:00:05 web01 nginx[812]: 2026/12/01 14:00:05 [warn] 812#812: worker_connections are not enough",
    "Dec  1 14:01:12 web01 kernel: [12345.678901] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
    "Dec  1 14:02:33 web01 app[2201]: ERROR db pool exhausted (max=20)",
    "Dec  1 14:02:34 web01 app[2201]: WARN retrying connection to 10.0.0.31:5432",
    "Dec  1 14:03:00 web01 CRON[3310]: (root) CMD (/usr/local/bin/backup.sh)",
    "Dec  1 14:03:41 web01 kernel: [12401.002211] Out of memory: Killed process 2201 (java) total-vm:8123456kB, anon-rss:4012345kB",
    "Dec  1 14:03:41 web01 kernel: [12401.002300] oom_reaper: reaped process 2201 (java), now anon-rss:0kB",
    "Dec  1 14:03:42 web01 systemd[1]: app.service: Main process exited, code=killed, status=9/KILL",
    "Dec  1 14:03:42 web01 systemd[1]: app.service: Failed with result 'signal'.",
    "Dec  1 14:03:47 web01 systemd[1]: app.service: Scheduled restart job, restart counter is at 3.",
    "Dec  1 14:03:48 web01 systemd[1]: Started app.service - Order API.",
    "Dec  1 14:04:10 web01 app[3390]: INFO listening on :8080",
    "Dec  1 14:05:55 web01 sshd[3412]: Failed password for invalid user admin from 198.51.100.23 port 52211 ssh2",
    "Dec  1 14:05:58 web01 sshd[3412]: Failed password for invalid user admin from 198.51.100.23 port 52214 ssh2",
    "Dec  1 14:06:02 web01 sshd[3415]: Failed password for root from 203.0.113.7 port 40022 ssh2",
    "Dec  1 14:06:30 web01 kernel: [12570.100000] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
    "Dec  1 14:07:01 web01 kernel: [12601.500000] nf_conntrack: table full, dropping packet",
    "Dec  1 14:07:15 web01 app[3390]: ERROR timeout calling payments after 5000ms",
    "Dec  1 14:07:16 web01 app[3390]: ERROR timeout calling payments after 5000ms",
    "Dec  1 14:08:00 web01 systemd[1]: Starting Cleanup of Temporary Directories...",
    "Dec  1 14:08:00 web01 systemd[1]: Finished Cleanup of Temporary Directories.",
    'Dec  1 14:09:12 web01 dockerd[901]: time="2026-12-01T14:09:12Z" level=error msg="Handler for GET /containers/x/json returned error: No such container: x"',
    "Dec  1 14:10:00 web01 app[3390]: Error: disk quota exceeded on /var/lib/app",
    "Dec  1 14:11:11 web01 kernel: [12851.000000] blk_update_request: I/O error, dev sdb, sector 123456 op 0x0:(READ)",
  ];
  return lines.join("\n") + "\n";
}

function authLog(): string {
  const out: string[] = [];
  const users = ["admin", "root", "oracle", "admin", "test", "root", "ubuntu"];
  for (let i = 0; i < users.length; i++) {
    const ip = IPS[(i * 3) % IPS.length];
    out.push(
      `Dec  1 13:5${i}:0${i} web01 sshd[40${i}0]: Failed password for ${
        i % 2 ? "invalid user " : ""
      }${users[i]} from ${ip} port 5${i}022 ssh2`,
    );
  }
  out.push(
    "Dec  1 13:59:30 web01 sshd[4100]: Accepted publickey for deploy from 10.0.0.12 port 50100 ssh2",
  );
  out.push(
    "Dec  1 13:59:31 web01 sshd[4100]: pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
  );
  out.push(
    "Dec  1 14:00:02 web01 sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart app",
  );
  return out.join("\n") + "\n";
}

function appLog(): string {
  const out: string[] = [];
  const r = sequence(7);
  const levels = ["INFO", "INFO", "INFO", "WARN", "ERROR", "INFO", "DEBUG"];
  const msgs = [
    "request completed",
    "cache miss for key user:42",
    "slow query took 1834ms",
    "connection reset by peer",
    "NullPointerException in OrderService.place",
    "GC pause 412ms",
    "health check ok",
  ];
  for (let i = 0; i < 40; i++) {
    const k = r(levels.length);
    const ts = `2026-12-01 14:${String(i).padStart(2, "0")}:${
      String((i * 13) % 60).padStart(2, "0")
    }`;
    out.push(
      `${ts},${String(r(1000)).padStart(3, "0")} ${levels[k]} [http-nio-8080-exec-${1 + r(8)}] ${
        msgs[k]
      }`,
    );
    if (levels[k] === "ERROR") {
      out.push("java.lang.NullPointerException: null");
      out.push("\tat com.example.orders.OrderService.place(OrderService.java:88)");
      out.push("\tat com.example.orders.OrderController.create(OrderController.java:41)");
    }
  }
  return out.join("\n") + "\n";
}

function jsonLog(): string {
  const out: string[] = [];
  const r = sequence(11);
  const levels = ["info", "info", "warn", "error", "info"];
  for (let i = 0; i < 24; i++) {
    const level = levels[r(levels.length)];
    out.push(JSON.stringify({
      ts: `2026-12-01T14:${String(i).padStart(2, "0")}:00Z`,
      level,
      service: ["orders", "payments", "users"][r(3)],
      msg: level === "error" ? "upstream timeout" : level === "warn" ? "retrying" : "ok",
      latency_ms: 5 + r(900),
      status: level === "error" ? 504 : 200,
    }));
  }
  return out.join("\n") + "\n";
}

function threadDump(): string {
  const out = [
    "2026-12-01 14:05:00",
    "Full thread dump OpenJDK 64-Bit Server VM (17.0.9+9 mixed mode):",
    "",
  ];
  const states = [
    "RUNNABLE",
    "BLOCKED",
    "WAITING",
    "TIMED_WAITING",
    "RUNNABLE",
    "BLOCKED",
    "WAITING",
  ];
  for (let i = 0; i < states.length; i++) {
    out.push(
      `"http-nio-8080-exec-${i + 1}" #${30 + i} daemon prio=5 os_prio=0 cpu=${
        12 * i
      }.50ms tid=0x00007f${i}a nid=0x${(100 + i).toString(16)} waiting`,
    );
    out.push(
      `   java.lang.Thread.State: ${states[i]}${states[i] === "WAITING" ? " (parking)" : ""}`,
    );
    out.push("\tat com.example.orders.OrderService.place(OrderService.java:88)");
    if (states[i] === "BLOCKED") {
      out.push("\t- waiting to lock <0x000000076ab62208> (a java.lang.Object)");
    }
    out.push("");
  }
  out.push('"GC Thread#0" os_prio=0 cpu=1234.00ms tid=0x00007f00 nid=0x10 runnable', "");
  return out.join("\n");
}

let files: Record<string, string | Uint8Array> | undefined;

/** Built once per process: every reset writes the same bytes. */
function workspaceFiles(): Record<string, string | Uint8Array> {
  return files ??= buildFiles();
}

function buildFiles(): Record<string, string | Uint8Array> {
  const access = nginxAccess(90, 42);
  const accessOld = nginxAccess(30, 99);
  return {
    "var/log/syslog": syslog(),
    "var/log/messages": syslog().replaceAll("web01", "db01"),
    "var/log/kern.log": syslog().split("\n").filter((l) => l.includes("kernel")).join("\n") + "\n",
    "var/log/auth.log": authLog(),
    "var/log/secure": authLog(),
    "var/log/dmesg":
      "[    0.000000] Linux version 6.8.0-45-generic\n[12401.002211] Out of memory: Killed process 2201 (java)\n",
    "var/log/nginx/access.log": access,
    "var/log/nginx/access.log.1": accessOld,
    "var/log/nginx/access.log.2.gz": gzip(nginxAccess(20, 5)),
    "var/log/nginx/error.log": [
      '2026/12/01 14:02:30 [error] 813#813: *1021 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 203.0.113.7, server: shop.example.com, request: "GET /api/orders HTTP/1.1", upstream: "http://10.0.0.31:8080/api/orders"',
      "2026/12/01 14:02:31 [error] 813#813: *1022 connect() failed (111: Connection refused) while connecting to upstream, client: 198.51.100.23",
      "2026/12/01 14:03:00 [warn] 812#812: *1030 an upstream response is buffered to a temporary file",
      '2026/12/01 14:03:41 [error] 813#813: *1044 no live upstreams while connecting to upstream, client: 192.0.2.44, request: "POST /api/orders HTTP/1.1"',
      "2026/12/01 14:04:00 [crit] 813#813: *1050 SSL_do_handshake() failed",
    ].join("\n") + "\n",
    "var/log/apache2/access.log": nginxAccess(25, 3).replaceAll(" rt=", " usec="),
    "var/log/apache2/error.log":
      "[Tue Dec 01 14:02:00.123456 2026] [mpm_prefork:error] [pid 900] AH00161: server reached MaxRequestWorkers setting\n",
    "var/log/app/app.log": appLog(),
    "var/log/app/app.json.log": jsonLog(),
    "var/log/mysql/error.log":
      "2026-12-01T14:02:40.000000Z 12 [Warning] [MY-010055] [Server] IP address '10.0.0.9' could not be resolved\n2026-12-01T14:03:10.000000Z 0 [ERROR] [MY-012574] [InnoDB] Unable to lock ./ibdata1 error: 11\n",
    "var/log/mysql/mysql-slow.log": [
      "# Time: 2026-12-01T14:02:33.000000Z",
      "# Query_time: 12.503  Lock_time: 0.000 Rows_sent: 1  Rows_examined: 2000000",
      "SELECT * FROM orders WHERE customer_email = 'x@example.com';",
      "# Time: 2026-12-01T14:04:01.000000Z",
      "# Query_time: 3.250  Lock_time: 1.000 Rows_sent: 10  Rows_examined: 50000",
      "UPDATE stock SET qty = qty - 1 WHERE sku = 'A1';",
    ].join("\n") + "\n",
    "var/log/postgresql/postgresql-16-main.log": [
      "2026-12-01 14:02:33.120 UTC [5120] LOG:  duration: 2503.120 ms  statement: SELECT count(*) FROM events",
      "2026-12-01 14:02:35.000 UTC [5121] FATAL:  remaining connection slots are reserved for non-replication superuser connections",
      "2026-12-01 14:02:36.000 UTC [5122] ERROR:  deadlock detected",
      "2026-12-01 14:03:00.000 UTC [5100] LOG:  checkpoint complete: wrote 1200 buffers (7.3%)",
    ].join("\n") + "\n",
    "var/log/redis/redis-server.log":
      "900:M 01 Dec 2026 14:02:00.000 # WARNING overcommit_memory is set to 0!\n900:M 01 Dec 2026 14:03:00.000 * 10000 changes in 60 seconds. Saving...\n",
    "var/lib/docker/containers/abc123/abc123-json.log": [
      '{"log":"starting server\\n","stream":"stdout","time":"2026-12-01T14:00:00Z"}',
      '{"log":"panic: runtime error: invalid memory address\\n","stream":"stderr","time":"2026-12-01T14:03:00Z"}',
    ].join("\n") + "\n",
    "etc/os-release":
      'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n',
    "etc/hosts": "127.0.0.1 localhost\n10.0.0.31 db01 db01.internal\n10.0.0.12 web01\n",
    "etc/resolv.conf": "nameserver 10.0.0.2\nsearch internal\noptions ndots:5\n",
    "etc/passwd":
      "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\ndeploy:x:1001:1001::/home/deploy:/bin/bash\nmysql:x:112:117:MySQL Server,,,:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nsudo:x:27:deploy\ndocker:x:998:deploy\n",
    "etc/fstab":
      "UUID=1111-2222 / ext4 errors=remount-ro 0 1\nUUID=3333-4444 /data xfs defaults,noatime 0 2\n",
    "etc/crontab":
      "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n0 3 * * * root /usr/local/bin/backup.sh\n",
    "etc/nginx/nginx.conf": [
      "user www-data;",
      "worker_processes auto;",
      "events { worker_connections 768; }",
      "http {",
      "    sendfile on;",
      "    keepalive_timeout 65;",
      "    upstream orders { server 10.0.0.31:8080 max_fails=3; server 10.0.0.32:8080; }",
      "    include /etc/nginx/conf.d/*.conf;",
      "    include /etc/nginx/sites-enabled/*;",
      "}",
    ].join("\n") + "\n",
    "etc/nginx/sites-enabled/shop.conf":
      "server {\n    listen 443 ssl;\n    server_name shop.example.com;\n    location /api/ { proxy_pass http://orders; proxy_read_timeout 5s; }\n}\n",
    "etc/systemd/system/app.service":
      "[Unit]\nDescription=Order API\nAfter=network.target\n\n[Service]\nExecStart=/usr/bin/java -Xmx4g -jar /opt/app/app.jar\nRestart=always\nMemoryMax=6G\n\n[Install]\nWantedBy=multi-user.target\n",
    "etc/sysctl.conf": "net.core.somaxconn = 4096\nvm.swappiness = 10\nfs.file-max = 2097152\n",
    "etc/security/limits.conf": "* soft nofile 65535\n* hard nofile 65535\n",
    "proc/loadavg": "30.02 26.43 19.02 3/1024 3390\n",
    "proc/meminfo":
      "MemTotal:       16318104 kB\nMemFree:          312044 kB\nMemAvailable:    1204112 kB\nBuffers:           81232 kB\nCached:          1012344 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:              1024 kB\n",
    "proc/cpuinfo": Array.from(
      { length: 4 },
      (_, i) =>
        `processor\t: ${i}\nmodel name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\ncpu MHz\t\t: 2900.000\n`,
    ).join("\n"),
    "proc/3390/status":
      "Name:\tjava\nState:\tS (sleeping)\nPid:\t3390\nPPid:\t1\nThreads:\t212\nVmRSS:\t 4012345 kB\nvoluntary_ctxt_switches:\t1200\nnonvoluntary_ctxt_switches:\t340\n",
    "proc/3390/limits":
      "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\nMax processes             63459                63459                processes\n",
    "proc/net/sockstat":
      "sockets: used 1893\nTCP: inuse 812 orphan 2 tw 4410 alloc 900 mem 301\nUDP: inuse 4 mem 2\n",
    "proc/sys/fs/file-nr": "12896\t0\t2097152\n",
    "proc/pressure/cpu": "some avg10=35.12 avg60=30.01 avg300=22.40 total=912345678\n",
    "dumps/jstack.txt": threadDump(),
    "data/uploads/a.bin": "x".repeat(4096),
    "data/uploads/b.bin": "y".repeat(1024),
    "data/cache/big.tmp": "z".repeat(20000),
    "data/cache/small.tmp": "tiny\n",
    "data/core.3390": "core dump stand-in\n",
    "k8s/deployment.yaml":
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n",
    "notes/incident.md": "# INC-4711\n- 14:03 OOM kill of app (java)\n- 14:07 payments timeouts\n",
    "scripts/healthcheck.sh": "#!/bin/sh\necho ok\n",
  };
}

/** gzip with no name and no timestamp (`-n`): the same bytes every run. */
function gzip(text: string): Uint8Array {
  const tmp = Deno.makeTempFileSync({ prefix: "corpus_gz_" });
  try {
    Deno.writeTextFileSync(tmp, text);
    return new Deno.Command("gzip", { args: ["-n", "-c", tmp] }).outputSync().stdout;
  } finally {
    Deno.removeSync(tmp);
  }
}

// ---------------------------------------------------------------------------
// Stubs: fixed output; sub-commands that change the host touch a marker.

/** Recorder names: host-changing programs that must never run from the corpus (even mislabelled). */
const DANGEROUS = [
  "rm",
  "rmdir",
  "kill",
  "pkill",
  "killall",
  "chmod",
  "chown",
  "chgrp",
  "truncate",
  "shred",
  "mv",
  "dd",
  "reboot",
  "shutdown",
  "halt",
  "poweroff",
  "useradd",
  "userdel",
  "usermod",
  "passwd",
  "mkfs",
  "mkfs.ext4",
  "mkfs.xfs",
  "fdisk",
  "parted",
  "swapoff",
  "swapon",
  "umount",
  "modprobe",
  "rmmod",
  "insmod",
  "chattr",
  "setfacl",
  "ln",
  "install",
  "touch",
  "mkdir",
  "cp",
  "rsync",
  "wget",
  "scp",
  "ssh",
  "sudo",
  "su",
  "logrotate",
  "apt",
  "apt-get",
  "yum",
  "dnf",
  "pip",
  "npm",
  "fallocate",
  "renice",
  "ionice",
  "tc",
  "ifconfig",
  "route",
  "ethtool",
  "echo_to_proc",
  "update-alternatives",
  "wall",
  "at",
  "batch",
  "logger",
  "nc",
  "ncat",
  "socat",
  "gdb",
  "perf",
  "strace",
  "ltrace",
];

/** Programs read-only commands use for real, but which never run from a host-changing one. */
const TRIPWIRE_ONLY = [
  "python3",
  "python",
  "perl",
  "ruby",
  "node",
  "sh",
  "bash",
  "dash",
  "zsh",
  "env",
  "xargs",
  "tee",
  "sed",
  "sort",
  "find",
  "awk",
  "gawk",
  "mawk",
  "tar",
  "gzip",
  "split",
  "cat",
  "echo",
  "printf",
  "timeout",
  "nice",
  "nohup",
  "nsenter",
  "chroot",
  "watch",
  "systemd-run",
  "runuser",
  "doas",
];

/** A stub: a bash script; `mark WHAT` records a host change instead of making it. */
function stub(markers: string, body: string): string {
  return `#!/bin/bash
mark() { : > "${markers}/\${0##*/}-$1"; exit 0; }
args=" $* "
${body}
`;
}

/** A test of the stub's arguments (` a b `) against an extended regular expression. */
const has = (pattern: string) =>
  `{ re='${pattern.replaceAll("'", "'\\''")}'; [[ "$args" =~ $re ]]; }`;

/** Fixed text for a heredoc (quoted delimiter: no expansion). */
const say = (text: string) => `{ cat <<'__OUT__'\n${text.replace(/\n$/, "")}\n__OUT__\n}`;

const PS_AUX = `USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167000 11000 ?        Ss   Nov30   0:09 /sbin/init
root         812  0.0  0.1  55000  6000 ?        Ss   Nov30   0:00 nginx: master process /usr/sbin/nginx
www-data     813  2.1  0.4  56000 70000 ?        S    Nov30  10:02 nginx: worker process
mysql       1201 12.5 18.0 2400000 2900000 ?     Ssl  Nov30 120:40 /usr/sbin/mysqld
app         3390 97.3 24.6 8123456 4012345 ?     Ssl  14:03  35:12 /usr/bin/java -Xmx4g -jar /opt/app/app.jar
root        3412  0.0  0.0  15000  7000 ?        Ss   14:05   0:00 sshd: admin [priv]
deploy      4100  0.0  0.0   9000  5000 pts/0    Ss   13:59   0:00 -bash
root        4321  0.0  0.0  12000  3500 ?        D    14:06   0:01 [kworker/u8:2+flush-8:0]
app         4400  0.0  0.0      0     0 ?        Z    14:07   0:00 [java] <defunct>
`;
const PS_EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 Nov30 ?        00:00:09 /sbin/init
root         812       1  0 Nov30 ?        00:00:00 nginx: master process /usr/sbin/nginx
www-data     813     812  2 Nov30 ?        00:10:02 nginx: worker process
mysql       1201       1 12 Nov30 ?        02:00:40 /usr/sbin/mysqld
app         3390       1 97 14:03 ?        00:35:12 /usr/bin/java -Xmx4g -jar /opt/app/app.jar
deploy      4100    4099  0 13:59 pts/0    00:00:00 -bash
app         4400    3390  0 14:07 ?        00:00:00 [java] <defunct>
`;
const PS_O = `    PID    PPID CMD                         %MEM %CPU STAT
   3390       1 /usr/bin/java -Xmx4g -jar   24.6 97.3 Ssl
   1201       1 /usr/sbin/mysqld            18.0 12.5 Ssl
    813     812 nginx: worker process        0.4  2.1 S
   4321       2 [kworker/u8:2+flush-8:0]     0.0  0.0 D
   4400    3390 [java] <defunct>             0.0  0.0 Z
`;

function stubs(): Record<string, string> {
  return {
    uptime: `${has("-p")} && { echo "up 21 hours, 31 minutes"; exit 0; }
${has("-s")} && { echo "2026-11-30 16:39:00"; exit 0; }
echo " 14:10:00 up 21:31,  1 user,  load average: 30.02, 26.43, 19.02"`,
    dmesg: `${has("( -c | -C |--clear|--read-clear| -D | -E | -n |--console-)")} && mark clear
${has(" -T ")} && ${
      say(
        `[Tue Dec  1 14:01:12 2026] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.
[Tue Dec  1 14:03:41 2026] Out of memory: Killed process 2201 (java) total-vm:8123456kB, anon-rss:4012345kB
[Tue Dec  1 14:06:30 2026] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2
[Tue Dec  1 14:07:01 2026] nf_conntrack: table full, dropping packet
[Tue Dec  1 14:11:11 2026] blk_update_request: I/O error, dev sdb, sector 123456`,
      )
    } && exit 0
${
      say(`[    0.000000] Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075) #45-Ubuntu SMP
[    1.204000] EXT4-fs (sda1): mounted filesystem with ordered data mode
[ 9001.000000] perf: interrupt took too long (2500 > 2495), lowering kernel.perf_event_max_sample_rate
[12345.678901] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.
[12401.002100] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0
[12401.002211] Out of memory: Killed process 2201 (java) total-vm:8123456kB, anon-rss:4012345kB
[12401.002300] oom_reaper: reaped process 2201 (java), now anon-rss:0kB
[12570.100000] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2
[12601.500000] nf_conntrack: table full, dropping packet
[12620.000000] nvme0n1: I/O 12 QID 3 timeout, aborting
[12851.000000] blk_update_request: I/O error, dev sdb, sector 123456 op 0x0:(READ)
[12852.000000] Buffer I/O error on dev sdb, logical block 15432, async page read`)
    }`,
    vmstat: say(`procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
34  0    0 200109 181956 1093340    0    0     0     5   10    9 96  1  3  0  0
32  0    0 200440 181956 1093340    0    0     0   256 2900 4100 97  2  1  0  0
30  2    0 199732 181956 1093344    0    0     0   800 3011 4203 95  3  1  1  0`),
    mpstat: say(`Linux 6.8.0-45-generic (web01) 	12/01/2026 	_x86_64_	(4 CPU)

02:10:00 PM  CPU    %usr   %nice    %sys %iowait    %irq   %soft  %steal  %guest  %gnice   %idle
02:10:01 PM  all   96.50    0.00    2.25    0.25    0.00    0.50    0.00    0.00    0.00    0.50
02:10:01 PM    0   99.00    0.00    1.00    0.00    0.00    0.00    0.00    0.00    0.00    0.00
02:10:01 PM    1   95.00    0.00    3.00    1.00    0.00    1.00    0.00    0.00    0.00    0.00
02:10:01 PM    2   96.00    0.00    2.00    0.00    0.00    1.00    0.00    0.00    0.00    1.00
02:10:01 PM    3   96.00    0.00    3.00    0.00    0.00    0.00    0.00    0.00    0.00    1.00`),
    pidstat: say(`Linux 6.8.0-45-generic (web01) 	12/01/2026 	_x86_64_	(4 CPU)

02:10:01 PM   UID       PID    %usr %system  %guest   %wait    %CPU   CPU  Command
02:10:02 PM   112      1201   12.00    0.50    0.00    0.00   12.50     1  mysqld
02:10:02 PM  1002      3390  380.00    9.00    0.00    2.00  389.00     2  java
02:10:02 PM    33       813    2.00    0.10    0.00    0.00    2.10     0  nginx`),
    iostat: say(`Linux 6.8.0-45-generic (web01) 	12/01/2026 	_x86_64_	(4 CPU)

avg-cpu:  %user   %nice %system %iowait  %steal   %idle
          96.50    0.00    2.25    0.25    0.00    1.00

Device            r/s     w/s     rkB/s     wkB/s   rrqm/s   wrqm/s  %rrqm  %wrqm r_await w_await aqu-sz rareq-sz wareq-sz  svctm  %util
sda              0.00   12.00      0.00    800.00     0.00     4.00   0.00  25.00    0.00    1.20   0.02     0.00    66.67   0.40   0.48
sdb            230.00    0.00  29440.00      0.00     0.00     0.00   0.00   0.00   45.10    0.00  10.37   128.00     0.00   4.30  98.90`),
    sar: `${has("TCP")} && ${
      say(`02:10:01 PM  active/s passive/s    iseg/s    oseg/s
02:10:02 PM      1.00      0.00  10233.00  18846.00

02:10:01 PM  atmptf/s  estres/s retrans/s isegerr/s   orsts/s
02:10:02 PM      0.00      0.00      0.00      0.00      0.00`)
    } && exit 0
${
      say(`Linux 6.8.0-45-generic (web01) 	12/01/2026 	_x86_64_	(4 CPU)

02:10:01 PM     IFACE   rxpck/s   txpck/s    rxkB/s    txkB/s   rxcmp/s   txcmp/s  rxmcst/s   %ifutil
02:10:02 PM      eth0  19763.00   5101.00  21999.10    482.56      0.00      0.00      0.00      0.00
02:10:02 PM        lo     14.00     14.00      1.36      1.36      0.00      0.00      0.00      0.00`)
    }`,
    free: `${has("-g")} && ${
      say(`               total        used        free      shared  buff/cache   available
Mem:              15          14           0           0           1           1
Swap:              0           0           0`)
    } && exit 0
${has("-h")} && ${
      say(`               total        used        free      shared  buff/cache   available
Mem:            15Gi        14Gi       304Mi       1.0Mi       1.1Gi       1.1Gi
Swap:             0B          0B          0B`)
    } && exit 0
${
      say(`               total        used        free      shared  buff/cache   available
Mem:           15935       14560         304           1        1070        1175
Swap:              0           0           0`)
    }`,
    top: say(`top - 14:10:00 up 21:31,  1 user,  load average: 30.02, 26.43, 19.02
Tasks: 212 total,   3 running, 208 sleeping,   0 stopped,   1 zombie
%Cpu(s): 96.5 us,  2.3 sy,  0.0 ni,  0.5 id,  0.3 wa,  0.0 hi,  0.5 si,  0.0 st
MiB Mem :  15935.6 total,    304.7 free,  14560.1 used,   1070.8 buff/cache
MiB Swap:      0.0 total,      0.0 free,      0.0 used.   1175.5 avail Mem

    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND
   3390 app       20   0 7932.1m   3.8g  20480 S 389.0  24.6  35:12.01 java
   1201 mysql     20   0 2343.8m   2.8g  30720 S  12.5  18.0 120:40.33 mysqld
    813 www-data  20   0   54.7m  68.4m   4096 S   2.1   0.4  10:02.10 nginx`),
    ps: `${has("( -o |-eo |o |--format|-p )")} && { ${say(PS_O)}; exit 0; }
${has("( aux|-aux|auxf|auxww|aux )")} && { ${say(PS_AUX)}; exit 0; }
${say(PS_EF)}`,
    ss: `${has("( -K |--kill| -[a-zA-Z]*K)")} && mark kill
${has("( -D |--diag)")} && mark diag
${has("( -s |--summary)")} && ${
      say(`Total: 1893
TCP:   5240 (estab 812, closed 4410, orphaned 2, timewait 4410)

Transport Total     IP        IPv6
RAW	  0         0         0
UDP	  4         3         1
TCP	  830       826       4`)
    } && exit 0
${
      say(`Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
tcp   LISTEN 0      511          0.0.0.0:443        0.0.0.0:*     users:(("nginx",pid=813,fd=7))
tcp   LISTEN 0      4096       127.0.0.1:3306       0.0.0.0:*     users:(("mysqld",pid=1201,fd=21))
tcp   LISTEN 129    128          0.0.0.0:8080       0.0.0.0:*     users:(("java",pid=3390,fd=112))
tcp   ESTAB  0      0          10.0.0.12:443    203.0.113.7:51234 users:(("nginx",pid=813,fd=31))
tcp   ESTAB  0      0          10.0.0.12:443  198.51.100.23:40110 users:(("nginx",pid=813,fd=32))
tcp   ESTAB  0      0          10.0.0.12:443    203.0.113.7:51240 users:(("nginx",pid=813,fd=33))
tcp   CLOSE-WAIT 1  0          10.0.0.12:50022    10.0.0.31:5432  users:(("java",pid=3390,fd=140))
tcp   TIME-WAIT 0   0          10.0.0.12:50100    10.0.0.31:8080
udp   UNCONN 0      0      127.0.0.53%lo:53         0.0.0.0:*`)
    }`,
    netstat: say(`Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp        0      0 0.0.0.0:443             0.0.0.0:*               LISTEN      813/nginx
tcp        0      0 127.0.0.1:3306          0.0.0.0:*               LISTEN      1201/mysqld
tcp      129      0 0.0.0.0:8080            0.0.0.0:*               LISTEN      3390/java
tcp        0      0 10.0.0.12:443           203.0.113.7:51234       ESTABLISHED 813/nginx
tcp        0      0 10.0.0.12:443           198.51.100.23:40110     ESTABLISHED 813/nginx
tcp        1      0 10.0.0.12:50022         10.0.0.31:5432          CLOSE_WAIT  3390/java
tcp        0      0 10.0.0.12:50100         10.0.0.31:8080          TIME_WAIT   -`),
    ip: `${
      has(
        "( (link|l|li) (set|add|del|delete|change) | (addr|a|address) (add|del|change|replace|flush) | (route|r|ro) (add|del|delete|change|replace|flush|append) | (neigh|n|neighbor) (add|del|change|replace|flush) | (netns) (add|del|delete|exec) | (rule) (add|del|flush) | (tunnel|xfrm|mroute|maddr|tuntap) )",
      )
    } && mark change
${has("( -s )")} && ${
      say(
        `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    RX:  bytes packets errors dropped  missed   mcast
         12345     120      0       0       0       0
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP mode DEFAULT group default qlen 1000
    RX:  bytes packets errors dropped  missed   mcast
    9876543210 8765432      0    1203       0       0
    TX:  bytes packets errors dropped carrier collsns
    1234567890 4321098      0       0       0       0`,
      )
    } && exit 0
${has("( (route|r|ro) )")} && ${
      say(`default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.12 metric 100
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.12`)
    } && exit 0
${has("( (neigh|n|neighbor) )")} && ${
      say(`10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE
10.0.0.31 dev eth0 lladdr 02:00:00:00:00:31 STALE`)
    } && exit 0
${has("( (link|l|li) )")} && ${
      say(`1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP mode DEFAULT`)
    } && exit 0
${has(" -br ")} && ${
      say(`lo               UNKNOWN        127.0.0.1/8 ::1/128
eth0             UP             10.0.0.12/24 fe80::1/64`)
    } && exit 0
${
      say(
        `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP group default qlen 1000
    inet 10.0.0.12/24 metric 100 brd 10.0.0.255 scope global dynamic eth0`,
      )
    }`,
    lsof: say(`COMMAND   PID  USER   FD   TYPE DEVICE SIZE/OFF    NODE NAME
nginx     813 www-data  7u  IPv4  31337      0t0     TCP *:https (LISTEN)
java     3390 app     112u  IPv6  41234      0t0     TCP *:http-alt (LISTEN)
java     3390 app     140u  IPv4  41290      0t0     TCP web01:50022->db01:postgresql (CLOSE_WAIT)
java     3390 app     201w   REG    8,1 2147483648  1234 /var/log/app/app.log (deleted)
mysqld   1201 mysql    21u  IPv4  22222      0t0     TCP localhost:mysql (LISTEN)`),
    systemctl: `${
      has(
        "( start | stop | restart | reload | try-restart | reload-or-restart | enable | disable | mask | unmask | kill | daemon-reload | daemon-reexec | isolate | reboot | poweroff | halt | set-property | edit | reset-failed | set-default | link | revert | preset | freeze | thaw | clean | suspend | hibernate | rescue | emergency | default )",
      )
    } && mark change
${has(" (is-active) ")} && { echo active; exit 0; }
${has(" (is-failed) ")} && { echo failed; exit 0; }
${has(" (is-enabled) ")} && { echo enabled; exit 0; }
${has("( --failed | list-units.*failed)")} && ${
      say(`  UNIT        LOAD   ACTIVE SUB    DESCRIPTION
● app.service loaded failed failed Order API

1 loaded units listed.`)
    } && exit 0
${has(" (list-units|list-unit-files) ")} && ${
      say(`  UNIT              LOAD   ACTIVE SUB     DESCRIPTION
  app.service       loaded active running Order API
  mysql.service     loaded active running MySQL Community Server
  nginx.service     loaded active running A high performance web server
  ssh.service       loaded active running OpenBSD Secure Shell server

4 loaded units listed.`)
    } && exit 0
${has(" (list-timers) ")} && ${
      say(
        `NEXT                        LEFT     LAST                        PASSED  UNIT                 ACTIVATES
Tue 2026-12-01 15:00:00 UTC 49min    Tue 2026-12-01 14:00:00 UTC 10min   logrotate.timer      logrotate.service`,
      )
    } && exit 0
${has(" (show) ")} && ${
      say(`NRestarts=3
MemoryCurrent=4108642304
ActiveState=active
SubState=running`)
    } && exit 0
${has(" (cat) ")} && { cat "${"$"}{PWD}/etc/systemd/system/app.service" 2>/dev/null || echo "# /etc/systemd/system/app.service"; exit 0; }
${
      say(`● app.service - Order API
     Loaded: loaded (/etc/systemd/system/app.service; enabled; preset: enabled)
     Active: active (running) since Tue 2026-12-01 14:03:48 UTC; 6min ago
   Main PID: 3390 (java)
      Tasks: 212 (limit: 19020)
     Memory: 3.8G (max: 6.0G available: 2.1G)
        CPU: 35min 12.010s
     CGroup: /system.slice/app.service
             └─3390 /usr/bin/java -Xmx4g -jar /opt/app/app.jar

Dec 01 14:03:42 web01 systemd[1]: app.service: Main process exited, code=killed, status=9/KILL
Dec 01 14:03:48 web01 systemd[1]: Started app.service - Order API.`)
    }
exit 3`,
    journalctl: `${
      has(
        "(--vacuum|--rotate|--flush|--sync|--relinquish|--smart-relinquish|--setup-keys|--update-catalog|--cursor-file|--new-id128)",
      )
    } && mark change
${has("( -p | -p[0-9a-z]|--priority)")} && ${
      say(`Dec 01 14:02:33 web01 app[2201]: ERROR db pool exhausted (max=20)
Dec 01 14:03:42 web01 systemd[1]: app.service: Failed with result 'signal'.
Dec 01 14:07:15 web01 app[3390]: ERROR timeout calling payments after 5000ms`)
    } && exit 0
${has("( -k |--dmesg)")} && ${
      say(
        `Dec 01 14:03:41 web01 kernel: Out of memory: Killed process 2201 (java) total-vm:8123456kB
Dec 01 14:07:01 web01 kernel: nf_conntrack: table full, dropping packet`,
      )
    } && exit 0
${has("--disk-usage")} && { echo "Archived and active journals take 1.2G in the file system."; exit 0; }
${has("--list-boots")} && { printf '%s\\n' "IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY" " -1 1b2c3d4e5f60718293a4b5c6d7e8f901 Mon 2026-11-30 09:00:00 UTC Mon 2026-11-30 16:38:00 UTC" "  0 0a1b2c3d4e5f60718293a4b5c6d7e8f9 Mon 2026-11-30 16:39:00 UTC Tue 2026-12-01 14:10:00 UTC"; exit 0; }
${has("(-o json|--output=json|-o json-pretty)")} && ${
      say(
        `{"__REALTIME_TIMESTAMP":"1796134962000000","_SYSTEMD_UNIT":"app.service","PRIORITY":"3","MESSAGE":"ERROR db pool exhausted (max=20)"}
{"__REALTIME_TIMESTAMP":"1796135235000000","_SYSTEMD_UNIT":"app.service","PRIORITY":"3","MESSAGE":"ERROR timeout calling payments after 5000ms"}`,
      )
    } && exit 0
${
      say(`Dec 01 14:02:33 web01 app[2201]: ERROR db pool exhausted (max=20)
Dec 01 14:02:34 web01 app[2201]: WARN retrying connection to 10.0.0.31:5432
Dec 01 14:03:42 web01 systemd[1]: app.service: Main process exited, code=killed, status=9/KILL
Dec 01 14:03:42 web01 systemd[1]: app.service: Failed with result 'signal'.
Dec 01 14:03:47 web01 systemd[1]: app.service: Scheduled restart job, restart counter is at 3.
Dec 01 14:03:48 web01 systemd[1]: Started app.service - Order API.
Dec 01 14:04:10 web01 app[3390]: INFO listening on :8080
Dec 01 14:07:15 web01 app[3390]: ERROR timeout calling payments after 5000ms
Dec 01 14:07:16 web01 app[3390]: ERROR timeout calling payments after 5000ms`)
    }`,
    kubectl: kubectlStub(),
    docker: dockerStub(),
    crictl: `${
      has(
        "( rm | rmp | rmi | stop | stopp | exec | attach | run | runp | create | start | update | port-forward )",
      )
    } && mark change
${has(" logs ")} && ${
      say(`2026-12-01T14:03:00Z panic: runtime error: invalid memory address
2026-12-01T14:03:00Z goroutine 1 [running]:`)
    } && exit 0
${has(" pods ")} && ${
      say(`POD ID          CREATED        STATE   NAME                    NAMESPACE   ATTEMPT
1a2b3c4d5e6f7   2 hours ago    Ready   api-7d9f8b6c5d-x2x9p    default     0`)
    } && exit 0
${
      say(`CONTAINER       IMAGE          CREATED        STATE     NAME   ATTEMPT   POD ID
abc123def456    1a2b3c4d5e6f   5 minutes ago  Running   api    4         1a2b3c4d5e6f7
fed654cba321    9f8e7d6c5b4a   5 minutes ago  Exited    init   0         1a2b3c4d5e6f7`)
    }`,
    df: `${has(" -i ")} && ${
      say(`Filesystem      Inodes   IUsed   IFree IUse% Mounted on
/dev/sda1      6553600 6553012     588  100% /
/dev/sdb1      2621440   12034 2609406    1% /data`)
    } && exit 0
${
      say(`Filesystem      Size  Used Avail Use% Mounted on
/dev/sda1        99G   94G  5.0G  95% /
tmpfs           7.8G     0  7.8G   0% /dev/shm
/dev/sdb1       500G  120G  380G  24% /data`)
    }`,
    hostname: `${has("^ (-f|-s|-I|-i|-d|--fqdn|--short|--all-ip-addresses)? $")} || mark set
${has(" -I ")} && { echo "10.0.0.12 "; exit 0; }
${has(" -f |--fqdn")} && { echo web01.internal; exit 0; }
echo web01`,
    date: `${has("( -s |--set)")} && mark set
exec /usr/bin/date -d '2026-12-01 14:10:00 UTC' "$@"`,
    lscpu: say(`Architecture:            x86_64
CPU(s):                  4
Model name:              Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
Thread(s) per core:      2
NUMA node(s):            1`),
    lsblk: say(`NAME   MAJ:MIN RM  SIZE RO TYPE MOUNTPOINTS
sda      8:0    0  100G  0 disk
└─sda1   8:1    0   99G  0 part /
sdb      8:16   0  500G  0 disk
└─sdb1   8:17   0  500G  0 part /data`),
    who: say("deploy   pts/0        2026-12-01 13:59 (10.0.0.12)"),
    w: say(` 14:10:00 up 21:31,  1 user,  load average: 30.02, 26.43, 19.02
USER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT
deploy   pts/0    10.0.0.12        13:59    1.00s  0.05s  0.00s -bash`),
    last: say(`deploy   pts/0        10.0.0.12        Tue Dec  1 13:59   still logged in
reboot   system boot  6.8.0-45-generic Mon Nov 30 16:39   still running`),
    ping: `echo "PING db01 (10.0.0.31) 56(84) bytes of data."
echo "--- db01 ping statistics ---"
echo "3 packets transmitted, 3 received, 0% packet loss, time 2003ms"`,
    dig: `${has(" \\+short ")} && { echo 10.0.0.31; exit 0; }
${
      say(`;; ANSWER SECTION:
db01.internal.		300	IN	A	10.0.0.31

;; Query time: 1 msec
;; SERVER: 10.0.0.2#53(10.0.0.2) (UDP)`)
    }`,
    nslookup: say(`Server:		10.0.0.2
Address:	10.0.0.2#53

Name:	db01.internal
Address: 10.0.0.31`),
    host: say("db01.internal has address 10.0.0.31"),
    curl: `${
      has(
        "( -o | -O |--output|--remote-name| -T |--upload-file| -K |--config| -d |--data| -X (POST|PUT|DELETE|PATCH)| -[a-zA-Z]*[oOKT] )",
      )
    } && mark write
${has(" -I ")} && { printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'; exit 0; }
${has(" -w ")} && { echo "200 0.012"; exit 0; }
echo ok`,
    mount: `${has("^ (-l|-t [a-z0-9]+|)? $")} || mark change
${
      say(`/dev/sda1 on / type ext4 (rw,relatime,errors=remount-ro)
/dev/sdb1 on /data type xfs (rw,noatime)
tmpfs on /dev/shm type tmpfs (rw,nosuid,nodev)`)
    }`,
    findmnt: say(`TARGET SOURCE    FSTYPE OPTIONS
/      /dev/sda1 ext4   rw,relatime,errors=remount-ro
/data  /dev/sdb1 xfs    rw,noatime`),
    sysctl: `${has("( -w | -p |--write|--load|--system|=)")} && mark change
${has(" -a ")} && ${
      say(`fs.file-max = 2097152
net.core.somaxconn = 4096
net.ipv4.tcp_max_syn_backlog = 1024
net.netfilter.nf_conntrack_max = 262144
vm.swappiness = 10`)
    } && exit 0
for k in "$@"; do case "$k" in
  -n) ;;
  net.core.somaxconn) echo "net.core.somaxconn = 4096";;
  vm.swappiness) echo "vm.swappiness = 10";;
  fs.file-max) echo "fs.file-max = 2097152";;
  *) echo "$k = 0";;
esac; done`,
    iptables: `${has("( -L | -S |--list|-nvL|-vnL|-nL|-L[a-zA-Z]* |--list-rules)")} || mark change
${
      say(`Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination
 1203 72180 DROP       all  --  *      *       198.51.100.23        0.0.0.0/0
Chain FORWARD (policy DROP 0 packets, 0 bytes)
Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)`)
    }`,
    nft: `${has(" list ")} || mark change
${
      say(`table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 198.51.100.23 drop
	}
}`)
    }`,
    crontab: `${has("^ -l $|^ -u [a-z]+ -l $")} || mark change
${
      say(`# m h  dom mon dow   command
0 3 * * * /usr/local/bin/backup.sh
*/5 * * * * /usr/local/bin/healthcheck.sh`)
    }`,
    jstack: `cat "${"$"}{PWD}/dumps/jstack.txt" 2>/dev/null`,
    jcmd: `${
      has("(GC.heap_dump|JFR.start|JFR.dump|VM.set_flag|GC.run|Compiler.directives_add|VM.log)")
    } && mark change
${has("Thread.print")} && { cat "${"$"}{PWD}/dumps/jstack.txt" 2>/dev/null; exit 0; }
${has("GC.heap_info")} && { echo " garbage-first heap   total 4194304K, used 4012345K"; exit 0; }
echo "3390 /opt/app/app.jar"`,
    jstat: say(
      `  S0     S1     E      O      M     CCS    YGC     YGCT    FGC    FGCT     CGC    CGCT     GCT
  0.00 100.00  98.12  99.87  97.01  94.30   1520   12.345    41   88.210   300    1.234  101.789`,
    ),
    jmap: `${has("(-dump|-histo:live)")} && mark change
${
      say(` num     #instances         #bytes  class name (module)
   1:       1203456      892345678  [B (java.base@17.0.9)
   2:        801234      192296160  java.lang.String (java.base@17.0.9)`)
    }`,
    mysql: `${
      has(
        "(UPDATE|DELETE|DROP|INSERT|KILL|SET GLOBAL|FLUSH|SHUTDOWN|ALTER|TRUNCATE|CREATE|GRANT|update|delete|drop|insert|kill|flush|alter|truncate)",
      )
    } && mark change
${has("(PROCESSLIST|processlist)")} && ${
      say(`Id	User	Host	db	Command	Time	State	Info
12	app	10.0.0.12:50022	shop	Query	12	Sending data	SELECT * FROM orders WHERE customer_email = 'x@example.com'
13	app	10.0.0.12:50023	shop	Sleep	300		NULL`)
    } && exit 0
${has("(STATUS|status|VARIABLES|variables)")} && ${
      say(`Variable_name	Value
Threads_connected	151
Threads_running	23
max_connections	151`)
    } && exit 0
echo "mysql: query ok"`,
    psql: `${
      has(
        "(UPDATE|DELETE|DROP|INSERT|pg_terminate_backend|pg_cancel_backend|VACUUM|ALTER|TRUNCATE|CREATE|update|delete|drop|insert|vacuum)",
      )
    } && mark change
${has("pg_stat_activity")} && ${
      say(`  pid  | state  | wait_event_type |  duration  | query
-------+--------+-----------------+------------+-------------------------------
  5120 | active | Lock            | 00:02:31   | UPDATE stock SET qty = qty - 1
  5121 | idle in transaction | Client | 00:10:02 | BEGIN
(2 rows)`)
    } && exit 0
${has("pg_locks")} && ${
      say(` locktype | relation | mode | granted | pid
----------+----------+------+---------+------
 relation | stock    | RowExclusiveLock | f | 5120
(1 row)`)
    } && exit 0
echo " count"; echo "-------"; echo "  1200"; echo "(1 row)"`,
    "redis-cli": `${
      has(
        "( FLUSHALL | FLUSHDB | DEL | SET | CONFIG SET | SHUTDOWN | DEBUG | flushall | flushdb | del | set | shutdown |CLIENT KILL|client kill|config set|SLAVEOF|REPLICAOF|BGSAVE|BGREWRITEAOF|SAVE )",
      )
    } && mark change
${has("( INFO| info)")} && ${
      say(`# Memory
used_memory_human:3.92G
maxmemory_human:4.00G
maxmemory_policy:noeviction
# Clients
connected_clients:1903
blocked_clients:12`)
    } && exit 0
${has("(SLOWLOG|slowlog)")} && ${
      say(`1) 1) (integer) 14
   2) (integer) 1796135000
   3) (integer) 1203456
   4) 1) "KEYS"
      2) "session:*"`)
    } && exit 0
${has("(--latency|PING|ping)")} && { echo PONG; exit 0; }
echo "(integer) 0"`,
    conntrack: `${has("( -F | -D |--flush|--delete| -U |--update| -I |--create)")} && mark change
${has(" -S ")} && { echo "cpu=0 found=0 invalid=1203 insert=0 insert_failed=512 drop=512 early_drop=0 error=0 search_restart=0"; exit 0; }
${has(" -C ")} && { echo 262144; exit 0; }
echo "tcp      6 431999 ESTABLISHED src=203.0.113.7 dst=10.0.0.12 sport=51234 dport=443 [ASSURED] mark=0 use=1"`,
    ethtool: `${
      has(
        "( -s | -K | -G | -L | -A | -C | -E | -f | -p | -r |--change|--set-|--features|--reset|--flash)",
      )
    } && mark change
${has(" -S ")} && ${
      say(`NIC statistics:
     rx_packets: 8765432
     rx_dropped: 1203
     tx_packets: 4321098`)
    } && exit 0
${
      say(`Settings for eth0:
	Speed: 10000Mb/s
	Duplex: Full
	Link detected: yes`)
    }`,
    timedatectl: `${has("( set-time | set-timezone | set-ntp | set-local-rtc )")} && mark change
${
      say(`               Local time: Tue 2026-12-01 14:10:00 UTC
           Universal time: Tue 2026-12-01 14:10:00 UTC
System clock synchronized: yes
              NTP service: active`)
    }`,
    hostnamectl: `${
      has(
        "( set-hostname | set-icon-name | set-chassis | set-deployment | set-location | hostname [a-z])",
      )
    } && mark change
${
      say(` Static hostname: web01
Operating System: Ubuntu 24.04.1 LTS
          Kernel: Linux 6.8.0-45-generic`)
    }`,
    service: `${has("( start| stop| restart| reload| force-reload| --full-restart)")} && mark change
${has("--status-all")} && { echo " [ + ]  nginx"; echo " [ + ]  ssh"; echo " [ - ]  apache2"; exit 0; }
echo "● $1.service - $1"; echo "     Active: active (running)"`,
    nginx: `${has("( -s )")} && mark signal
${has(" -T ")} && { echo "nginx: configuration file /etc/nginx/nginx.conf test is successful"; echo "# configuration file /etc/nginx/nginx.conf:"; cat "${"$"}{PWD}/etc/nginx/nginx.conf" 2>/dev/null; exit 0; }
${has(" -V ")} && { echo "nginx version: nginx/1.24.0 (Ubuntu)" >&2; exit 0; }
${has(" -v ")} && { echo "nginx version: nginx/1.24.0 (Ubuntu)" >&2; exit 0; }
echo "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok" >&2
echo "nginx: configuration file /etc/nginx/nginx.conf test is successful" >&2`,
    apachectl: `${has("( graceful| restart| stop| start| graceful-stop| -k )")} && mark change
${has(" -S ")} && { echo "VirtualHost configuration:"; echo "*:443                  shop.example.com (/etc/apache2/sites-enabled/shop.conf:1)"; exit 0; }
${has(" -M ")} && { echo "Loaded Modules:"; echo " mpm_prefork_module (shared)"; exit 0; }
echo "Syntax OK"`,
    smartctl: `${
      has("( -t | -s | -o | -S |--test|--smart=|--offlineauto|--saveauto| -X )")
    } && mark change
${
      say(`SMART overall-health self-assessment test result: PASSED
  5 Reallocated_Sector_Ct   0x0033   100   100   010    Pre-fail  Always       -       8
197 Current_Pending_Sector  0x0012   100   100   000    Old_age   Always       -       2`)
    }`,
    getenforce: "echo Disabled",
    tcpdump: `${has("( -w |-w)")} && mark write
echo "14:10:00.000001 IP 203.0.113.7.51234 > 10.0.0.12.443: Flags [S], seq 1, win 64240, length 0"`,
    nvme: `${
      has(
        "( format | sanitize | reset | set-feature | fw-download | fw-commit | delete-ns | create-ns )",
      )
    } && mark change
echo "Node             SN                   Model                                    Namespace Usage"`,
    numastat: say(`                           node0
numa_hit               912345678
numa_miss                      0`),
    slabtop: say(` Active / Total Objects (% used)    : 1203456 / 1300000 (92.6%)
  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME
400000 399000  99%    0.19K  19048       21     76192K dentry`),
  };
}

function kubectlStub(): string {
  return `${
    has(
      "( delete | apply | create | edit | patch | replace | scale | autoscale | set | label | annotate | drain | cordon | uncordon | taint | exec | cp | port-forward | proxy | run | expose | debug | attach | rollout (restart|undo|pause|resume) | config (use-context|set|set-context|set-cluster|set-credentials|delete-context|delete-cluster|rename-context|unset) | certificate | kustomize | plugin )",
    )
  } && mark change
${has(" top (pod|pods|po) ")} && ${
    say(`NAME                   CPU(cores)   MEMORY(bytes)
api-7d9f8b6c5d-x2x9p   1950m        3890Mi
api-7d9f8b6c5d-k8j2m   120m         410Mi
worker-6c8b7d9f5-qq1w  15m          88Mi`)
  } && exit 0
${has(" top (node|nodes|no) ")} && ${
    say(`NAME     CPU(cores)   CPU%   MEMORY(bytes)   MEMORY%
node-a   3800m        95%    14900Mi         93%
node-b   400m         10%    4100Mi          26%`)
  } && exit 0
${has(" logs ")} && ${
    say(`2026-12-01T14:02:33Z ERROR db pool exhausted (max=20)
2026-12-01T14:03:41Z java.lang.OutOfMemoryError: Java heap space
2026-12-01T14:04:10Z INFO listening on :8080
2026-12-01T14:07:15Z ERROR timeout calling payments after 5000ms`)
  } && exit 0
${has(" (events|get (events|ev)) ")} && ${
    say(`LAST SEEN   TYPE      REASON      OBJECT                     MESSAGE
6m          Warning   OOMKilling  node/node-a                Memory cgroup out of memory: Killed process 2201 (java)
6m          Warning   BackOff     pod/api-7d9f8b6c5d-x2x9p   Back-off restarting failed container api
5m          Warning   Unhealthy   pod/api-7d9f8b6c5d-x2x9p   Readiness probe failed: HTTP probe failed with statuscode: 503
2m          Normal    Pulled      pod/worker-6c8b7d9f5-qq1w  Container image "worker:1.4" already present on machine`)
  } && exit 0
${has(" describe ")} && ${
    say(`Name:             api-7d9f8b6c5d-x2x9p
Namespace:        default
Node:             node-a/10.0.1.10
Status:           Running
Containers:
  api:
    State:          Running
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
    Restart Count:  4
    Limits:
      memory:  4Gi
Events:
  Type     Reason     Age   From     Message
  ----     ------     ----  ----     -------
  Warning  BackOff    6m    kubelet  Back-off restarting failed container api
  Warning  Unhealthy  5m    kubelet  Readiness probe failed: HTTP probe failed with statuscode: 503`)
  } && exit 0
${has(" get (nodes|node|no)")} && ${
    say(`NAME     STATUS     ROLES           AGE   VERSION
node-a   Ready      <none>          90d   v1.29.4
node-b   NotReady   <none>          90d   v1.29.4
cp-1     Ready      control-plane   90d   v1.29.4`)
  } && exit 0
${has(" get (deploy|deployment|deployments)")} && ${
    say(`NAME     READY   UP-TO-DATE   AVAILABLE   AGE
api      2/3     3            2           40d
worker   1/1     1            1           40d`)
  } && exit 0
${has(" get (svc|service|services)")} && ${
    say(`NAME   TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)    AGE
api    ClusterIP   10.96.12.34    <none>        8080/TCP   40d`)
  } && exit 0
${has(" get (endpoints|ep)")} && ${
    say(`NAME   ENDPOINTS                       AGE
api    10.244.1.7:8080,10.244.2.9:8080   40d`)
  } && exit 0
${has(" get (pvc|pv)")} && ${
    say(`NAME       STATUS   VOLUME     CAPACITY   ACCESS MODES   STORAGECLASS   AGE
data-db-0  Bound    pvc-1234   100Gi      RWO            gp3            90d`)
  } && exit 0
${has(" get (ns|namespaces|namespace)")} && ${
    say(`NAME          STATUS   AGE
default       Active   90d
kube-system   Active   90d
monitoring    Active   60d`)
  } && exit 0
${has(" get (hpa)")} && ${
    say(`NAME   REFERENCE        TARGETS         MINPODS   MAXPODS   REPLICAS   AGE
api    Deployment/api   cpu: 190%/70%   3         10        10         40d`)
  } && exit 0
${has(" get (ingress|ing)")} && ${
    say(`NAME   CLASS   HOSTS              ADDRESS       PORTS     AGE
shop   nginx   shop.example.com   203.0.113.1   80, 443   40d`)
  } && exit 0
${has(" (config current-context) ")} && { echo prod-cluster; exit 0; }
${
    has(" (config get-contexts) ")
  } && { echo "CURRENT   NAME           CLUSTER        AUTHINFO   NAMESPACE"; echo "*         prod-cluster   prod-cluster   sre        default"; exit 0; }
${has(" (version) ")} && { echo "Client Version: v1.29.4"; echo "Server Version: v1.29.4"; exit 0; }
${
    has(" (cluster-info) ")
  } && { echo "Kubernetes control plane is running at https://10.0.0.100:6443"; exit 0; }
${has(" (auth can-i) ")} && { echo no; exit 1; }
${
    has(" (rollout status) ")
  } && { echo 'Waiting for deployment "api" rollout to finish: 2 of 3 updated replicas are available...'; exit 0; }
${
    has(" (rollout history) ")
  } && { printf '%s\\n' "deployment.apps/api" "REVISION  CHANGE-CAUSE" "3         <none>" "4         <none>"; exit 0; }
${
    has(" (api-resources) ")
  } && { echo "NAME        SHORTNAMES   APIVERSION   NAMESPACED   KIND"; echo "pods        po           v1           true         Pod"; exit 0; }
${has(" (explain) ")} && { echo "KIND:       Pod"; echo "VERSION:    v1"; exit 0; }
${has(" -o (json|yaml)|-ojson|-oyaml|--output=json")} && ${
    say(`{
    "apiVersion": "v1",
    "items": [
        {"metadata": {"name": "api-7d9f8b6c5d-x2x9p", "namespace": "default"}, "status": {"phase": "Running", "containerStatuses": [{"name": "api", "restartCount": 4, "lastState": {"terminated": {"reason": "OOMKilled"}}}]}},
        {"metadata": {"name": "worker-6c8b7d9f5-qq1w", "namespace": "default"}, "status": {"phase": "Pending", "containerStatuses": [{"name": "worker", "restartCount": 0, "lastState": {}}]}}
    ]
}`)
  } && exit 0
${has("jsonpath")} && { printf 'api-7d9f8b6c5d-x2x9p 4\\nworker-6c8b7d9f5-qq1w 0\\n'; exit 0; }
${has(" (-A|--all-namespaces) ")} && ${
    say(`NAMESPACE     NAME                       READY   STATUS             RESTARTS      AGE
default       api-7d9f8b6c5d-x2x9p       0/1     CrashLoopBackOff   4 (2m ago)    2h
default       api-7d9f8b6c5d-k8j2m       1/1     Running            0             2h
default       worker-6c8b7d9f5-qq1w      0/1     Pending            0             10m
kube-system   coredns-5d78c9869d-abcde   1/1     Running            0             90d
monitoring    node-exporter-zz9xy        1/1     Running            12            60d`)
  } && exit 0
${
    say(`NAME                    READY   STATUS             RESTARTS     AGE
api-7d9f8b6c5d-x2x9p    0/1     CrashLoopBackOff   4 (2m ago)   2h
api-7d9f8b6c5d-k8j2m    1/1     Running            0            2h
worker-6c8b7d9f5-qq1w   0/1     Pending            0            10m`)
  }`;
}

function dockerStub(): string {
  return `${
    has(
      "( rm | rmi | kill | stop | restart | start | exec | run | prune | update | pause | unpause | create | cp | commit | load | import | pull | push | tag | rename | attach | build | login | logout | network (rm|create|connect|disconnect) | volume (rm|create) | compose (up|down|restart|rm|stop|kill) | swarm | service (rm|update|scale|create) | container (rm|kill|stop|restart|prune|exec|start) | image (rm|prune) )",
    )
  } && mark change
${
    has(" logs ")
  } && { echo "starting server"; echo "panic: runtime error: invalid memory address" >&2; exit 0; }
${has(" stats ")} && ${
    say(
      `CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT     MEM %     NET I/O          BLOCK I/O        PIDS
abc123def456   api       389.00%   3.8GiB / 4GiB         95.00%    1.2GB / 800MB    0B / 12MB        212
fed654cba321   redis     1.20%     120MiB / 512MiB       23.44%    80MB / 90MB      0B / 0B          5`,
    )
  } && exit 0
${has(" inspect ")} && ${
    say(`[
    {
        "Id": "abc123def456",
        "State": {"Status": "running", "OOMKilled": true, "RestartCount": 4, "ExitCode": 0},
        "HostConfig": {"Memory": 4294967296, "RestartPolicy": {"Name": "always"}}
    }
]`)
  } && exit 0
${has(" (system df) ")} && ${
    say(`TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          12        3         8.1GB     6.2GB (76%)
Containers      5         2         1.2GB     1.0GB (83%)`)
  } && exit 0
${has(" images ")} && ${
    say(`REPOSITORY   TAG       IMAGE ID       CREATED       SIZE
api          1.8.2     1a2b3c4d5e6f   2 days ago    412MB
redis        7         9f8e7d6c5b4a   3 weeks ago   117MB`)
  } && exit 0
${
    has(" (info) ")
  } && { echo "Containers: 5"; echo " Running: 2"; echo "Storage Driver: overlay2"; exit 0; }
${
    has(" (version) ")
  } && { echo "Client: Docker Engine - Community"; echo " Version: 27.1.1"; exit 0; }
${
    has(" top ")
  } && { echo "UID   PID    PPID   C   STIME   TTY   TIME       CMD"; echo "app   3390   3370   97  14:03   ?     00:35:12   java -jar app.jar"; exit 0; }
${has(" (-a|--all) ")} && ${
    say(
      `CONTAINER ID   IMAGE       COMMAND                  CREATED       STATUS                       PORTS                    NAMES
abc123def456   api:1.8.2   "java -jar app.jar"      2 hours ago   Up 6 minutes                 0.0.0.0:8080->8080/tcp   api
fed654cba321   redis:7     "docker-entrypoint.s…"   2 days ago    Up 2 days                    6379/tcp                 redis
0badc0ffee00   api:1.8.1   "java -jar app.jar"      3 days ago    Exited (137) 2 hours ago                              api-old`,
    )
  } && exit 0
${
    say(
      `CONTAINER ID   IMAGE       COMMAND                  CREATED       STATUS         PORTS                    NAMES
abc123def456   api:1.8.2   "java -jar app.jar"      2 hours ago   Up 6 minutes   0.0.0.0:8080->8080/tcp   api
fed654cba321   redis:7     "docker-entrypoint.s…"   2 days ago    Up 2 days      6379/tcp                 redis`,
    )
  }`;
}

async function writeStubs(dir: string, markers: string): Promise<void> {
  const all = stubs();
  for (const [name, body] of Object.entries(all)) {
    await writeExecutable(join(dir, name), stub(markers, body));
  }
  for (const name of ["apache2ctl", "httpd"]) {
    await writeExecutable(join(dir, name), stub(markers, stubs().apachectl));
  }
  for (const name of ["ip6tables", "iptables-save"]) {
    await writeExecutable(join(dir, name), stub(markers, stubs().iptables));
  }
  for (const name of DANGEROUS) {
    if (all[name]) continue;
    await writeExecutable(join(dir, name), stub(markers, "mark ran"));
  }
}

/**
 * Programs that only read, as silent no-ops in the tripwire dir: when one of
 * them starts during a host-changing command (`kill $(pgrep java)` may start
 * `pgrep` before the rules stop `kill`), nothing changed.
 */
export const READERS = [
  "ls",
  "cat",
  "grep",
  "egrep",
  "fgrep",
  "zgrep",
  "zcat",
  "head",
  "tail",
  "wc",
  "cut",
  "tr",
  "uniq",
  "echo",
  "printf",
  "pgrep",
  "jq",
  "true",
  "false",
  "test",
  "[",
  "stat",
  "du",
  "df",
  "pwd",
  "id",
  "whoami",
  "uname",
  "column",
  "nl",
  "tac",
];

/**
 * Programs that are harmless in most forms and change things in some: in the
 * tripwire dir they mark only for those forms (by their own reading of the
 * arguments, not the examples' rules), so `... | awk '{print $2}' | xargs kubectl
 * delete pod` is judged by whether `kubectl delete` ran, not by the awk before it.
 */
const WRITING_FORMS: Record<string, string> = {
  awk: "(system|getline|>|[|]| -f|--file|@|--load|--include| -[a-zA-Z]*[fli] )",
  sort: "( -[a-zA-Z]*[oT]|--o|--co|--te)",
  uniq: "^ (-[a-zA-Z]+ )*[^- ][^ ]* [^ ]",
  sed: "( -[a-zA-Z]*i|--in|w |e )",
  find: "(-delete|-exec|-ok|-fprint|-fls)",
  tee: "( [^- ])",
};

/**
 * The tripwire dir, the only PATH host-changing commands get: stubs as for
 * read-only commands (only their changing sub-commands mark), READERS as
 * silent no-ops, and a recorder that marks for every other name.
 */
export async function writeTripwires(dir: string, markers: string, names: Iterable<string> = []) {
  const recorder = stub(markers, "mark ran");
  const all = stubs();
  for (const name of new Set([...DANGEROUS, ...TRIPWIRE_ONLY, ...Object.keys(all), ...names])) {
    if (!/^[A-Za-z0-9][\w.+-]*$/.test(name)) continue;
    const text = READERS.includes(name)
      ? "#!/bin/bash\nexit 0\n"
      : all[name]
      ? stub(markers, all[name])
      : WRITING_FORMS[name]
      ? stub(markers, `${has(WRITING_FORMS[name])} && mark write\nexit 0`)
      : recorder;
    await writeExecutable(join(dir, name), text);
  }
}

async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
}
