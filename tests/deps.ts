// Test-only external imports, fully qualified (see lib/deps.ts for the runner's).
export { expect } from "npm:expect@30.5.2";
