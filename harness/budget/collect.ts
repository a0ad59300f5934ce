import type { ConformanceContext } from '../conformance/define.ts';
import type { KubeClients } from '../kube/client.ts';
import { isDeploymentAvailable } from '../kube/health.ts';
import { log } from '../progress.ts';
import { humanDuration } from '../timeouts.ts';
import { pause, pollUntil } from '../wait.ts';
import { toSamples, type PodMetricJson, type Sample } from './measure.ts';

/** metrics-server's resolution in the pinned chart (--metric-resolution=15s): sampling faster only repeats values. */

export async function podMetrics(kube: KubeClients, namespace: string): Promise<PodMetricJson[]> {
  const list = (await kube.custom.listNamespacedCustomObject({
    group: 'metrics.k8s.io',
    version: 'v1beta1',
    namespace,
    plural: 'pods',
  })) as { items?: PodMetricJson[] };
  return list.items ?? [];
}

/** Waits until metrics.k8s.io has PodMetrics for every running pod of the namespace (two scrapes after start). */
export async function waitForMetrics(ctx: ConformanceContext, namespace: string): Promise<void> {
  await pollUntil({
    signal: ctx.kube.signal,
    what: `PodMetrics for every pod in ${namespace}`,
    timeoutMs: ctx.timeouts.metricsAvailable,
    intervalMs: ctx.timeouts.pollInterval,
    read: async () => {
      const pods = (await ctx.kube.core.listNamespacedPod({ namespace })).items
        .filter((p) => p.status?.phase === 'Running')
        .map((p) => p.metadata?.name ?? '');
      const have = new Set((await podMetrics(ctx.kube, namespace)).map((m) => m.metadata.name));
      return pods.filter((p) => !have.has(p));
    },
    judge: (missing) => ({
      done: missing.length === 0,
      seen: missing.length ? `no metrics yet for ${missing.join(', ')}` : 'all',
    }),
    fix: 'metrics-server needs two scrapes (about 30 s) per new pod; check `kubectl get apiservice v1beta1.metrics.k8s.io`',
  });
}

/**
 * Samples PodMetrics of a namespace for a window, one sample per metric resolution, running
 * `during` (probe traffic) before each sample. The pacing between samples is the metric
 * resolution, not a wait for a state: there is no condition to poll for.
 */
export async function collectSamples(
  ctx: ConformanceContext,
  namespace: string,
  durationMs: number,
  during?: () => Promise<void>,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const end = performance.now() + durationMs;
  const seen = new Set<string>();
  for (;;) {
    const t0 = performance.now();
    if (during) await during();
    for (const s of toSamples(await podMetrics(ctx.kube, namespace))) {
      const key = `${s.pod}@${s.at}`;
      if (seen.has(key)) continue; // the same scrape read twice
      seen.add(key);
      samples.push(s);
    }
    if (performance.now() + ctx.timeouts.metricResolution > end) break;
    // The pacing is metrics-server's resolution; a Ctrl-C stops it like any wait.
    await pause(
      Math.max(0, ctx.timeouts.metricResolution - (performance.now() - t0)),
      ctx.kube.signal,
      `the next PodMetrics scrape of ${namespace}`,
    );
  }
  log.info(`[${ctx.scope.id}] ${samples.length} samples over ${humanDuration(durationMs)}`);
  return samples;
}

export async function waitDeployment(
  ctx: ConformanceContext,
  namespace: string,
  name: string,
): Promise<void> {
  await pollUntil({
    signal: ctx.kube.signal,
    what: `deployment ${namespace}/${name} to be rolled out`,
    timeoutMs: ctx.timeouts.podReady,
    intervalMs: ctx.timeouts.pollInterval,
    read: () => ctx.kube.apps.readNamespacedDeployment({ namespace, name }),
    judge: (d) => ({
      done: isDeploymentAvailable(d) && (d.status?.replicas ?? 0) === (d.spec?.replicas ?? 1),
      seen: `replicas=${d.status?.replicas ?? 0} updated=${d.status?.updatedReplicas ?? 0} available=${d.status?.availableReplicas ?? 0} of ${d.spec?.replicas ?? 1}`,
    }),
  });
}

export async function scaleDeployment(
  ctx: ConformanceContext,
  namespace: string,
  name: string,
  replicas: number,
): Promise<void> {
  const d = await ctx.kube.apps.readNamespacedDeployment({ namespace, name });
  if (d.spec) d.spec.replicas = replicas;
  await ctx.kube.apps.replaceNamespacedDeployment({ namespace, name, body: d });
  await waitDeployment(ctx, namespace, name);
}

/** kubectl rollout restart: a new template annotation makes the Deployment replace every pod. */
export async function rolloutRestart(
  ctx: ConformanceContext,
  namespace: string,
  name: string,
): Promise<void> {
  const d = await ctx.kube.apps.readNamespacedDeployment({ namespace, name });
  const tpl = d.spec?.template;
  if (tpl)
    tpl.metadata = {
      ...tpl.metadata,
      annotations: {
        ...(tpl.metadata?.annotations ?? {}),
        'kubectl.kubernetes.io/restartedAt': new Date().toISOString(),
      },
    };
  await ctx.kube.apps.replaceNamespacedDeployment({ namespace, name, body: d });
  await pollUntil({
    signal: ctx.kube.signal,
    what: `deployment ${namespace}/${name} to finish its rollout restart`,
    timeoutMs: ctx.timeouts.podReady,
    intervalMs: ctx.timeouts.pollInterval,
    read: async () => ({
      d: await ctx.kube.apps.readNamespacedDeployment({ namespace, name }),
      pods: (await ctx.kube.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items,
    }),
    judge: ({ d: dep, pods }) => {
      const stale = pods.filter(
        (p) =>
          p.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] === undefined &&
          p.metadata?.deletionTimestamp === undefined,
      );
      return {
        done: isDeploymentAvailable(dep) && stale.length === 0 && pods.length === (dep.spec?.replicas ?? 1),
        seen: `${pods.length} pods, ${stale.length} from before the restart`,
      };
    },
  });
}
