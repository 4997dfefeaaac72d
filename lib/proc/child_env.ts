/**
 * The environment every program the runner starts gets, and which
 * platform-supplied variables it may never get. One definition, used by
 * bash (its commands, and `NAME=value cmd` prefixes) and MCP (a stdio
 * server's process and its `env`).
 *
 * Why a family rule and not a list of names: a list missed `PERLLIB` (an
 * allowed `perl` MCP server then loaded a module the model had written)
 * and `NODE_V8_COVERAGE` (`node` wrote outside the workspace) (issue 12).
 * A variable that names a library path, a preload, a module path, an
 * options string, an init/config file, a directory programs read code or
 * settings from, or a program to run can make an allowed command run code
 * nobody checked. The rule refuses every name of such a family, by the
 * words those names are made of, for every runtime; it errs towards
 * refusing (a benign name caught by it costs the platform a variable,
 * a missed one costs the host).
 */

import { RUNNER_V8_FLAGS } from "../sandbox/v8_flags.ts";

/** Inherited names the runner keeps to itself: its token and settings live here. */
const PRIVATE = /^FLASHDUTY_/i;
/** systemd's notify socket and watchdog: a command must not tell systemd the runner is ready or alive. */
const SERVICE_MANAGER = new Set(["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]);

/**
 * The runner's own environment minus every `FLASHDUTY_*` name (any case)
 * and the V8 flags its supervisor gave it, with `extra` laid over it. Without env permission (a sandboxed runner
 * whose flags do not grant it), the programs get only `extra`. After
 * freezeChildEnv(), the environment part is the one taken then.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base = frozen ?? inherited();
  // fromEntries, not assignment: a variable named __proto__ stays a variable
  const kept = Object.entries(base).filter(([name]) => !Object.hasOwn(extra, name));
  return Object.fromEntries([...kept, ...Object.entries(extra)]);
}

let frozen: Readonly<Record<string, string>> | undefined;

/**
 * Takes the environment programs inherit once, for the process's life: the
 * runner calls it when its start-up is over (the token gone from its
 * environment), since nothing changes its environment after that. Reading and
 * filtering it again for every command was ~5% of a `bash` task's CPU
 * (bench:profile).
 */
export function freezeChildEnv(): void {
  frozen = Object.freeze(inherited());
}

function inherited(): Record<string, string> {
  let env: Record<string, string>;
  try {
    env = Deno.env.toObject();
  } catch {
    env = {};
  }
  // A new object rather than deletes: a deleted property turns V8's object into a slow
  // dictionary, and each copy of it after (the marker, the spawn) pays for that.
  const kept: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (PRIVATE.test(name) || SERVICE_MANAGER.has(name)) continue;
    // the runner's own heap sizing (its supervisor set it), not the operator's: a
    // `deno` command started by the runner runs with Deno's defaults, as before
    if (name === "DENO_V8_FLAGS" && value === RUNNER_V8_FLAGS) continue;
    kept.push([name, value]);
  }
  return Object.fromEntries(kept);
}

/**
 * `<workspace>/.tmp`, created: the TMPDIR commands get, because the kernel
 * layer lets them write only beneath the workspace (a `/tmp` the program
 * defaults to would fail there, and would outlive the task on the host).
 */
export function commandTmpDir(workspaceRoot: string): string {
  const dir = `${workspaceRoot.replace(/\/+$/, "")}/.tmp`;
  // synchronous: on every bash task, and a mkdir of what is there is one stat
  Deno.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Names that look like one of the families below but are plain values the
 * runtime itself does not interpret (no path, no code, no options), and
 * that MCP servers are commonly started with.
 */
const HARMLESS = new Set([
  "NODE_ENV",
  "PYTHONUNBUFFERED",
  "PYTHONIOENCODING",
  "PYTHONDONTWRITEBYTECODE",
  "PYTHONUTF8",
]);

/**
 * Words that, anywhere in a name, mark it as naming code, where code or
 * settings are read from, options, or a program to run. Each line says
 * which names it exists for (and catches their relatives too).
 */
const WORDS: readonly [string, string][] = [
  ["LIB", "a library path (LD_LIBRARY_PATH, PERL5LIB, PERLLIB, RUBYLIB, TCLLIBPATH, R_LIBS)"],
  ["PATH", "a search path (PATH, PYTHONPATH, NODE_PATH, CLASSPATH, GCONV_PATH, LOCPATH)"],
  ["PRELOAD", "a preload (LD_PRELOAD)"],
  ["AUDIT", "a loader audit module (LD_AUDIT)"],
  ["OPT", "options a runtime reads (NODE_OPTIONS, JAVA_TOOL_OPTIONS, RUBYOPT, PERL5OPT, *_OPTS)"],
  ["FLAGS", "options a tool reads (MAKEFLAGS, GOFLAGS, RUSTFLAGS)"],
  ["CONF", "a config file (KUBECONFIG, OPENSSL_CONF, GIT_CONFIG, *_CONFIG_FILE)"],
  ["HOME", "a directory init files are read from (HOME, CURL_HOME, PYTHONHOME, GNUPGHOME)"],
  ["DIR", "a directory programs read or write (TMPDIR, ZDOTDIR, XDG_*_DIRS, PHP_INI_SCAN_DIR)"],
  ["FILE", "a file programs read or write (HISTFILE, SSL_CERT_FILE, LESSHISTFILE)"],
  ["HIST", "a history file programs write (NODE_REPL_HISTORY)"],
  ["INIT", "an init script (VIMINIT, EXINIT, LUA_INIT)"],
  ["STARTUP", "a startup script (PYTHONSTARTUP)"],
  ["MODULE", "modules to load (GTK_MODULES, PSModulePath)"],
  ["SHELL", "a shell to run (SHELL, SHELLOPTS)"],
  ["EDITOR", "an editor to run (EDITOR, SUDO_EDITOR, SYSTEMD_EDITOR)"],
  ["PAGER", "a pager to run (PAGER, GIT_PAGER, MANPAGER)"],
  ["ASKPASS", "a password program to run (SSH_ASKPASS, SUDO_ASKPASS)"],
  ["COMMAND", "a command to run (PROMPT_COMMAND, GIT_SSH_COMMAND)"],
  ["SSH", "an ssh program or its options (GIT_SSH, SVN_SSH)"],
  ["RSH", "a remote shell program (RSYNC_RSH, CVS_RSH)"],
];

/** Prefixes of whole runtimes' and tools' variable families. */
const PREFIXES: readonly [string, string][] = [
  ["LD_", "the dynamic loader"],
  ["DYLD_", "the macOS dynamic loader"],
  ["GLIBC_", "glibc (GLIBC_TUNABLES)"],
  ["MALLOC_", "the C allocator"],
  ["GCONV", "glibc's character conversion modules"],
  ["BASH", "bash (BASH_ENV, BASHOPTS, BASH_FUNC_*, BASH_XTRACEFD)"],
  ["PYTHON", "Python"],
  ["PERL", "Perl (PERL5LIB, PERLLIB, PERL5OPT, PERL5DB)"],
  ["RUBY", "Ruby"],
  ["GEM_", "RubyGems"],
  ["BUNDLE_", "Bundler"],
  ["NODE_", "Node.js (NODE_OPTIONS, NODE_V8_COVERAGE)"],
  ["NPM_", "npm"],
  ["YARN_", "Yarn"],
  ["COREPACK_", "Corepack"],
  ["DENO_", "Deno"],
  ["BUN_", "Bun"],
  ["JAVA_", "Java (JAVA_TOOL_OPTIONS)"],
  ["_JAVA", "Java (_JAVA_OPTIONS)"],
  ["JDK_", "Java (JDK_JAVA_OPTIONS)"],
  ["DOTNET_", ".NET"],
  ["COMPLUS_", ".NET"],
  ["CORECLR_", ".NET (profiler libraries)"],
  ["GIT_", "git (GIT_CONFIG_*, GIT_EXEC_PATH, GIT_SSH_COMMAND)"],
  ["LUA_", "Lua"],
  ["PHP", "PHP"],
  ["R_", "R"],
  ["TCL", "Tcl"],
  ["TK_", "Tk"],
  ["PIP_", "pip"],
  ["CARGO", "Cargo"],
  ["RUST", "Rust (RUSTC_WRAPPER)"],
  ["OPENSSL", "OpenSSL (OPENSSL_ENGINES loads shared objects)"],
  ["KRB5", "Kerberos (KRB5CCNAME writes a file)"],
  ["LESS", "less (LESSOPEN, LESSCLOSE run programs)"],
  ["TERMINFO", "terminal description files"],
  ["TERMCAP", "terminal description files"],
  ["SYSTEMD_", "systemd tools (their pagers and editors)"],
  ["VIM", "Vim (VIMINIT, VIMRUNTIME)"],
  ["FLASHDUTY", "the runner's own settings"],
];

/** Exact names outside every family above that still change what runs. */
const EXACT: Readonly<Record<string, string>> = {
  ENV: "sh and bash read ENV as an init file",
  IFS: "IFS changes how the shell splits words",
  PS4: "bash expands PS4 (command substitutions included) when tracing",
  PS1: "bash expands PS1",
  GLOBIGNORE: "GLOBIGNORE changes bash's pathname expansion",
  BROWSER: "BROWSER names a program to run",
  VISUAL: "VISUAL names an editor to run",
  TERMINAL: "TERMINAL names a program to run",
  MORE: "more reads options from MORE",
  MANOPT: "man reads options from MANOPT",
  KUBECTL_EXTERNAL_DIFF: "kubectl runs the program it names",
  DOCKER_HOST: "DOCKER_HOST sends docker commands to another daemon",
  HOSTALIASES: "HOSTALIASES names a file the resolver reads",
  CC: "CC names a compiler to run",
  CXX: "CXX names a compiler to run",
  CPP: "CPP names a preprocessor to run",
  LD: "LD names a linker to run",
  MAKE: "MAKE names a make program to run",
};

/**
 * Why a platform-supplied variable (an MCP server's `env`, a `NAME=value`
 * word before a restricted command) is refused, or undefined when it may
 * be set. Case-insensitive: `ld_preload` is refused like `LD_PRELOAD`.
 */
export function refusedEnvName(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return `${JSON.stringify(name)} is not a plain variable name (letters, digits, _)`;
  }
  const n = name.toUpperCase();
  if (HARMLESS.has(n)) return undefined;
  const exact = EXACT[n];
  if (exact) return exact;
  for (const [prefix, whose] of PREFIXES) {
    if (n.startsWith(prefix)) return `${prefix}* variables configure ${whose}`;
  }
  for (const [word, what] of WORDS) {
    if (n.includes(word)) return `a name containing ${word} names ${what}`;
  }
  if (/^PS\d$/.test(n)) return `${name} is a prompt bash expands`;
  if (n.endsWith("RC")) return `a name ending in RC names an init file (WGETRC, INPUTRC, PHPRC)`;
  return undefined;
}
