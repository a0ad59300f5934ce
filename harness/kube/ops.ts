import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { TimeoutTable } from '../timeouts.ts';
import { pollUntil } from '../wait.ts';
import { createWithRetry, isNotFound, statusOf, withRetry, type KubeClients } from './client.ts';
import {
  daemonSetState,
  describePod,
  isDaemonSetRolledOut,
  isDeploymentAvailable,
  judgeNodesReady,
  podImpossible,
} from './health.ts';

export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';

export async function serverVersion(kube: KubeClients): Promise<string> {
  const v = await withRetry('GET /version', () => kube.version.getCode());
  return v.gitVersion;
}

export async function nodeNames(kube: KubeClients): Promise<string[]> {
  const list = await withRetry('list nodes', () => kube.core.listNode());
  return list.items.map((n) => n.metadata?.name ?? '').filter(Boolean);
}

export async function waitNodesReady(kube: KubeClients, t: TimeoutTable): Promise<void> {
  const timeoutMs = t.nodesReady;
  await pollUntil({
    signal: kube.signal,
    what: 'every node to be Ready',
    timeoutMs,
    intervalMs: t.pollInterval,
    read: async () => (await kube.core.listNode()).items,
    judge: judgeNodesReady,
  });
}

/** Creates a namespace with labels, or adds the labels when it exists. Returns true if created. */
export async function ensureNamespace(
  kube: KubeClients,
  name: string,
  labels: Record<string, string>,
): Promise<boolean> {
  try {
    const ns = await withRetry(`read namespace ${name}`, () => kube.core.readNamespace({ name }));
    const merged = { ...(ns.metadata?.labels ?? {}), ...labels };
    await withRetry(`label namespace ${name}`, () =>
      kube.core.replaceNamespace({ name, body: { ...ns, metadata: { ...ns.metadata, labels: merged } } }),
    );
    return false;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const body: V1Namespace = { metadata: { name, labels } };
  await createWithRetry(`create namespace ${name}`, () => kube.core.createNamespace({ body }));
  return true;
}

export async function deleteNamespaceAndWait(
  kube: KubeClients,
  name: string,
  t: TimeoutTable,
): Promise<void> {
  if (await deleteNamespace(kube, name)) await waitNamespaceGone(kube, name, t);
}

/** Starts deleting a namespace; false when it was already gone. */
export async function deleteNamespace(kube: KubeClients, name: string): Promise<boolean> {
  try {
    await withRetry(`delete namespace ${name}`, () => kube.core.deleteNamespace({ name }));
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

export async function waitNamespaceGone(kube: KubeClients, name: string, t: TimeoutTable): Promise<void> {
  const timeoutMs = t.namespaceDelete;
  await pollUntil({
    signal: kube.signal,
    what: `namespace ${name} to be gone`,
    timeoutMs,
    intervalMs: t.pollInterval,
    read: async () => {
      try {
        const ns = await kube.core.readNamespace({ name });
        return ns.status?.phase ?? 'Terminating';
      } catch (e) {
        if (isNotFound(e)) return 'gone';
        throw e;
      }
    },
    judge: (phase) => ({ done: phase === 'gone', seen: `phase=${phase}` }),
    fix: `look for stuck finalizers: kubectl get namespace ${name} -o yaml`,
  });
}

export async function deleteNamespacesByLabel(
  kube: KubeClients,
  labelSelector: string,
  t: TimeoutTable,
): Promise<string[]> {
  const list = await withRetry('list namespaces', () => kube.core.listNamespace({ labelSelector }));
  const names = list.items.map((n) => n.metadata?.name ?? '').filter(Boolean);
  await Promise.all(names.map((n) => deleteNamespaceAndWait(kube, n, t)));
  return names;
}

export async function listPods(
  kube: KubeClients,
  namespace: string,
  labelSelector?: string,
): Promise<V1Pod[]> {
  const list = await withRetry(`list pods in ${namespace}`, () =>
    kube.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }),
  );
  return list.items;
}

/** The Istio control and data plane objects, by their chart-fixed names. */
export const ISTIO_OBJECTS = {
  istiod: { kind: 'Deployment', name: 'istiod', selector: 'app=istiod', container: 'discovery' },
  cni: {
    kind: 'DaemonSet',
    name: 'istio-cni-node',
    selector: 'k8s-app=istio-cni-node',
    container: 'install-cni',
  },
  ztunnel: { kind: 'DaemonSet', name: 'ztunnel', selector: 'app=ztunnel', container: 'istio-proxy' },
} as const;

/** Waits for istiod Available and both DaemonSets rolled out; fails fast on crash-looping pods. */
export async function waitIstioReady(kube: KubeClients, namespace: string, t: TimeoutTable): Promise<void> {
  const timeoutMs = t.podReady;
  await pollUntil({
    signal: kube.signal,
    what: `istiod, istio-cni-node and ztunnel to be Ready in ${namespace}`,
    timeoutMs,
    intervalMs: t.pollInterval,
    read: async () => {
      const [deploy, cni, zt, pods] = await Promise.all([
        kube.apps.readNamespacedDeployment({ namespace, name: ISTIO_OBJECTS.istiod.name }),
        kube.apps.readNamespacedDaemonSet({ namespace, name: ISTIO_OBJECTS.cni.name }),
        kube.apps.readNamespacedDaemonSet({ namespace, name: ISTIO_OBJECTS.ztunnel.name }),
        kube.core.listNamespacedPod({ namespace }),
      ]);
      return { deploy, cni, zt, pods: pods.items };
    },
    judge: ({ deploy, cni, zt, pods }) => {
      const c = daemonSetState(cni);
      const z = daemonSetState(zt);
      const seen = `istiod available=${deploy.status?.availableReplicas ?? 0}/${deploy.spec?.replicas ?? 1}; istio-cni-node ready=${c.ready}/${c.desired}; ztunnel ready=${z.ready}/${z.desired}; ${pods
        .filter((p) => !p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))
        .map(describePod)
        .join('; ')}`;
      const impossible = pods.map(podImpossible).find((x) => x !== undefined);
      return {
        done: isDeploymentAvailable(deploy) && isDaemonSetRolledOut(cni) && isDaemonSetRolledOut(zt),
        seen,
        ...(impossible ? { impossible } : {}),
      };
    },
  });
}

export async function waitApiServiceAvailable(
  kube: KubeClients,
  name: string,
  t: TimeoutTable,
): Promise<void> {
  await pollUntil({
    signal: kube.signal,
    what: `APIService ${name} to be Available`,
    timeoutMs: t.metricsAvailable,
    intervalMs: t.pollInterval,
    read: () => kube.apireg.readAPIService({ name }),
    judge: (svc) => {
      const c = svc.status?.conditions?.find((x) => x.type === 'Available');
      return {
        done: c?.status === 'True',
        seen: `Available=${c?.status ?? 'unknown'} ${c?.reason ?? ''} ${c?.message ?? ''}`.trim(),
      };
    },
  });
}

/**
 * Whether kind's kindnet CNI runs: its DaemonSet `kindnet` in kube-system (kind v0.30.0
 * pkg/build/nodeimage/const_cni.go).
 */
export async function hasKindnet(kube: KubeClients): Promise<boolean | string> {
  try {
    await withRetry('read DaemonSet kube-system/kindnet', () =>
      kube.apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'kindnet' }),
    );
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    // Not allowed to read kube-system (403) or another answer: cannot tell; never a preflight stop.
    return `could not read DaemonSet kube-system/kindnet (${statusOf(e) ?? (e instanceof Error ? e.message : String(e))})`;
  }
}

/** Why a claim about host traffic under NetworkPolicy is skipped on kindnet. */
export const KINDNET_HOST_TRAFFIC =
  "the cluster's CNI is kindnet, whose NetworkPolicy engine (kube-network-policies v0.8.0 in kind v0.30.0) accepts all traffic from root-owned host sockets (`meta skuid 0 accept`): kubelet probes are never judged, so this claim cannot fail here";
