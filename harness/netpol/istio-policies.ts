import type { IstioObject } from './matrix-case.ts';

/** Istio policy objects for the MTLS and AUTHZ suites, as pure builders (security.istio.io/v1). */

export function peerAuthentication(
  namespace: string,
  mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET',
): IstioObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace },
    spec: { mtls: { mode } },
  };
}

export function authorizationPolicy(
  namespace: string,
  name: string,
  action: 'ALLOW' | 'DENY',
  rules: unknown[] | undefined,
  selector?: Record<string, string>,
): IstioObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace },
    spec: {
      ...(selector ? { selector: { matchLabels: selector } } : {}),
      action,
      ...(rules ? { rules } : {}),
    },
  };
}

/** The AUTHZ suite's cases: policies on y/a (label pod=a), given the case's namespace names. */
export const AUTHZ_CASES = {
  allowPrincipalX: (ns: Record<string, string>) => [
    authorizationPolicy(
      ns.y ?? '',
      'allow-x',
      'ALLOW',
      [{ from: [{ source: { principals: [`cluster.local/ns/${ns.x ?? ''}/sa/probe-x`] } }] }],
      { pod: 'a' },
    ),
  ],
  allowNamespaceW: (ns: Record<string, string>) => [
    authorizationPolicy(
      ns.y ?? '',
      'allow-ns-w',
      'ALLOW',
      [{ from: [{ source: { namespaces: [ns.w ?? ''] } }] }],
      { pod: 'a' },
    ),
  ],
  denyWinsOverAllow: (ns: Record<string, string>) => [
    authorizationPolicy(ns.y ?? '', 'allow-all', 'ALLOW', [{}], { pod: 'a' }),
    authorizationPolicy(
      ns.y ?? '',
      'deny-x',
      'DENY',
      [{ from: [{ source: { principals: [`cluster.local/ns/${ns.x ?? ''}/sa/probe-x`] } }] }],
      { pod: 'a' },
    ),
  ],
  l7WithoutWaypoint: (ns: Record<string, string>) => [
    authorizationPolicy(ns.y ?? '', 'get-only', 'ALLOW', [{ to: [{ operation: { methods: ['GET'] } }] }], {
      pod: 'a',
    }),
  ],
  allowNothing: (ns: Record<string, string>) => [
    authorizationPolicy(ns.y ?? '', 'allow-nothing', 'ALLOW', undefined, { pod: 'a' }),
  ],
};
