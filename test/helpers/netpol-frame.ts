import type { ClusterState, NetworkPolicyInfo, PodInfo } from '../../harness/reachability/types.ts';

/**
 * The frame Kubernetes' NetworkPolicy e2e tests use: namespaces x, y, z, each with pods a, b, c
 * (label pod=<name>) serving TCP 80 and 81 (ports named serve-80-tcp, serve-81-tcp).
 */
export const NAMESPACES = ['x', 'y', 'z'] as const;
export const PODS = ['a', 'b', 'c'] as const;

export function frame(
  opts: { meshed?: string[]; podLabels?: Record<string, Record<string, string>> } = {},
): ClusterState {
  const pods: PodInfo[] = [];
  NAMESPACES.forEach((ns, i) =>
    PODS.forEach((p, j) =>
      pods.push({
        namespace: ns,
        name: p,
        labels: { pod: p, ...(opts.podLabels?.[`${ns}/${p}`] ?? {}) },
        ip: `10.244.${i}.${j + 10}`,
        serviceAccount: `sa-${ns}`,
        ports: [
          { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' },
          { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' },
        ],
      }),
    ),
  );
  return {
    namespaces: NAMESPACES.map((ns) => ({
      name: ns,
      labels: { ns, ...(opts.meshed?.includes(ns) ? { 'istio.io/dataplane-mode': 'ambient' } : {}) },
    })),
    pods,
    networkPolicies: [],
    peerAuthentications: [],
    authorizationPolicies: [],
  };
}

export function np(
  namespace: string,
  name: string,
  spec: Partial<Omit<NetworkPolicyInfo, 'namespace' | 'name'>>,
): NetworkPolicyInfo {
  return { namespace, name, podSelector: {}, policyTypes: [], ingress: [], egress: [], ...spec };
}
