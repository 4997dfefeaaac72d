// grep (lib/fs/grep_pattern.ts, lib/fs/grep_worker.ts): RE2 regexes, linear time whatever the
// pattern (no ReDoS). Loaded with the grep operation and in its workers.
export { RE2JS } from "npm:re2js@2.10.0";
