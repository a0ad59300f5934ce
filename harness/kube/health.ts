import type {
  V1DaemonSet,
  V1Deployment,
  V1Node,
  V1Pod,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import type { PollVerdict } from '../wait.ts';

/** Pure judges of Kubernetes object state, shared by environment waits and conformance tests. */

export function podName(p: V1Pod): string {
  return `${p.metadata?.namespace ?? '?'}/${p.metadata?.name ?? '?'}`;
}

export function isPodReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Why a pod can no longer become Ready without intervention, if it cannot. */
export function podImpossible(p: V1Pod): string | undefined {
  if (p.status?.phase === 'Failed') return `${podName(p)} is Failed (${p.status.reason ?? 'no reason'})`;
  for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const w = cs.state?.waiting;
    if (!w) continue;
    if (w.reason === 'CrashLoopBackOff' && (cs.restartCount ?? 0) >= 3)
      return `${podName(p)} container ${cs.name} is in CrashLoopBackOff after ${cs.restartCount} restarts: ${w.message ?? ''}`.trim();
    if (
      w.reason === 'InvalidImageName' ||
      w.reason === 'ErrImageNeverPull' ||
      w.reason === 'CreateContainerConfigError'
    )
      return `${podName(p)} container ${cs.name}: ${w.reason}: ${w.message ?? ''}`.trim();
  }
  return undefined;
}

/** "ns/pod phase=Pending, reason=ContainerCreating" */
export function describePod(p: V1Pod): string {
  const waiting = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
    .map((cs) => (cs.state?.waiting ? `${cs.name}:${cs.state.waiting.reason ?? 'waiting'}` : undefined))
    .filter(Boolean);
  const ready = isPodReady(p) ? 'Ready' : 'NotReady';
  return `${podName(p)} phase=${p.status?.phase ?? '?'} ${ready}${waiting.length ? ` waiting=${waiting.join(',')}` : ''}${p.spec?.nodeName ? ` node=${p.spec.nodeName}` : ''}`;
}

export function judgePodsReady(pods: V1Pod[], expectedCount?: number): PollVerdict {
  const seen = pods.length ? pods.map(describePod).join('; ') : 'no pods';
  for (const p of pods) {
    const why = podImpossible(p);
    if (why) return { done: false, impossible: why, seen };
  }
  const enough = expectedCount === undefined ? pods.length > 0 : pods.length === expectedCount;
  return { done: enough && pods.every(isPodReady), seen };
}

export function isNodeReady(n: V1Node): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function judgeNodesReady(nodes: V1Node[]): PollVerdict {
  const seen =
    nodes.map((n) => `${n.metadata?.name ?? '?'}=${isNodeReady(n) ? 'Ready' : 'NotReady'}`).join(', ') ||
    'no nodes';
  return { done: nodes.length > 0 && nodes.every(isNodeReady), seen };
}

export interface DaemonSetState {
  name: string;
  desired: number;
  ready: number;
  updated: number;
  available: number;
}

export function daemonSetState(ds: V1DaemonSet): DaemonSetState {
  return {
    name: `${ds.metadata?.namespace ?? '?'}/${ds.metadata?.name ?? '?'}`,
    desired: ds.status?.desiredNumberScheduled ?? 0,
    ready: ds.status?.numberReady ?? 0,
    updated: ds.status?.updatedNumberScheduled ?? 0,
    available: ds.status?.numberAvailable ?? 0,
  };
}

/** A DaemonSet is rolled out when every scheduled pod is updated, Ready and available. */
export function isDaemonSetRolledOut(ds: V1DaemonSet): boolean {
  const s = daemonSetState(ds);
  const observed = (ds.status?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0);
  return (
    observed && s.desired > 0 && s.ready === s.desired && s.updated === s.desired && s.available === s.desired
  );
}

export function isDeploymentAvailable(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  return (
    (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (d.status?.availableReplicas ?? 0) >= want &&
    (d.status?.updatedReplicas ?? 0) >= want
  );
}

/**
 * One pod per node: for a DaemonSet's pods, the nodes with none and the nodes with more than one.
 */
export function perNodeCoverage(
  pods: V1Pod[],
  nodeNames: string[],
): { missing: string[]; duplicated: string[]; notReady: string[] } {
  const byNode = new Map<string, V1Pod[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    byNode.set(n, [...(byNode.get(n) ?? []), p]);
  }
  return {
    missing: nodeNames.filter((n) => !byNode.has(n)),
    duplicated: [...byNode.entries()].filter(([, ps]) => ps.length > 1).map(([n]) => n),
    notReady: pods.filter((p) => !isPodReady(p)).map(describePod),
  };
}

/** Kubernetes toleration semantics for one taint (operator Exists / Equal, empty key = all keys, empty effect = all effects). */
export function tolerates(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * The nodes a DaemonSet should run on: its nodeSelector matches and every NoSchedule/NoExecute
 * taint is tolerated (the DaemonSet controller adds tolerations for not-ready/unreachable/… itself).
 */
export function eligibleNodes(ds: V1DaemonSet, nodes: V1Node[]): string[] {
  const spec = ds.spec?.template.spec;
  const tolerations = spec?.tolerations ?? [];
  const selector = spec?.nodeSelector ?? {};
  return nodes
    .filter((n) => Object.entries(selector).every(([k, v]) => n.metadata?.labels?.[k] === v))
    .filter((n) =>
      (n.spec?.taints ?? [])
        .filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')
        .every((t) => tolerates(tolerations, t)),
    )
    .map((n) => n.metadata?.name ?? '');
}
