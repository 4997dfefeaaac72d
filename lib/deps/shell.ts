// Shell word splitting for lib/bash/parse.ts: loaded with the bash operation or `check`.
// @ts-types="npm:@types/shell-quote@1.7.5"
export { parse as parseShell } from "npm:shell-quote@1.12.0";
