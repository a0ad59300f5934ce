import { invalid, type FieldError } from './apiserver-errors.ts';

/**
 * What the twin serves: one ResourceType per group/resource. Built-in types are listed here;
 * custom resources are served for every CustomResourceDefinition in the store (typesFromCrd), as
 * the apiextensions-apiserver does. The facts (kinds, scopes, short names, subresources, field
 * selectors, name rules) follow Kubernetes v1.34.
 */

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';
export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export type Subresource = 'status' | 'scale';

/** The part of an OpenAPI v3 structural schema the twin walks for unknown fields. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [key: string]: unknown;
}

/** How metadata.name is validated (pkg/api/validation NameIsDNSSubdomain and friends). */
export type NameRule = 'subdomain' | 'label' | 'dns1035' | 'path';

export interface ResourceType {
  group: string;
  /** The preferred (storage) version; `versions` are all served (objects are shared, not converted). */
  version: string;
  versions: readonly string[];
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  verbs: readonly Verb[];
  subresources: readonly Subresource[];
  /** Built-in types: the top-level fields besides apiVersion, kind and metadata (strict field validation). */
  topLevelFields?: readonly string[];
  /** Custom resources: the served version's structural schema. */
  schema?: JsonSchema;
  custom: boolean;
  /**
   * Top-level fields whose change increments metadata.generation; '*' is every field but metadata
   * and status (custom resources). Absent: the type has no generation.
   */
  generationFields?: readonly string[] | '*';
  /** DELETE answers with the object (registry ReturnDeletedObject) instead of a Status. */
  returnsDeletedObject: boolean;
  /** An update without metadata.resourceVersion is refused (AllowUnconditionalUpdate false). */
  requiresResourceVersion: boolean;
  nameRule: NameRule;
  /** Field selectors besides metadata.name and metadata.namespace. */
  fieldLabels: readonly string[];
  /** A create keeps the status it is given (Node: the kubelet registers with one); others reset it. */
  createKeepsStatus?: boolean;
  /** Sets defaults on a new object (the strategy's PrepareForCreate and the type's defaulting). */
  prepareForCreate?: (obj: KubeObject) => void;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** An object as the API serves it (wire JSON: times are strings, NetworkPolicy rules say `from`). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export const META_FIELDS: readonly string[] = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

export function apiVersionOf(rt: Pick<ResourceType, 'group' | 'version'>, version = rt.version): string {
  return rt.group ? `${rt.group}/${version}` : version;
}

interface BuiltinSpec {
  shortNames?: string[];
  cluster?: boolean;
  fields: string[];
  subresources?: Subresource[];
  verbs?: Verb[];
  generation?: string[];
  returnsDeleted?: boolean;
  requiresResourceVersion?: boolean;
  nameRule?: NameRule;
  fieldLabels?: string[];
  createKeepsStatus?: boolean;
  prepare?: (obj: KubeObject) => void;
}

function builtin(groupVersion: string, kind: string, resource: string, s: BuiltinSpec): ResourceType {
  const [group, version] = groupVersion.includes('/') ? groupVersion.split('/') : ['', groupVersion];
  return {
    group: group ?? '',
    version: version ?? '',
    versions: [version ?? ''],
    resource,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced: !s.cluster,
    shortNames: s.shortNames ?? [],
    verbs: s.verbs ?? ALL_VERBS,
    subresources: s.subresources ?? [],
    topLevelFields: s.fields,
    custom: false,
    ...(s.generation ? { generationFields: s.generation } : {}),
    returnsDeletedObject: s.returnsDeleted ?? false,
    requiresResourceVersion: s.requiresResourceVersion ?? false,
    nameRule: s.nameRule ?? 'subdomain',
    fieldLabels: s.fieldLabels ?? [],
    ...(s.createKeepsStatus ? { createKeepsStatus: true } : {}),
    ...(s.prepare ? { prepareForCreate: s.prepare } : {}),
  };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** Only the defaults a client is likely to read back; the rest of upstream defaulting is not done. */
const prepare = {
  namespace: (o: KubeObject) => {
    const name = o.metadata.name ?? '';
    o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': name };
    o.spec = { finalizers: ['kubernetes'], ...obj(o.spec) };
    o.status = { phase: 'Active' };
  },
  pod: (o: KubeObject) => {
    o.spec = {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      ...obj(o.spec),
    };
    o.status = { phase: 'Pending', ...obj(o.status) };
  },
  secret: (o: KubeObject) => {
    const stringData = obj(o.stringData);
    if (Object.keys(stringData).length) {
      const data = { ...obj(o.data) };
      for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v)).toString('base64');
      o.data = data;
    }
    delete o.stringData;
    o.type ??= 'Opaque';
  },
  /** The apiextensions controllers' verdict, at once: names accepted, Established. */
  crd: (o: KubeObject) => {
    const spec = obj(o.spec);
    const storage = (Array.isArray(spec.versions) ? spec.versions : [])
      .map(obj)
      .find((v) => v.storage === true);
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const cond = (type: string, reason: string, message: string) => ({
      type,
      status: 'True',
      lastTransitionTime: at,
      reason,
      message,
    });
    o.status = {
      conditions: [
        cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
        cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
      ],
      acceptedNames: spec.names ?? {},
      storedVersions: storage ? [storage.name] : [],
    };
  },
  workload: (o: KubeObject) => {
    o.spec = { replicas: 1, revisionHistoryLimit: 10, ...obj(o.spec) };
  },
};

/** The built-in types the twin serves (Kubernetes v1.34; metrics.k8s.io is metrics-server's). */
export function builtinTypes(): ResourceType[] {
  const podFields = [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ];
  const eventFields = [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ];
  const workload = (kind: string, resource: string, shortName: string, scale: boolean) =>
    builtin('apps/v1', kind, resource, {
      shortNames: [shortName],
      fields: ['spec', 'status'],
      subresources: scale ? ['status', 'scale'] : ['status'],
      generation: ['spec'],
      ...(kind === 'DaemonSet' ? {} : { prepare: prepare.workload }),
    });
  return [
    builtin('v1', 'Namespace', 'namespaces', {
      shortNames: ['ns'],
      cluster: true,
      fields: ['spec', 'status'],
      subresources: ['status'],
      returnsDeleted: true,
      nameRule: 'label',
      fieldLabels: ['status.phase'],
      prepare: prepare.namespace,
    }),
    builtin('v1', 'Pod', 'pods', {
      shortNames: ['po'],
      fields: ['spec', 'status'],
      subresources: ['status'],
      generation: ['spec'],
      returnsDeleted: true,
      fieldLabels: podFields,
      prepare: prepare.pod,
    }),
    builtin('v1', 'Service', 'services', {
      shortNames: ['svc'],
      fields: ['spec', 'status'],
      subresources: ['status'],
      returnsDeleted: true,
      nameRule: 'dns1035',
    }),
    builtin('v1', 'ServiceAccount', 'serviceaccounts', {
      shortNames: ['sa'],
      fields: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
      returnsDeleted: true,
    }),
    builtin('v1', 'ConfigMap', 'configmaps', {
      shortNames: ['cm'],
      fields: ['data', 'binaryData', 'immutable'],
    }),
    builtin('v1', 'Secret', 'secrets', {
      fields: ['data', 'stringData', 'type', 'immutable'],
      fieldLabels: ['type'],
      prepare: prepare.secret,
    }),
    builtin('v1', 'Event', 'events', {
      shortNames: ['ev'],
      fields: [
        'involvedObject',
        'reason',
        'message',
        'source',
        'firstTimestamp',
        'lastTimestamp',
        'count',
        'type',
        'eventTime',
        'series',
        'action',
        'related',
        'reportingComponent',
        'reportingInstance',
      ],
      fieldLabels: eventFields,
    }),
    builtin('v1', 'Node', 'nodes', {
      shortNames: ['no'],
      cluster: true,
      fields: ['spec', 'status'],
      subresources: ['status'],
      fieldLabels: ['spec.unschedulable'],
      createKeepsStatus: true,
    }),
    builtin('v1', 'Endpoints', 'endpoints', { shortNames: ['ep'], fields: ['subsets'] }),
    workload('Deployment', 'deployments', 'deploy', true),
    workload('ReplicaSet', 'replicasets', 'rs', true),
    workload('DaemonSet', 'daemonsets', 'ds', false),
    workload('StatefulSet', 'statefulsets', 'sts', true),
    builtin('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', {
      shortNames: ['netpol'],
      fields: ['spec'],
      generation: ['spec'],
    }),
    builtin('rbac.authorization.k8s.io/v1', 'Role', 'roles', { fields: ['rules'], nameRule: 'path' }),
    builtin('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', {
      fields: ['subjects', 'roleRef'],
      nameRule: 'path',
    }),
    builtin('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', {
      cluster: true,
      fields: ['rules', 'aggregationRule'],
      nameRule: 'path',
    }),
    builtin('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', {
      cluster: true,
      fields: ['subjects', 'roleRef'],
      nameRule: 'path',
    }),
    builtin(
      'admissionregistration.k8s.io/v1',
      'MutatingWebhookConfiguration',
      'mutatingwebhookconfigurations',
      {
        cluster: true,
        fields: ['webhooks'],
        generation: ['webhooks'],
      },
    ),
    builtin(
      'admissionregistration.k8s.io/v1',
      'ValidatingWebhookConfiguration',
      'validatingwebhookconfigurations',
      { cluster: true, fields: ['webhooks'], generation: ['webhooks'] },
    ),
    builtin('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', {
      shortNames: ['crd', 'crds'],
      cluster: true,
      fields: ['spec', 'status'],
      subresources: ['status'],
      generation: ['spec'],
      returnsDeleted: true,
      prepare: prepare.crd,
    }),
    builtin('coordination.k8s.io/v1', 'Lease', 'leases', { fields: ['spec'], requiresResourceVersion: true }),
    builtin('apiregistration.k8s.io/v1', 'APIService', 'apiservices', {
      cluster: true,
      fields: ['spec', 'status'],
      subresources: ['status'],
    }),
    // metrics-server's aggregated API: read-only over HTTP, written by controllers through the store.
    builtin('metrics.k8s.io/v1beta1', 'PodMetrics', 'pods', {
      fields: ['timestamp', 'window', 'containers'],
      verbs: ['get', 'list'],
    }),
    builtin('metrics.k8s.io/v1beta1', 'NodeMetrics', 'nodes', {
      cluster: true,
      fields: ['timestamp', 'window', 'usage'],
      verbs: ['get', 'list'],
    }),
  ];
}

/** The served types of a CustomResourceDefinition (apiextensions.k8s.io/v1 wire JSON); none if not Established-able. */
export function typeFromCrd(crd: KubeObject): ResourceType | undefined {
  const spec = obj(crd.spec);
  const names = obj(spec.names);
  const group = typeof spec.group === 'string' ? spec.group : '';
  const plural = typeof names.plural === 'string' ? names.plural : '';
  const kind = typeof names.kind === 'string' ? names.kind : '';
  const versions = (Array.isArray(spec.versions) ? spec.versions : []).map(obj);
  const served = versions.filter((v) => v.served === true && typeof v.name === 'string');
  if (!group || !plural || !kind || !served.length) return undefined;
  const storage = served.find((v) => v.storage === true) ?? served[0] ?? {};
  const schema = obj(obj(storage.schema).openAPIV3Schema) as JsonSchema;
  const hasStatus = 'status' in obj(storage.subresources);
  const hasScale = 'scale' in obj(storage.subresources);
  return {
    group,
    version: String(storage.name),
    versions: served.map((v) => String(v.name)),
    resource: plural,
    singular: typeof names.singular === 'string' ? names.singular : kind.toLowerCase(),
    kind,
    listKind: typeof names.listKind === 'string' ? names.listKind : `${kind}List`,
    namespaced: spec.scope !== 'Cluster',
    shortNames: Array.isArray(names.shortNames) ? (names.shortNames as string[]) : [],
    verbs: ALL_VERBS,
    subresources: [...(hasStatus ? ['status' as const] : []), ...(hasScale ? ['scale' as const] : [])],
    schema,
    custom: true,
    generationFields: '*',
    returnsDeletedObject: false,
    requiresResourceVersion: false,
    nameRule: 'subdomain',
    fieldLabels: [],
  };
}

/** A resource named by plural ("pods"), plural.group ("deployments.apps"), Kind ("Pod") or parts. */
export type ResourceRef = string | { group?: string; resource: string };

/** Every type served now: the built-ins plus one per CRD in the store. */
export class ResourceRegistry {
  private readonly types = new Map<string, ResourceType>();

  constructor(types: ResourceType[]) {
    for (const t of types) this.add(t);
  }

  add(t: ResourceType): void {
    this.types.set(`${t.group}/${t.resource}`, t);
  }

  remove(group: string, resource: string): void {
    this.types.delete(`${group}/${resource}`);
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** The type served at /api(s)/<group>/<version>/<resource>, if any. */
  find(group: string, version: string, resource: string): ResourceType | undefined {
    const t = this.types.get(`${group}/${resource}`);
    return t && t.versions.includes(version) ? t : undefined;
  }

  resolve(ref: ResourceRef | ResourceType): ResourceType {
    if (typeof ref === 'object' && 'kind' in ref) return ref;
    const found = this.lookup(ref);
    if (!found) throw new Error(`twin: no resource type ${JSON.stringify(ref)} is served`);
    return found;
  }

  lookup(ref: ResourceRef): ResourceType | undefined {
    if (typeof ref === 'object') return this.types.get(`${ref.group ?? ''}/${ref.resource}`);
    const all = this.all();
    const dot = ref.indexOf('.');
    if (dot > 0) {
      const byGroup = this.types.get(`${ref.slice(dot + 1)}/${ref.slice(0, dot)}`);
      if (byGroup) return byGroup;
    }
    const matches = all.filter((t) => t.resource === ref || t.kind === ref || t.shortNames.includes(ref));
    return matches.find((t) => t.group === '') ?? matches[0];
  }

  /** API groups and their versions, the core group excluded, in registration order. */
  groups(): { name: string; versions: string[]; preferred: string }[] {
    const out = new Map<string, { name: string; versions: string[]; preferred: string }>();
    for (const t of this.all()) {
      if (!t.group) continue;
      const g = out.get(t.group) ?? { name: t.group, versions: [], preferred: t.version };
      for (const v of t.versions) if (!g.versions.includes(v)) g.versions.push(v);
      out.set(t.group, g);
    }
    return [...out.values()];
  }
}

// Name validation: apimachinery v0.34.0 pkg/util/validation/validation.go (IsDNS1123Label,
// IsDNS1123Subdomain, IsDNS1035Label, RegexError, MaxLenError), pkg/api/validation/generic.go
// (NameIsDNSSubdomain and friends, maskTrailingDash for a generateName prefix) and
// pkg/api/validation/path (ValidatePathSegmentName). Lengths are in bytes, as Go's len().
const LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const SUBDOMAIN_FMT = `${LABEL_FMT}(\\.${LABEL_FMT})*`;
const DNS1035_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const fullMatch = (fmt: string, v: string) => new RegExp(`^${fmt}$`).test(v);

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (!examples.length) return `${msg} (regex used for validation is '${fmt}')`;
  const e = examples.map((x, i) => `${i > 0 ? ' or ' : ''}'${x}', `).join('');
  return `${msg} (e.g. ${e}regex used for validation is '${fmt}')`;
}

export const maxLenError = (n: number) => `must be no more than ${n} characters`;

export function isDNS1123Label(value: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(value) > 63) out.push(maxLenError(63));
  if (!fullMatch(LABEL_FMT, value))
    out.push(
      fullMatch(SUBDOMAIN_FMT, value)
        ? 'must not contain dots'
        : regexError(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            LABEL_FMT,
            'my-name',
            '123-abc',
          ),
    );
  return out;
}

export function isDNS1123Subdomain(value: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(value) > 253) out.push(maxLenError(253));
  if (!fullMatch(SUBDOMAIN_FMT, value))
    out.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        SUBDOMAIN_FMT,
        'example.com',
      ),
    );
  return out;
}

export function isDNS1035Label(value: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(value) > 63) out.push(maxLenError(63));
  if (!fullMatch(DNS1035_FMT, value))
    out.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_FMT,
        'my-name',
        'abc-123',
      ),
    );
  return out;
}

/** generic.go maskTrailingDash: a prefix may end in '-' (its last two characters become "a"). */
const maskTrailingDash = (name: string) =>
  name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;

/** What the type's ValidateNameFunc says of `name`; `prefix` for a generateName. */
export function nameProblems(rule: NameRule, name: string, prefix = false): string[] {
  switch (rule) {
    case 'label':
      return isDNS1123Label(prefix ? maskTrailingDash(name) : name);
    case 'dns1035':
      return isDNS1035Label(prefix ? maskTrailingDash(name) : name);
    case 'path': {
      if (!prefix && (name === '.' || name === '..')) return [`may not be '${name}'`];
      return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
    }
    case 'subdomain':
      return isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
  }
}

/** 422 as ValidateObjectMeta answers for a missing or malformed name. */
export function validateName(rt: ResourceType, meta: ObjectMeta): void {
  const name = meta.name ?? '';
  const errs: FieldError[] = name
    ? nameProblems(rt.nameRule, name).map((detail) => ({
        type: 'FieldValueInvalid' as const,
        field: 'metadata.name',
        value: name,
        detail,
      }))
    : [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' }];
  if (errs.length) throw invalid({ group: rt.group, kind: rt.kind }, name, errs);
}
