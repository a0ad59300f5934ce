import type { KubeClients } from '../kube/client.ts';
import { ISTIO_OBJECTS, listPods } from '../kube/ops.ts';
import { getViaPortForward } from '../kube/portforward.ts';
import { parseAccessLog, type AccessLogEntry } from './accesslog.ts';
import { parseConfigDump, type ConfigDump } from './configdump.ts';
import { parseMetrics, type Sample } from './metrics.ts';

/** ztunnel pods by node name. */
export async function ztunnelByNode(kube: KubeClients, istioNamespace: string): Promise<Map<string, string>> {
  const pods = await listPods(kube, istioNamespace, ISTIO_OBJECTS.ztunnel.selector);
  return new Map(pods.map((p) => [p.spec?.nodeName ?? '', p.metadata?.name ?? '']));
}

/** /config_dump from the admin port 15000, which binds to localhost only: through a port-forward. */
export async function configDumpOf(
  kube: KubeClients,
  istioNamespace: string,
  pod: string,
  timeoutMs: number,
): Promise<ConfigDump> {
  return parseConfigDump(
    await getViaPortForward(kube, istioNamespace, pod, 15000, '/config_dump', timeoutMs),
  );
}

/** Prometheus metrics from 15020 (there is no /stats on 15000). */
export async function metricsOf(
  kube: KubeClients,
  istioNamespace: string,
  pod: string,
  timeoutMs: number,
): Promise<Sample[]> {
  return parseMetrics(await getViaPortForward(kube, istioNamespace, pod, 15020, '/metrics', timeoutMs));
}

export async function accessLogOf(
  kube: KubeClients,
  istioNamespace: string,
  pod: string,
  sinceSeconds: number,
): Promise<AccessLogEntry[]> {
  const text = await kube.core.readNamespacedPodLog({
    namespace: istioNamespace,
    name: pod,
    container: ISTIO_OBJECTS.ztunnel.container,
    sinceSeconds,
  });
  return parseAccessLog(text);
}
