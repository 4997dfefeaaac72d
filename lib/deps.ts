// Every external import of the runner, fully qualified, in one place.
// `deno run https://.../main.ts` reads no deno.json, so no import map may be
// relied on: bumping a version here is the only place a dependency changes.

export { Command, CommanderError, Option } from "npm:commander@15.1.0";
export { parse as parseYaml, parseDocument as parseYamlDocument } from "npm:yaml@2.9.1";
export {
  configure as configureLogging,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  reset as resetLogging,
  type Sink,
} from "npm:@logtape/logtape@2.4.2";
export { minimatch, Minimatch } from "npm:minimatch@11.0.9";
// @ts-types="npm:@types/shell-quote@1.7.5"
export { parse as parseShell } from "npm:shell-quote@1.12.0";
// @ts-types="npm:@types/ws@8.18.2"
export { default as NodeWebSocket } from "npm:ws@8.23.0";
