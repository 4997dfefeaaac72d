// --metrics-addr (lib/ops/metrics.ts): the Prometheus client most Node services use. Its
// registry and metric types run under Deno with no permissions (no default collectors are
// used). Loaded only by a runner started with --metrics-addr.
export { Counter, Gauge, Histogram, Registry } from "npm:prom-client@15.1.3";
