/**
 * Prometheus-operator ServiceMonitor: scrapes every worker pod's `/metrics` through the headless metrics
 * Service (pods loading their model or draining included: the Service publishes not-ready addresses).
 */
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { type K8sSettings, LABELS, SELECTOR } from "./settings.ts";

export function serviceMonitor(settings: K8sSettings): IServiceMonitor {
  const interval = `${settings.monitoring.scrapeIntervalSeconds}s`;
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name: settings.name, namespace: settings.namespace, labels: LABELS },
    spec: {
      selector: { matchLabels: SELECTOR },
      namespaceSelector: { matchNames: [settings.namespace] },
      endpoints: [{ port: "metrics", path: settings.health.metricsPath, interval, scrapeTimeout: "10s" }],
    },
  };
}
