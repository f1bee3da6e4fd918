/** Types for prom-client's individual default collectors (it ships none for these internal modules). */
declare module "prom-client/lib/metrics/*" {
  import type { Registry } from "prom-client";

  const collect: (registry: Registry, config: { eventLoopMonitoringPrecision?: number; prefix?: string }) => void;
  export default collect;
}
