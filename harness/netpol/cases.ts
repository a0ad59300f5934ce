import { HBONE_PORT } from '../reachability/types.ts';
import { SERVER_PORTS } from '../workloads.ts';
import {
  fromNamespace,
  ISTIOD_WEBHOOK_PORT,
  ISTIOD_XDS_PORT,
  policy,
  tcp,
  type NetworkPolicyJson,
} from './policies.ts';

/**
 * The NetworkPolicies of each NETPOL case, as pure functions of the case's namespace names, so
 * the suite applies exactly what the offline tests evaluate with the model.
 */
export type Names = Record<string, string>;
const APP = [...SERVER_PORTS];
const n = (ns: Names, k: string) => ns[k] ?? k;

/** NETPOL-02: y admits x and itself on the app ports only: the 15008 trap. */
export function appPortsOnlyIngress(ns: Names, runId: string): NetworkPolicyJson[] {
  return [
    policy(n(ns, 'y'), 'app-ports-only', runId, {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [fromNamespace(n(ns, 'x')), fromNamespace(n(ns, 'y'))], ports: tcp(...APP) }],
    }),
  ];
}

/** NETPOL-03: y admits istio-system only, on 15008 and the app ports. */
export function istioSystemOnlyIngress(
  ns: Names,
  runId: string,
  istioNamespace: string,
): NetworkPolicyJson[] {
  return [
    policy(n(ns, 'y'), 'istio-system-only', runId, {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [fromNamespace(istioNamespace)], ports: tcp(HBONE_PORT, ...APP) }],
    }),
  ];
}

/** NETPOL-04: x may leave to istio-system (15008, 15012, 15017) and to y and z on the app ports, not 15008. */
export function egressAppPortsOnly(ns: Names, runId: string, istioNamespace: string): NetworkPolicyJson[] {
  return [
    policy(n(ns, 'x'), 'egress-app-ports', runId, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        { to: [fromNamespace(istioNamespace)], ports: tcp(HBONE_PORT, ISTIOD_XDS_PORT, ISTIOD_WEBHOOK_PORT) },
        { to: [fromNamespace(n(ns, 'y')), fromNamespace(n(ns, 'z'))], ports: tcp(...APP) },
      ],
    }),
  ];
}

/** NETPOL-05: y/a admits x and z on 15008 only; y/b on 15008 and 80. */
export function hboneOnlyVersusAppPort(ns: Names, runId: string): NetworkPolicyJson[] {
  const from = [fromNamespace(n(ns, 'x')), fromNamespace(n(ns, 'z'))];
  return [
    policy(n(ns, 'y'), 'a-hbone-only', runId, {
      podSelector: { matchLabels: { pod: 'a' } },
      policyTypes: ['Ingress'],
      ingress: [{ from, ports: tcp(HBONE_PORT) }],
    }),
    policy(n(ns, 'y'), 'b-hbone-and-80', runId, {
      podSelector: { matchLabels: { pod: 'b' } },
      policyTypes: ['Ingress'],
      ingress: [{ from, ports: tcp(HBONE_PORT, 80) }],
    }),
  ];
}
