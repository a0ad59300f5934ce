import { objectsToState } from '../reachability/manifests.ts';
import { ReachabilityModel } from '../reachability/model.ts';
import { SERVER_PORTS } from '../workloads.ts';
import type { IstioObject } from './matrix-case.ts';
import type { NetworkPolicyJson } from './policies.ts';

/**
 * A case's layout as the suites deploy it, without a cluster: namespaces (meshed or not), servers
 * serving TCP 80 and 81 (netexec) and clients, plus the policies as JSON, through the manifest
 * reader into the model. Offline tests and the benchmark use it to evaluate exactly what the
 * suites apply.
 */
export function layoutModel(
  namespaces: { name: string; meshed: boolean }[],
  pods: { ns: string; name: string; client?: boolean }[],
  policies: (NetworkPolicyJson | IstioObject)[],
  istioNamespace = 'istio-system',
): ReachabilityModel {
  let ip = 10;
  const objects = [
    ...namespaces.map((n) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: n.name, labels: n.meshed ? { 'istio.io/dataplane-mode': 'ambient' } : {} },
    })),
    ...pods.map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.client ? `client-${p.name}` : p.name, namespace: p.ns, labels: { pod: p.name } },
      spec: {
        serviceAccountName: `probe-${p.ns}`,
        containers: p.client
          ? [{ name: 'client' }]
          : SERVER_PORTS.map((port) => ({
              name: `serve-${port}`,
              ports: [{ name: `serve-${port}-tcp`, containerPort: port, protocol: 'TCP' }],
            })),
      },
      status: { podIP: `10.244.${Math.floor(ip / 250)}.${(ip++ % 250) + 2}` },
    })),
    ...policies,
  ];
  const { state } = objectsToState(
    objects.map((object) => ({ source: 'layout', object: object as unknown as Record<string, unknown> })),
  );
  return new ReachabilityModel({ ...state, istioNamespace });
}
