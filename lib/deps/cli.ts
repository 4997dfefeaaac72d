// The command-line parser: main.ts's CLI only (lib/cli.ts); the supervised runner child never loads it.
export { Command, CommanderError, Option } from "npm:commander@15.1.0";
