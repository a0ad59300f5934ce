import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../plan.ts';
import { HBONE_PORT, type IPBlock, type LabelSelector } from '../reachability/types.ts';

/**
 * NetworkPolicy builders for the suites (pure). Namespaces are selected by their
 * kubernetes.io/metadata.name label, which the API server sets on every namespace, as the
 * runbook's policies do.
 */

export const ISTIOD_XDS_PORT = 15012;
export const ISTIOD_WEBHOOK_PORT = 15017;
/** Where kubelet probes to enrolled pods come from after istio-cni's SNAT (istio.io ambient NetworkPolicy doc). */
export const KUBELET_PROBE_SNAT_V4 = '169.254.7.127/32';

/** NetworkPolicy as Kubernetes JSON (networking.k8s.io/v1), the way manifests write it. */
export interface PeerJson {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}
export interface PortJson {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}
export interface NetworkPolicySpecJson {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: { from?: PeerJson[]; ports?: PortJson[] }[];
  egress?: { to?: PeerJson[]; ports?: PortJson[] }[];
}
export interface NetworkPolicyJson {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: NetworkPolicySpecJson;
}

export function fromNamespace(name: string): PeerJson {
  return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } };
}

export function tcp(...ports: number[]): PortJson[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

export function policy(
  namespace: string,
  name: string,
  runId: string,
  spec: NetworkPolicySpecJson,
): NetworkPolicyJson {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, labels: { [RUN_ID_LABEL]: runId, [MANAGED_BY_LABEL]: MANAGED_BY } },
    spec,
  };
}

export interface DocumentedPolicyInput {
  /** Meshed namespace (actual name) → the namespaces (actual names) its pods may call. */
  calls: Map<string, string[]>;
  istioNamespace: string;
  appPorts: number[];
  runId: string;
}

/**
 * The runbook's documented policies for each meshed namespace N:
 * - ingress from istio-system, from every namespace that calls N, and from N itself, each on
 *   15008 (HBONE) and the app ports;
 * - egress to istio-system on 15008, 15012 and 15017, and to every namespace N calls on 15008
 *   (the troubleshooting section: "Egress on source: must allow port 15008 to destination namespace").
 */
export function documentedPolicies(input: DocumentedPolicyInput): NetworkPolicyJson[] {
  const out: NetworkPolicyJson[] = [];
  const callers = new Map<string, string[]>();
  for (const [from, tos] of input.calls)
    for (const to of tos) callers.set(to, [...(callers.get(to) ?? []), from]);
  for (const ns of input.calls.keys()) {
    const sources = [...new Set([input.istioNamespace, ...(callers.get(ns) ?? []), ns])];
    out.push(
      policy(ns, 'documented-ingress', input.runId, {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: sources.map((s) => ({
          from: [fromNamespace(s)],
          ports: tcp(HBONE_PORT, ...input.appPorts),
        })),
      }),
    );
    const dests = [...new Set([ns, ...(input.calls.get(ns) ?? [])])];
    out.push(
      policy(ns, 'documented-egress', input.runId, {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [fromNamespace(input.istioNamespace)],
            ports: tcp(HBONE_PORT, ISTIOD_XDS_PORT, ISTIOD_WEBHOOK_PORT),
          },
          ...dests.map((d) => ({ to: [fromNamespace(d)], ports: tcp(HBONE_PORT) })),
        ],
      }),
    );
  }
  return out;
}

export function denyAll(
  namespace: string,
  runId: string,
  types: ('Ingress' | 'Egress')[],
): NetworkPolicyJson {
  return policy(namespace, `deny-all-${types.join('-').toLowerCase()}`, runId, {
    podSelector: {},
    policyTypes: types,
  });
}
