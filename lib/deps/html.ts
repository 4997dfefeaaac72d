// webfetch: HTML -> Markdown (turndown) over a DOM built by linkedom (pure JS, no wasm, works
// in Deno). Loaded on the first webfetch (lib/operations/mod.ts): +45 MB otherwise.
// @ts-types="npm:@types/turndown@5.0.6"
export { default as TurndownService } from "npm:turndown@7.2.5";
export { parseHTML } from "npm:linkedom@0.18.15";
