/** Types for prom-client's individual default collectors (it ships none for these internal modules). */
declare module "prom-client/lib/metrics/*" {
  import type { Registry } from "prom-client";

  const collect: (registry: Registry, config: { eventLoopMonitoringPrecision?: number; prefix?: string }) => void;
  export default collect;
}

/**
 * prom-client's classes from their own modules: its index also loads what the server never uses
 * (the Pushgateway's http and https, the cluster aggregator's node:cluster, Summary, the default
 * metrics), ~40 ms of every start. Typed as the index declares them.
 */
declare module "prom-client/lib/counter.js" {
  import { Counter } from "prom-client";
  export default Counter;
}
declare module "prom-client/lib/gauge.js" {
  import { Gauge } from "prom-client";
  export default Gauge;
}
declare module "prom-client/lib/histogram.js" {
  import { Histogram } from "prom-client";
  export default Histogram;
}
declare module "prom-client/lib/registry.js" {
  import { Registry } from "prom-client";
  export default Registry;
}
