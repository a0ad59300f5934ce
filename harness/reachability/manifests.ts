import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { UserInputError } from '../errors.ts';
import type { AuthorizationPolicyInfo, AuthzRule, PeerAuthenticationInfo } from './mesh.ts';
import type { ClusterState, NetworkPolicyInfo, NetworkPolicyRule, PodInfo } from './types.ts';

/**
 * Reads Kubernetes manifests (YAML, multi-document, or JSON; `List` objects are unpacked) into the
 * model's ClusterState: Namespace, Pod (status.podIP, container ports), NetworkPolicy, and Istio's
 * PeerAuthentication and AuthorizationPolicy. Other kinds are counted and ignored. A malformed
 * object is a UserInputError naming the file, the object and the field.
 */

const selector = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: z.string(),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string()).optional(),
        }),
      )
      .optional(),
  })
  .strict();

const meta = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const NamespaceSchema = z.object({ metadata: meta });

const PodSchema = z.object({
  metadata: meta,
  spec: z.object({
    hostNetwork: z.boolean().optional(),
    serviceAccountName: z.string().optional(),
    containers: z
      .array(
        z.object({
          name: z.string(),
          ports: z
            .array(
              z.object({
                name: z.string().optional(),
                containerPort: z.number().int().min(1).max(65535),
                protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
              }),
            )
            .optional(),
        }),
      )
      .min(1),
  }),
  status: z.object({ podIP: z.string().optional() }).optional(),
});

const npPort = z.object({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  port: z.union([z.number().int().min(1).max(65535), z.string().min(1)]).optional(),
  endPort: z.number().int().min(1).max(65535).optional(),
});
const npPeer = z
  .object({
    podSelector: selector.optional(),
    namespaceSelector: selector.optional(),
    ipBlock: z.object({ cidr: z.string(), except: z.array(z.string()).optional() }).optional(),
  })
  .refine(
    (p) => !(p.ipBlock && (p.podSelector || p.namespaceSelector)),
    'ipBlock cannot be combined with podSelector or namespaceSelector in one peer',
  );

const NetworkPolicySchema = z.object({
  metadata: meta,
  spec: z.object({
    podSelector: selector,
    policyTypes: z.array(z.enum(['Ingress', 'Egress'])).optional(),
    ingress: z
      .array(z.object({ from: z.array(npPeer).optional(), ports: z.array(npPort).optional() }))
      .optional(),
    egress: z
      .array(z.object({ to: z.array(npPeer).optional(), ports: z.array(npPort).optional() }))
      .optional(),
  }),
});

const istioSelector = z.object({ matchLabels: z.record(z.string(), z.string()).optional() }).optional();

const PeerAuthenticationSchema = z.object({
  metadata: meta,
  spec: z
    .object({
      selector: istioSelector,
      mtls: z.object({ mode: z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']).optional() }).optional(),
    })
    .optional(),
});

const strings = z.array(z.string()).optional();
const AuthorizationPolicySchema = z.object({
  metadata: meta,
  spec: z
    .object({
      selector: istioSelector,
      targetRef: z.unknown().optional(),
      targetRefs: z.array(z.unknown()).optional(),
      action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']).optional(),
      rules: z
        .array(
          z.object({
            from: z.array(z.object({ source: z.record(z.string(), strings) })).optional(),
            to: z.array(z.object({ operation: z.record(z.string(), strings) })).optional(),
            when: z.array(z.object({ key: z.string(), values: strings, notValues: strings })).optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});

const L4_SOURCE = new Set([
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
]);
const L4_OPERATION = new Set(['ports', 'notPorts']);

function toRule(
  r: z.infer<typeof AuthorizationPolicySchema>['spec'] extends infer S
    ? S extends { rules?: (infer R)[] }
      ? R
      : never
    : never,
): AuthzRule {
  const rule: AuthzRule = {};
  if (r.from)
    rule.from = r.from.map((f) => {
      const l7 = Object.keys(f.source).filter((k) => !L4_SOURCE.has(k));
      return { source: { ...pick(f.source, L4_SOURCE), ...(l7.length ? { l7 } : {}) } };
    });
  if (r.to)
    rule.to = r.to.map((t) => {
      const l7 = Object.keys(t.operation).filter((k) => !L4_OPERATION.has(k));
      return { operation: { ...pick(t.operation, L4_OPERATION), ...(l7.length ? { l7 } : {}) } };
    });
  if (r.when)
    rule.when = r.when.map((c) => ({
      key: c.key,
      ...(c.values ? { values: c.values } : {}),
      ...(c.notValues ? { notValues: c.notValues } : {}),
    }));
  return rule;
}

function pick(rec: Record<string, string[] | undefined>, keys: Set<string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(rec)) if (keys.has(k) && v) out[k] = v;
  return out;
}

export interface ReadResult {
  state: ClusterState;
  ignored: Record<string, number>;
  files: string[];
}

function listFiles(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input);
    } catch {
      throw new UserInputError(`no such file or directory: ${input}`, {
        expected: 'a manifest file or a folder of them',
        seen: 'nothing at that path',
      });
    }
    if (st.isDirectory()) {
      for (const entry of readdirSync(input).sort()) {
        const p = path.join(input, entry);
        if (statSync(p).isDirectory()) out.push(...listFiles([p]));
        else if (/\.(ya?ml|json)$/i.test(entry)) out.push(p);
      }
    } else out.push(input);
  }
  return out;
}

function objectName(o: Record<string, unknown>, index: number): string {
  const m = (o.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const kind = typeof o.kind === 'string' ? o.kind : '(no kind)';
  const name =
    typeof m.name === 'string'
      ? `${typeof m.namespace === 'string' ? `${m.namespace}/` : ''}${m.name}`
      : `#${index + 1}`;
  return `${kind} ${name}`;
}

function parseObject<T>(schema: z.ZodType<T>, o: Record<string, unknown>, file: string, index: number): T {
  const r = schema.safeParse(o);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where =
    issue?.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '') ?? '';
  throw new UserInputError(`${file}: ${objectName(o, index)}: invalid ${where || 'object'}`, {
    expected: issue?.message ?? 'a valid object',
    seen:
      JSON.stringify(
        issue?.path.reduce<unknown>(
          (cur, k) => (cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined),
          o,
        ),
      ) ?? 'nothing',
  });
}

function toNpRule(
  r: { from?: unknown; to?: unknown; ports?: NetworkPolicyRule['ports'] },
  peers: NetworkPolicyRule['peers'],
): NetworkPolicyRule {
  return { ...(peers ? { peers } : {}), ...(r.ports ? { ports: r.ports } : {}) };
}

/** Converts Kubernetes objects (as the API or a manifest holds them) into the model's ClusterState. */
export function objectsToState(objects: { source: string; object: Record<string, unknown> }[]): {
  state: ClusterState;
  ignored: Record<string, number>;
} {
  const state: ClusterState = {
    namespaces: [],
    pods: [],
    networkPolicies: [],
    peerAuthentications: [],
    authorizationPolicies: [],
  };
  const ignored: Record<string, number> = {};
  objects.forEach(({ source: file, object: o }, i) => {
    const kind = o.kind;
    if (typeof kind !== 'string')
      throw new UserInputError(`${file}: object #${i + 1} has no kind`, {
        expected: 'kind and apiVersion',
        seen: JSON.stringify(o).slice(0, 80),
      });
    const ns = (m: { namespace?: string | undefined }) => m.namespace ?? 'default';
    switch (kind) {
      case 'Namespace': {
        const n = parseObject(NamespaceSchema, o, file, i);
        state.namespaces.push({ name: n.metadata.name, labels: n.metadata.labels ?? {} });
        break;
      }
      case 'Pod': {
        const p = parseObject(PodSchema, o, file, i);
        const pod: PodInfo = {
          namespace: ns(p.metadata),
          name: p.metadata.name,
          labels: p.metadata.labels ?? {},
          ...(p.metadata.annotations ? { annotations: p.metadata.annotations } : {}),
          ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
          ports: p.spec.containers.flatMap((c) =>
            (c.ports ?? []).map((x) => ({
              containerPort: x.containerPort,
              ...(x.name ? { name: x.name } : {}),
              ...(x.protocol ? { protocol: x.protocol } : {}),
            })),
          ),
          ...(p.spec.hostNetwork ? { hostNetwork: true } : {}),
          serviceAccount: p.spec.serviceAccountName ?? 'default',
        };
        state.pods.push(pod);
        break;
      }
      case 'NetworkPolicy': {
        const np = parseObject(NetworkPolicySchema, o, file, i);
        const info: NetworkPolicyInfo = {
          namespace: ns(np.metadata),
          name: np.metadata.name,
          podSelector: np.spec.podSelector,
          policyTypes: np.spec.policyTypes ?? [],
          ingress: (np.spec.ingress ?? []).map((r) => toNpRule(r, r.from)),
          egress: (np.spec.egress ?? []).map((r) => toNpRule(r, r.to)),
        };
        state.networkPolicies.push(info);
        break;
      }
      case 'PeerAuthentication': {
        const pa = parseObject(PeerAuthenticationSchema, o, file, i);
        const info: PeerAuthenticationInfo = {
          namespace: ns(pa.metadata),
          name: pa.metadata.name,
          mode: pa.spec?.mtls?.mode ?? 'UNSET',
          ...(pa.spec?.selector?.matchLabels
            ? { selector: { matchLabels: pa.spec.selector.matchLabels } }
            : {}),
        };
        state.peerAuthentications?.push(info);
        break;
      }
      case 'AuthorizationPolicy': {
        const ap = parseObject(AuthorizationPolicySchema, o, file, i);
        const info: AuthorizationPolicyInfo = {
          namespace: ns(ap.metadata),
          name: ap.metadata.name,
          action: ap.spec?.action ?? 'ALLOW',
          ...(ap.spec?.selector?.matchLabels
            ? { selector: { matchLabels: ap.spec.selector.matchLabels } }
            : {}),
          ...(ap.spec?.targetRef || ap.spec?.targetRefs ? { targetRefs: true } : {}),
          ...(ap.spec?.rules ? { rules: ap.spec.rules.map(toRule) } : {}),
        };
        state.authorizationPolicies?.push(info);
        break;
      }
      default:
        ignored[kind] = (ignored[kind] ?? 0) + 1;
    }
  });
  return { state, ignored };
}

export function readManifests(inputs: string[]): ReadResult {
  const files = listFiles(inputs);
  const objects: { source: string; object: Record<string, unknown> }[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) {
        throw new UserInputError(`${file}: not valid YAML or JSON`, {
          expected: 'Kubernetes manifests',
          seen: doc.errors[0]?.message.split('\n')[0] ?? 'parse error',
        });
      }
      const d: unknown = doc.toJS();
      if (d === null || d === undefined) continue;
      if (typeof d !== 'object' || Array.isArray(d))
        throw new UserInputError(`${file}: a document is not an object`, {
          expected: 'a Kubernetes object',
          seen: JSON.stringify(d).slice(0, 80),
        });
      const o = d as Record<string, unknown>;
      if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items))
        for (const item of o.items as Record<string, unknown>[]) objects.push({ source: file, object: item });
      else objects.push({ source: file, object: o });
    }
  }
  const { state, ignored } = objectsToState(objects);
  return { state, ignored, files };
}
