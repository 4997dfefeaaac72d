/**
 * `flashduty-runner check --lint`: allow rules that admit a known escape
 * hatch, i.e. a program that can itself start other programs or write
 * anywhere. The restricted executor runs exactly the checked words, but if
 * those words are `find . -exec sh -c ...`, the rules allowed a shell.
 *
 * Each hatch is probed, not pattern-matched: the hatch's arguments are put
 * into the allow rule's `*`, and the whole rule set decides the result (so a
 * later deny rule that covers the hatch silences the warning).
 */
import { basename } from "node:path";
import type { Rule, RunnerConfig } from "../config.ts";
import { compileGlob } from "./glob_match.ts";
import { type CommandPolicy, compileCommandPolicy } from "./command_policy.ts";

export interface LintWarning {
  /** the pattern of the rule that admits it */
  rule: string;
  program: string;
  why: string;
  /** deny rules to add after it (YAML lines) */
  suggest: string;
}

export interface LintResult {
  warnings: LintWarning[];
  text: string;
}

interface Hatch {
  programs: string[];
  /** argument strings (space-separated words) that use the hatch */
  payloads: string[];
  /** whether these words really use the hatch (default: any arguments at all) */
  uses?: (args: string[]) => boolean;
  why: string;
  /** deny patterns, with `P` standing for the program word */
  deny: string[];
}

/** The first argument that is not an option: a subcommand. */
const sub = (args: string[]) => args.find((a) => !a.startsWith("-"));
const anyArg = (re: RegExp) => (args: string[]) => args.some((a) => re.test(a));
/** A wrapper runs its first non-option argument (after its own option values, roughly). */
const runsSomething = (args: string[]) => args.some((a) => !a.startsWith("-"));
const always = () => true;

const WRAPPERS = [
  "env",
  "nice",
  "nohup",
  "timeout",
  "stdbuf",
  "setsid",
  "ionice",
  "taskset",
  "chrt",
  "chroot",
  "flock",
  "strace",
  "ltrace",
  "time",
  "watch",
  "xargs",
  "parallel",
  "sudo",
  "doas",
  "su",
  "runuser",
  "pkexec",
  "sg",
  "setpriv",
  "runcon",
  "capsh",
  "unshare",
  "nsenter",
  "systemd-run",
  "unbuffer",
  "firejail",
];

export const HATCHES: Hatch[] = [
  {
    programs: ["awk", "gawk", "mawk", "nawk", "busybox"],
    payloads: ['BEGIN{system("id")}'],
    uses: anyArg(/system|getline|[|>]|^-[a-zA-Z]*f|^--(file|exec|load)/),
    why: "awk's system(), `| getline` and `print >` run commands and write files",
    deny: ["P *"],
  },
  {
    programs: ["find"],
    payloads: [
      ". -exec sh -c id ;",
      ". -execdir sh ;",
      ". -ok sh ;",
      ". -okdir sh ;",
      ". -delete",
      ". -fprint /etc/x",
      ". -fprintf /etc/x %p",
      ". -fls /etc/x",
    ],
    uses: anyArg(/^-(exec|execdir|ok|okdir|delete|fprint0?|fprintf|fls)$/),
    why: "find -exec/-execdir/-ok run programs, -delete removes files, -fprint/-fls write files",
    deny: ["P *-exec*", "P *-ok*", "P *-delete*", "P *-fprint*", "P *-fls*"],
  },
  {
    programs: WRAPPERS,
    payloads: ["sh -c id", "5 sh -c id"],
    uses: (args) => runsSomething(args) || args.includes("-c"),
    why: "it runs another program, which the rules never see",
    deny: ["P *"],
  },
  {
    programs: ["sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "ash", "busybox"],
    payloads: ["-c id"],
    uses: (args) => args.some((a) => !a.startsWith("-") || /^-[a-zA-Z]*c/.test(a)),
    why: "a shell runs any command (-c or a script file)",
    deny: ["P *"],
  },
  {
    programs: ["less", "more", "most", "pg", "man", "info", "pinfo"],
    payloads: ["x"],
    uses: always,
    why: "pagers run commands (!cmd, LESSOPEN, man -P/-H) and can write files",
    deny: ["P *"],
  },
  {
    programs: [
      "vi",
      "vim",
      "nvim",
      "view",
      "vimdiff",
      "rvim",
      "ex",
      "ed",
      "nano",
      "emacs",
      "mg",
      "joe",
    ],
    payloads: ["x"],
    uses: always,
    why: "editors run commands (:!cmd) and write any file",
    deny: ["P *"],
  },
  {
    programs: ["tar", "bsdtar", "gtar"],
    payloads: [
      "-cf x --to-command=sh",
      "-cf x --checkpoint-action=exec=sh",
      "-I sh -cf x",
      "-xf x -C /",
    ],
    uses: anyArg(
      /^--(to-command|checkpoint-action|use-compress-program|info-script|new-volume-script|rsh-command)|^-[a-zA-Z]*[IFx]|^--extract|^-C$/,
    ),
    why: "tar --to-command/--checkpoint-action/-I run programs, and extracting writes anywhere",
    deny: [
      "P *--to-command*",
      "P *--checkpoint*",
      "P *--use-compress*",
      "P *--info-script*",
      "P *--new-volume*",
      "P *--rsh-command*",
      "P *-I*",
      "P *-F*",
      "P *x*",
    ],
  },
  {
    programs: ["git"],
    payloads: ["-c core.pager=sh log", "status"],
    uses: always,
    why: "git -c core.pager/core.sshCommand/alias.x=!cmd runs programs, and git reads the " +
      "repository's own .git/config (core.fsmonitor, diff.external, hooks): a repository in the " +
      "workspace, which the AI can write, runs what it likes",
    deny: ["P *"],
  },
  {
    programs: ["kubectl", "oc"],
    payloads: [
      "exec pod -- sh",
      "cp /etc/x pod:/x",
      "debug node/x",
      "get pods --kubeconfig=./k.yaml",
      "get pods --cache-dir=/etc/x",
      "get pods --profile=cpu --profile-output=/etc/x",
    ],
    uses: (args) =>
      ["exec", "attach", "cp", "debug", "run", "edit"].includes(sub(args) ?? "") ||
      args.some((a) => /^--(kubeconfig|cache-dir|log-file|log-dir|profile-output|exec-)/.test(a)),
    why:
      "kubectl exec/attach/debug/run start programs, cp and --cache-dir/--log-file write files, " +
      "edit runs $EDITOR, and a --kubeconfig from the workspace can name an exec credential plugin",
    deny: [
      "P exec *",
      "P attach *",
      "P cp *",
      "P debug *",
      "P run *",
      "P edit *",
      "P *--kubeconfig*",
      "P *--cache-dir*",
      "P *--log-*",
      "P *--profile*",
    ],
  },
  {
    programs: ["docker", "podman", "nerdctl", "crictl", "ctr"],
    payloads: ["run --rm -v /:/h busybox sh", "exec c sh", "-H tcp://x ps"],
    uses: (args) =>
      [
        "run",
        "exec",
        "create",
        "start",
        "cp",
        "build",
        "compose",
        "commit",
        "load",
        "import",
        "plugin",
      ]
        .includes(sub(args) ?? "") || args.some((a) => /^(-H|--host|--config)/.test(a)),
    why: "docker run/exec start containers that can mount the host; cp and build write files",
    deny: ["P run *", "P exec *", "P create *", "P cp *", "P build *", "P *-H*", "P *--host*"],
  },
  {
    programs: [
      "python",
      "python2",
      "python3",
      "perl",
      "ruby",
      "node",
      "nodejs",
      "deno",
      "bun",
      "php",
      "lua",
      "luajit",
      "Rscript",
      "tclsh",
      "wish",
      "expect",
      "java",
      "jshell",
      "osascript",
      "pwsh",
    ],
    payloads: ["-c id", "-e id"],
    uses: (args) => args.some((a) => !/^--?(version|V|v|help|h)$/.test(a)),
    why: "an interpreter runs any code (python -c, perl -e, a script file)",
    deny: ["P *"],
  },
  {
    programs: ["pidstat"],
    payloads: ["-e sh -c id"],
    uses: anyArg(/^-[a-zA-Z]*e$/),
    why: "pidstat -e starts the program it monitors",
    deny: ["P *-e*"],
  },
  {
    programs: [
      "make",
      "cmake",
      "ninja",
      "npm",
      "npx",
      "yarn",
      "pnpm",
      "pip",
      "pip3",
      "go",
      "cargo",
    ],
    payloads: ["x"],
    uses: always,
    why:
      "build tools run the project's own code (Makefile, package scripts), which the AI can write",
    deny: ["P *"],
  },
  {
    programs: ["curl"],
    payloads: ["-o /etc/x http://x", "-K /etc/x http://x"],
    uses: anyArg(
      /^-[a-zA-Z]*[oODcK]|^--(output|remote-name|dump-header|cookie-jar|trace|config|stderr|libcurl|etag-save|hsts|alt-svc|create-dirs)/,
    ),
    why: "curl -o/-O/-D/-c/--trace write files anywhere (outside the workspace), -K reads a config",
    deny: [
      "P *-o*",
      "P *-O*",
      "P *-D*",
      "P *-c*",
      "P *-K*",
      "P *--output*",
      "P *--remote-name*",
      "P *--dump-header*",
      "P *--cookie-jar*",
      "P *--trace*",
      "P *--config*",
    ],
  },
  {
    programs: ["wget"],
    payloads: ["-O /etc/x http://x", "-e x http://x"],
    uses: anyArg(
      /^-[a-zA-Z]*[OoaPeiq]|^--(output|append-output|directory-prefix|execute|input-file|post-file)/,
    ),
    why: "wget -O/-o/-P write files anywhere, -e runs wgetrc commands",
    deny: [
      "P *-O*",
      "P *-o*",
      "P *-a*",
      "P *-P*",
      "P *-e*",
      "P *--output*",
      "P *--directory-prefix*",
      "P *--execute*",
    ],
  },
  {
    programs: ["sed", "gsed"],
    payloads: ["1eid x", "-i s/a/b/ /etc/x"],
    uses: always,
    why: "GNU sed's `e` command runs programs, `w` and -i write files",
    deny: ["P *"],
  },
  {
    programs: ["sort"],
    payloads: ["-o /etc/x x", "--compress-program=sh x"],
    uses: anyArg(/^-[a-zA-Z]*o|^--(output|compress-program)/),
    why: "sort -o writes any file and --compress-program runs one",
    deny: ["P *-o*", "P *--output*", "P *--compress*"],
  },
  {
    programs: ["uniq", "xxd", "iconv", "shuf"],
    payloads: ["x /etc/x", "-o /etc/x x"],
    uses: (args) =>
      args.filter((a) => !a.startsWith("-")).length >= 2 || anyArg(/^-o|^--output/)(args),
    why: "it writes its output to a file named on the command line",
    deny: ["P *"],
  },
  {
    programs: [
      "tee",
      "cp",
      "mv",
      "rm",
      "dd",
      "install",
      "ln",
      "rsync",
      "scp",
      "sftp",
      "ftp",
      "chmod",
      "chown",
      "chgrp",
      "truncate",
      "shred",
      "touch",
      "mkdir",
      "rmdir",
      "split",
      "csplit",
      "patch",
      "unzip",
      "zip",
      "gzip",
      "gunzip",
      "crontab",
      "at",
      "batch",
    ],
    payloads: ["/etc/x", "x /etc/x"],
    uses: (args) => args.length > 0,
    why:
      "it writes, removes or schedules things anywhere the runner's user can (not confined to the workspace)",
    deny: ["P *"],
  },
  {
    programs: [
      "ssh",
      "screen",
      "tmux",
      "socat",
      "gdb",
      "lldb",
      "sqlite3",
      "psql",
      "mysql",
      "mariadb",
      "mail",
      "mailx",
      "nmap",
      "tcpdump",
      "openssl",
      "helm",
    ],
    payloads: [
      "-o ProxyCommand=sh x",
      "-e sh x",
      "-c \\!id",
      "x .shell id",
      "--script x",
      "-z sh",
      "-engine x.so",
      "--post-renderer sh",
    ],
    uses: (args) => args.length > 0,
    why:
      "it can run local commands (ProxyCommand, \\!, .shell, -z, --script, --post-renderer) or load code",
    deny: ["P *"],
  },
  {
    programs: ["nc", "ncat", "netcat"],
    payloads: ["-e sh x 1", "-c sh x 1"],
    uses: anyArg(/^-[a-zA-Z]*[ec]|^--(exec|sh-exec|lua-exec)/),
    why: "nc -e/-c runs a program connected to the network",
    deny: ["P *-e*", "P *-c*", "P *--exec*", "P *--sh-exec*", "P *--lua-exec*"],
  },
  {
    programs: ["systemctl"],
    payloads: ["start x", "edit x"],
    uses: (args) =>
      [
        "start",
        "stop",
        "restart",
        "reload",
        "try-restart",
        "reload-or-restart",
        "enable",
        "disable",
        "mask",
        "unmask",
        "kill",
        "edit",
        "set-property",
        "isolate",
        "link",
        "revert",
        "set-environment",
        "import-environment",
        "poweroff",
        "reboot",
        "halt",
        "daemon-reload",
      ].includes(sub(args) ?? ""),
    why: "systemctl start/restart/enable run units' programs, edit runs $EDITOR",
    deny: ["P *"],
  },
  {
    programs: ["journalctl"],
    payloads: ["--vacuum-size=1", "--rotate", "--cursor-file=/etc/x"],
    uses: anyArg(
      /^--(vacuum|rotate|flush|sync|relinquish|smart-relinquish|setup-keys|update-catalog|cursor-file)/,
    ),
    why:
      "journalctl --vacuum-*/--rotate/--flush change or delete the journal, --cursor-file writes a file",
    deny: [
      "P *--vacuum*",
      "P *--rotate*",
      "P *--flush*",
      "P *--sync*",
      "P *--relinquish*",
      "P *--setup-keys*",
      "P *--cursor-file*",
    ],
  },
  {
    programs: ["dmesg"],
    payloads: ["-c", "-C", "--clear"],
    uses: anyArg(/^-[a-zA-Z]*[cCDEn]|^--(clear|read-clear|console)/),
    why: "dmesg -c/-C clear the kernel log and -D/-E/-n change console logging",
    deny: [
      "P *-c*",
      "P *-C*",
      "P *-D*",
      "P *-E*",
      "P *-n*",
      "P *--clear*",
      "P *--read-clear*",
      "P *--console*",
    ],
  },
  {
    programs: ["ip"],
    payloads: ["netns exec x sh", "-batch x"],
    uses: (args) => {
      for (const a of args) {
        if (/^--?b(a(t(ch?)?)?)?$/.test(a)) return true; // -batch, not -br(ief)
        if (!a.startsWith("-")) return /^netn/.test(a) && args.includes("exec");
      }
      return false;
    },
    why: "ip netns exec runs a program and -batch runs a file of ip commands",
    deny: ["P *netns*", "P -b*"],
  },
];

/** What `check --lint` knows of the kernel layer on this host (lib/sandbox/landlock.ts probes it). */
export type KernelLayer = { available: true; abi: number } | { available: false; reason: string };

/** A deny pattern over an option: GNU abbreviations and combined short options defeat it. */
const OPTION_DENY = /(^|\s)\*?-/;

/**
 * With `kernel` (the CLI passes what it probed), deny rules over options are
 * no longer suggested (`--comp=sh` passes `*--compress-program*`, `-uo`
 * passes `*-o*`), and the text ends with `kernel layer:` lines saying which
 * hatches remain and whether the kernel layer covers them here.
 */
export function lintConfig(config: RunnerConfig, opts: { kernel?: KernelLayer } = {}): LintResult {
  const rules = config.permission.bash;
  // Every probe goes through the same compiled decision the runner uses.
  const policy = compileCommandPolicy(rules);
  const warnings: LintWarning[] = [];
  if (policy.trusted) {
    warnings.push({
      rule: "*",
      program: "*",
      why: 'the catch-all "*" is allow (trusted mode): bash runs every command and deny rules ' +
        "only guard against mistakes; they are not a security boundary",
      suggest: '"*": deny as the first rule, then allow what is needed',
    });
  }
  for (const [index, rule] of rules.entries()) {
    if (rule.action === "deny") {
      const shadow = shadowedBy(policy, index);
      if (shadow) {
        warnings.push({
          rule: rule.pattern,
          program: firstWord(rule.pattern),
          why:
            `this deny rule is overridden by the later rule ${JSON.stringify(shadow.pattern)}: ` +
            "allow (the last matching rule wins)",
          suggest: `move ${JSON.stringify(rule.pattern)}: deny after ${
            JSON.stringify(shadow.pattern)
          }`,
        });
      }
      continue;
    }
    if (rule.pattern === "*") continue;
    for (const { program, hatch } of hatchesFor(rule.pattern)) {
      const probe = admittedProbe(policy, rule, program, hatch);
      if (!probe) continue;
      // Deny rules over options are not suggested once the kernel layer is known: they do not hold.
      const denies = opts.kernel === undefined
        ? hatch.deny
        : hatch.deny.filter((d) => !OPTION_DENY.test(d));
      const dropped = denies.length < hatch.deny.length;
      const listed = denies.map((d) =>
        `${JSON.stringify(d.replace(/^P/, programWord(rule.pattern, program)))}: deny`
      ).join(", ");
      warnings.push({
        rule: rule.pattern,
        program,
        why: `admits ${JSON.stringify(probe)}: ${hatch.why}`,
        suggest: !dropped ? listed : (listed ? `${listed}; ` : "") +
          "no deny rule over its options holds (an abbreviation such as --comp= or combined " +
          "options such as -uo pass them): narrow or remove the allow rule; see kernel layer",
      });
    }
  }
  const text = render(warnings);
  return { warnings, text: opts.kernel ? text + kernelLines(warnings, opts.kernel) : text };
}

function kernelLines(warnings: LintWarning[], kernel: KernelLayer): string {
  const hatches = [...new Set(warnings.filter((w) => w.program !== "*").map((w) => w.program))];
  if (hatches.length === 0 && !warnings.some((w) => w.rule === "*")) return "";
  const which = hatches.length > 0 ? hatches.join(", ") : "every program (trusted mode)";
  return (kernel.available
    ? `kernel layer: on here (Landlock ABI ${kernel.abi}): what ${which} can do through the ` +
      "hatches above is confined: writes outside the workspace and write_paths fail, and so does " +
      "starting a program the rules do not name (the dynamic loader excepted). Not covered: " +
      "what a program does through its own system calls (ss -K, ip link set, kill)\n"
    : `kernel layer: unavailable here (${kernel.reason}): the hatches of ${which} stay open; ` +
      "deny rules over options do not close them\n");
}

function render(warnings: LintWarning[]): string {
  if (warnings.length === 0) return "lint: no warnings\n";
  const lines = warnings.map((w) =>
    `warning: rule ${JSON.stringify(w.rule)} (${w.program}) ${w.why}\n  suggest: ${w.suggest}`
  );
  lines.push(`lint: ${warnings.length} warning${warnings.length === 1 ? "" : "s"}`);
  return lines.join("\n") + "\n";
}

function firstWord(pattern: string): string {
  return pattern.split(" ")[0];
}

/** The program word as the rule spells it (a path stays a path in the suggestion). */
function programWord(pattern: string, program: string): string {
  const w = firstWord(pattern);
  return w.includes("*") ? program : w;
}

/** The hatches a rule's program word can name: by base name, or every one its glob matches. */
function hatchesFor(pattern: string): { program: string; hatch: Hatch }[] {
  const word = firstWord(pattern);
  const out: { program: string; hatch: Hatch }[] = [];
  const glob = word.includes("*") ? compileGlob(word, { starOnly: true }) : undefined;
  for (const hatch of HATCHES) {
    for (const program of hatch.programs) {
      const match = glob ? glob.match(program) : basename(word) === program;
      if (match) out.push({ program, hatch });
    }
  }
  return out;
}

/** A command using the hatch that the whole rule set allows through this rule, if any. */
function admittedProbe(
  policy: CommandPolicy,
  rule: Rule,
  program: string,
  hatch: Hatch,
): string | undefined {
  const words = rule.pattern.split(" ");
  const head = words[0].includes("*") ? program : words[0];
  const rest = words.slice(1).join(" ");
  const candidates: string[] = [];
  if (!rule.pattern.includes("*")) candidates.push(rule.pattern);
  else {
    const pieces = rest.split("*");
    for (const payload of hatch.payloads) {
      if (pieces.length === 1) candidates.push(`${head} ${rest}`.trim());
      // the payload in each `*` of the arguments in turn, the other stars as a plain word
      for (let k = 0; k < pieces.length - 1; k++) {
        const filled = pieces.map((p, j) =>
          j < pieces.length - 1 ? p + (j === k ? payload : "x") : p
        ).join("");
        candidates.push(`${head} ${filled}`.replace(/ +/g, " ").trim());
      }
      if (words[0].includes("*") && pieces.length === 1) candidates.push(`${head} ${payload}`);
    }
  }
  for (const c of candidates) {
    const argv = c.split(" ").filter((w) => w !== "");
    if (!(hatch.uses ?? runsSomething)(argv.slice(1))) continue;
    const d = policy.check(argv);
    if (d.action === "allow" && d.rule === rule) return c;
    // A later, broader allow rule admits it too: it gets its own warning when probed.
  }
  return undefined;
}

/** The later allow rule that wins over this deny rule's own subject, if any. */
function shadowedBy(policy: CommandPolicy, index: number): Rule | undefined {
  const rules = policy.rules;
  const subject = rules[index].pattern.replaceAll("*", "x").split(" ").filter(Boolean);
  if (subject.length === 0) return undefined;
  const d = policy.check(subject);
  if (d.action === "allow" && d.rule && rules.indexOf(d.rule) > index) return d.rule;
  return undefined;
}
