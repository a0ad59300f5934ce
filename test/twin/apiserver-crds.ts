import type { JsonSchema, KubeObject } from './apiserver-resources.ts';

/**
 * The CustomResourceDefinitions the twin starts with: Istio's security.istio.io PeerAuthentication
 * and AuthorizationPolicy as Istio 1.28's base chart installs them (manifests/charts/base/files/
 * crd-all.gen.yaml): names, scope, served versions v1 (storage) and v1beta1, a status subresource,
 * and the structure of the v1 schema (field names and types only; no descriptions, enums or CEL
 * rules). Unknown fields are found and pruned against this structure.
 */

const str: JsonSchema = { type: 'string' };
const strings: JsonSchema = { type: 'array', items: str };
const object = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: 'object', properties });
const array = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const stringMap: JsonSchema = { type: 'object', additionalProperties: str };

const selector = object({ matchLabels: stringMap });
const targetRef = object({ group: str, kind: str, name: str, namespace: str });

const istioStatus: JsonSchema = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
  properties: {
    conditions: array(
      object({
        lastProbeTime: str,
        lastTransitionTime: str,
        message: str,
        observedGeneration: {},
        reason: str,
        status: str,
        type: str,
      }),
    ),
    observedGeneration: {},
    validationMessages: array(
      object({ documentationUrl: str, level: str, type: object({ code: str, name: str }) }),
    ),
  },
};

const listOf = (fields: string[]) => object(Object.fromEntries(fields.map((f) => [f, strings])));

const peerAuthenticationSpec = object({
  mtls: object({ mode: str }),
  portLevelMtls: { type: 'object', additionalProperties: object({ mode: str }) },
  selector,
});

const authorizationPolicySpec = object({
  action: str,
  provider: object({ name: str }),
  rules: array(
    object({
      from: array(
        object({
          source: listOf([
            'ipBlocks',
            'namespaces',
            'notIpBlocks',
            'notNamespaces',
            'notPrincipals',
            'notRemoteIpBlocks',
            'notRequestPrincipals',
            'notServiceAccounts',
            'principals',
            'remoteIpBlocks',
            'requestPrincipals',
            'serviceAccounts',
          ]),
        }),
      ),
      to: array(
        object({
          operation: listOf([
            'hosts',
            'methods',
            'notHosts',
            'notMethods',
            'notPaths',
            'notPorts',
            'paths',
            'ports',
          ]),
        }),
      ),
      when: array(object({ key: str, notValues: strings, values: strings })),
    }),
  ),
  selector,
  targetRef,
  targetRefs: array(targetRef),
});

function istioCrd(kind: string, plural: string, shortName: string, spec: JsonSchema): KubeObject {
  const schema = { openAPIV3Schema: object({ spec, status: istioStatus }) };
  const version = (name: string, storage: boolean) => ({
    name,
    served: true,
    storage,
    schema,
    subresources: { status: {} },
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.security.istio.io`,
      labels: { app: 'istio-pilot', chart: 'istio', heritage: 'Tiller', release: 'istio' },
    },
    spec: {
      group: 'security.istio.io',
      names: {
        categories: ['istio-io', 'security-istio-io'],
        kind,
        listKind: `${kind}List`,
        plural,
        shortNames: [shortName],
        singular: kind.toLowerCase(),
      },
      scope: 'Namespaced',
      versions: [version('v1', true), version('v1beta1', false)],
    },
  };
}

/** PeerAuthentication and AuthorizationPolicy CRDs (security.istio.io). */
export function istioSecurityCrds(): KubeObject[] {
  return [
    istioCrd('PeerAuthentication', 'peerauthentications', 'pa', peerAuthenticationSpec),
    istioCrd('AuthorizationPolicy', 'authorizationpolicies', 'ap', authorizationPolicySpec),
  ];
}
