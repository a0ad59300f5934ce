import type { V1Pod } from '@kubernetes/client-node';
import { isPodReady } from '../kube/health.ts';
import type { KubeClients } from '../kube/client.ts';
import { ISTIO_OBJECTS, listPods } from '../kube/ops.ts';
import { getViaPortForward } from '../kube/portforward.ts';
import { parseAccessLog, type AccessLogEntry } from './accesslog.ts';
import { parseConfigDump, type ConfigDump } from './configdump.ts';
import { parseMetrics, type Sample } from './metrics.ts';

/** ztunnel pods by node name. */
/**
 * The ztunnel serving each node. During a rollout a node briefly has two: the old one
 * terminating (deletionTimestamp set) and the new one; only a pod that is not terminating and
 * Ready serves the node, preferring the newest.
 */
export async function ztunnelByNode(kube: KubeClients, istioNamespace: string): Promise<Map<string, string>> {
  return pickZtunnels(await listPods(kube, istioNamespace, ISTIO_OBJECTS.ztunnel.selector));
}

export function pickZtunnels(pods: V1Pod[]): Map<string, string> {
  const live = pods
    .filter((p) => !p.metadata?.deletionTimestamp && isPodReady(p))
    .sort(
      (a, b) =>
        new Date(a.metadata?.creationTimestamp ?? 0).getTime() -
        new Date(b.metadata?.creationTimestamp ?? 0).getTime(),
    );
  return new Map(live.map((p) => [p.spec?.nodeName ?? '', p.metadata?.name ?? '']));
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
