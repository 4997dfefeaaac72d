// The CONNECT tunnel npm:ws dials through (lib/wire/proxy.ts). Loaded only when a proxy
// applies: its `debug` dependency reads the whole environment when it loads, so the sandbox
// grants unscoped --allow-env then (lib/ops/grants.ts).
export { HttpsProxyAgent } from "npm:https-proxy-agent@9.1.0";
