// sync_skill: streaming inflate with a running byte count (zip bombs). Loaded on the first
// sync_skill (lib/operations/mod.ts).
export { Inflate as FflateInflate } from "npm:fflate@0.8.3";
