// Glob patterns for the glob and grep operations (lib/fs/pattern.ts): loaded with them.
export { Minimatch, minimatch } from "npm:minimatch@11.0.9";
