import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type {
  Container,
  Crd,
  Digest,
  EnvVar,
  LabelSelector,
  ObjectSummary,
  PolicyRule,
  Probe,
  ServiceSpec,
  ShortOrDigest,
  Volume,
  Webhook,
  Workload,
} from './schema.ts';

/**
 * From rendered manifests (`helm template` output) to the fact summaries of schema.ts. Pure, so
 * the test can hold it against a hand-written manifest without the charts or helm.
 */

type Obj = Record<string, unknown>;

/** Data values longer than this are digested. */
export const DATA_LIMIT = 1024;
/** Annotation values longer than this are digested. */
export const ANNOTATION_LIMIT = 256;
/** Generic fields whose JSON is longer than this are digested. */
export const FIELD_LIMIT = 512;

export function digest(text: string): Digest {
  return {
    bytes: Buffer.byteLength(text, 'utf8'),
    sha256: createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16),
  };
}

function shortOrDigest(text: string, limit: number): ShortOrDigest {
  return Buffer.byteLength(text, 'utf8') <= limit ? text : digest(text);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.map((x) => String(x)) : undefined;
}
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  return out;
}
/** A scalar as text (YAML may have typed it: `divisor: 1`); anything else as JSON. */
function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
function intOrString(v: unknown): number | string | undefined {
  return typeof v === 'number' || typeof v === 'string' ? v : undefined;
}

/** Drops keys whose value is undefined, so the JSON carries only what the manifest said. */
function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function nonEmpty<T>(xs: T[] | undefined): T[] | undefined {
  return xs && xs.length > 0 ? xs : undefined;
}

export function labelSelector(v: unknown): LabelSelector | undefined {
  if (!isObj(v)) return undefined;
  const matchLabels = isObj(v.matchLabels) ? stringMap(v.matchLabels) : undefined;
  const matchExpressions = Array.isArray(v.matchExpressions)
    ? v.matchExpressions.map((e) => {
        const x = obj(e);
        return compact({
          key: String(x.key),
          operator: String(x.operator),
          values: strings(x.values),
        });
      })
    : undefined;
  return compact({ matchLabels, matchExpressions });
}

function envVar(v: unknown): EnvVar {
  const e = obj(v);
  const name = String(e.name);
  if (e.value !== undefined && e.value !== null) return { name, value: text(e.value) };
  const from = obj(e.valueFrom);
  let ref: string | undefined;
  if (isObj(from.fieldRef)) ref = `fieldRef:${String(from.fieldRef.fieldPath)}`;
  else if (isObj(from.resourceFieldRef)) {
    const r = from.resourceFieldRef;
    ref = `resourceFieldRef:${String(r.resource)}${r.divisor === undefined ? '' : `/${text(r.divisor)}`}`;
  } else if (isObj(from.configMapKeyRef))
    ref = `configMapKeyRef:${String(from.configMapKeyRef.name)}/${String(from.configMapKeyRef.key)}`;
  else if (isObj(from.secretKeyRef))
    ref = `secretKeyRef:${String(from.secretKeyRef.name)}/${String(from.secretKeyRef.key)}`;
  return ref === undefined ? { name } : { name, from: ref };
}

function probe(v: unknown): Probe | undefined {
  if (!isObj(v)) return undefined;
  const timing = {
    initialDelaySeconds: num(v.initialDelaySeconds),
    periodSeconds: num(v.periodSeconds),
    timeoutSeconds: num(v.timeoutSeconds),
    successThreshold: num(v.successThreshold),
    failureThreshold: num(v.failureThreshold),
  };
  if (isObj(v.httpGet))
    return compact({
      handler: 'httpGet' as const,
      port: intOrString(v.httpGet.port),
      path: str(v.httpGet.path),
      scheme: str(v.httpGet.scheme),
      ...timing,
    });
  if (isObj(v.tcpSocket))
    return compact({ handler: 'tcpSocket' as const, port: intOrString(v.tcpSocket.port), ...timing });
  if (isObj(v.grpc)) return compact({ handler: 'grpc' as const, port: intOrString(v.grpc.port), ...timing });
  return compact({ handler: 'exec' as const, command: strings(obj(v.exec).command), ...timing });
}

function container(v: unknown): Container {
  const c = obj(v);
  const sc = isObj(c.securityContext) ? c.securityContext : undefined;
  const caps = obj(sc?.capabilities);
  const resources = isObj(c.resources)
    ? compact({
        requests: isObj(c.resources.requests) ? stringMap(c.resources.requests) : undefined,
        limits: isObj(c.resources.limits) ? stringMap(c.resources.limits) : undefined,
      })
    : undefined;
  return compact({
    name: String(c.name),
    image: String(c.image),
    imagePullPolicy: str(c.imagePullPolicy),
    command: strings(c.command),
    args: strings(c.args),
    ports: arr(c.ports).map((p) => {
      const x = obj(p);
      return compact({
        name: str(x.name),
        containerPort: Number(x.containerPort),
        protocol: str(x.protocol),
        hostPort: num(x.hostPort),
      });
    }),
    env: arr(c.env).map(envVar),
    envFrom: nonEmpty(
      arr(c.envFrom).map((e) => {
        const x = obj(e);
        return isObj(x.configMapRef)
          ? `configMapRef:${String(x.configMapRef.name)}`
          : `secretRef:${String(obj(x.secretRef).name)}`;
      }),
    ),
    resources,
    readinessProbe: probe(c.readinessProbe),
    livenessProbe: probe(c.livenessProbe),
    startupProbe: probe(c.startupProbe),
    volumeMounts: arr(c.volumeMounts).map((m) => {
      const x = obj(m);
      return compact({
        name: String(x.name),
        mountPath: String(x.mountPath),
        readOnly: bool(x.readOnly),
        subPath: str(x.subPath),
      });
    }),
    securityContext: sc
      ? compact({
          privileged: bool(sc.privileged),
          runAsUser: num(sc.runAsUser),
          runAsGroup: num(sc.runAsGroup),
          runAsNonRoot: bool(sc.runAsNonRoot),
          readOnlyRootFilesystem: bool(sc.readOnlyRootFilesystem),
          allowPrivilegeEscalation: bool(sc.allowPrivilegeEscalation),
          capabilitiesAdd: strings(caps.add),
          capabilitiesDrop: strings(caps.drop),
        })
      : undefined,
  });
}

function volume(v: unknown): Volume {
  const x = obj(v);
  const name = String(x.name);
  const type = Object.keys(x).find((k) => k !== 'name') ?? 'unknown';
  const src = obj(x[type]);
  switch (type) {
    case 'hostPath':
      return compact({ name, type, path: str(src.path), hostPathType: str(src.type) });
    case 'configMap':
      return compact({ name, type, source: str(src.name), optional: bool(src.optional) });
    case 'secret':
      return compact({ name, type, source: str(src.secretName), optional: bool(src.optional) });
    case 'emptyDir':
      return compact({ name, type, medium: str(src.medium) });
    case 'projected':
      return {
        name,
        type,
        sources: arr(src.sources).map((s) => {
          const p = obj(s);
          if (isObj(p.serviceAccountToken))
            return `serviceAccountToken:${str(p.serviceAccountToken.audience) ?? ''}`;
          if (isObj(p.configMap)) return `configMap:${String(p.configMap.name)}`;
          if (isObj(p.secret)) return `secret:${String(p.secret.name)}`;
          return Object.keys(p)[0] ?? 'unknown';
        }),
      };
    default:
      return { name, type };
  }
}

export function workload(spec: Obj): Workload {
  const tpl = obj(spec.template);
  const meta = obj(tpl.metadata);
  const pod = obj(tpl.spec);
  const strategy = spec.updateStrategy ?? spec.strategy;
  return compact({
    replicas: num(spec.replicas),
    selector: labelSelector(spec.selector) ?? {},
    strategy: isObj(strategy) ? strategy : undefined,
    minReadySeconds: num(spec.minReadySeconds),
    template: { labels: stringMap(meta.labels), annotations: stringMap(meta.annotations) },
    serviceAccountName: str(pod.serviceAccountName),
    hostNetwork: bool(pod.hostNetwork),
    dnsPolicy: str(pod.dnsPolicy),
    priorityClassName: str(pod.priorityClassName),
    terminationGracePeriodSeconds: num(pod.terminationGracePeriodSeconds),
    nodeSelector: isObj(pod.nodeSelector) ? stringMap(pod.nodeSelector) : undefined,
    tolerations: Array.isArray(pod.tolerations) ? pod.tolerations.map(obj) : undefined,
    containers: arr(pod.containers).map(container),
    initContainers: nonEmpty(arr(pod.initContainers).map(container)),
    volumes: arr(pod.volumes).map(volume),
  });
}

function service(spec: Obj): ServiceSpec {
  return compact({
    type: str(spec.type),
    clusterIP: str(spec.clusterIP),
    selector: isObj(spec.selector) ? stringMap(spec.selector) : undefined,
    ports: arr(spec.ports).map((p) => {
      const x = obj(p);
      return compact({
        name: str(x.name),
        port: Number(x.port),
        targetPort: intOrString(x.targetPort),
        protocol: str(x.protocol),
        appProtocol: str(x.appProtocol),
      });
    }),
  });
}

function webhook(v: unknown): Webhook {
  const w = obj(v);
  const cc = obj(w.clientConfig);
  const svc = isObj(cc.service) ? cc.service : undefined;
  return compact({
    name: String(w.name),
    failurePolicy: str(w.failurePolicy),
    sideEffects: str(w.sideEffects),
    admissionReviewVersions: strings(w.admissionReviewVersions),
    reinvocationPolicy: str(w.reinvocationPolicy),
    timeoutSeconds: num(w.timeoutSeconds),
    service: svc
      ? compact({
          name: String(svc.name),
          namespace: String(svc.namespace),
          path: str(svc.path),
          port: num(svc.port),
        })
      : undefined,
    url: str(cc.url),
    caBundle: typeof cc.caBundle === 'string' && cc.caBundle !== '',
    namespaceSelector: labelSelector(w.namespaceSelector),
    objectSelector: labelSelector(w.objectSelector),
    rules: arr(w.rules).map((r) => {
      const x = obj(r);
      return compact({
        operations: strings(x.operations) ?? [],
        apiGroups: strings(x.apiGroups) ?? [],
        apiVersions: strings(x.apiVersions) ?? [],
        resources: strings(x.resources) ?? [],
        scope: str(x.scope),
      });
    }),
  });
}

function crd(spec: Obj): Crd {
  const names = obj(spec.names);
  const versions = arr(spec.versions).map(obj);
  const schemas = versions.map((x) => obj(x.schema).openAPIV3Schema).filter((x) => x !== undefined);
  return {
    group: String(spec.group),
    scope: String(spec.scope),
    names: compact({
      kind: String(names.kind),
      plural: String(names.plural),
      singular: str(names.singular),
      listKind: str(names.listKind),
      shortNames: strings(names.shortNames),
      categories: strings(names.categories),
    }),
    versions: versions.map((x) =>
      compact({
        name: String(x.name),
        served: x.served === true,
        storage: x.storage === true,
        deprecated: bool(x.deprecated),
        subresources: isObj(x.subresources) ? nonEmpty(Object.keys(x.subresources)) : undefined,
      }),
    ),
    ...(schemas.length ? { schemas: digest(JSON.stringify(schemas)) } : {}),
  };
}

/** A list for a rule line: comma-joined, the empty string (the core group) as `core`. */
function ruleList(xs: string[] | undefined, core = false): string {
  return (xs ?? []).map((x) => (core && x === '' ? 'core' : x)).join(',');
}

export function policyRule(v: unknown): PolicyRule {
  const r = obj(v);
  const verbs = `verbs=${ruleList(strings(r.verbs))}`;
  if (Array.isArray(r.nonResourceURLs) && !Array.isArray(r.resources))
    return `urls=${ruleList(strings(r.nonResourceURLs))} ${verbs}`;
  const names = strings(r.resourceNames);
  return `groups=${ruleList(strings(r.apiGroups), true)} resources=${ruleList(strings(r.resources))} ${verbs}${names?.length ? ` names=${ruleList(names)}` : ''}`;
}

function fields(o: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    const json = JSON.stringify(v);
    out[k] = Buffer.byteLength(json, 'utf8') <= FIELD_LIMIT ? v : digest(json);
  }
  return out;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet']);

/** The fact summary of one rendered object. */
export function summarizeObject(o: Obj, template: string): ObjectSummary {
  const meta = obj(o.metadata);
  const kind = String(o.kind);
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(stringMap(meta.annotations))) {
    const s = shortOrDigest(v, ANNOTATION_LIMIT);
    annotations[k] = typeof s === 'string' ? s : `sha256:${s.sha256} (${s.bytes} bytes)`;
  }
  const base: ObjectSummary = compact({
    apiVersion: String(o.apiVersion),
    kind,
    name: String(meta.name),
    namespace: str(meta.namespace),
    template,
    labels: stringMap(meta.labels),
    annotations,
  });
  const spec = obj(o.spec);
  if (WORKLOAD_KINDS.has(kind)) return { ...base, workload: workload(spec) };
  switch (kind) {
    case 'Service':
      return { ...base, service: service(spec) };
    case 'MutatingWebhookConfiguration':
    case 'ValidatingWebhookConfiguration':
      return { ...base, webhooks: arr(o.webhooks).map(webhook) };
    case 'CustomResourceDefinition':
      return { ...base, crd: crd(spec) };
    case 'ClusterRole':
    case 'Role': {
      const agg = isObj(o.aggregationRule)
        ? arr(o.aggregationRule.clusterRoleSelectors).map((s) => labelSelector(s) ?? {})
        : undefined;
      return compact({ ...base, rules: arr(o.rules).map(policyRule), aggregationRule: agg });
    }
    case 'ClusterRoleBinding':
    case 'RoleBinding': {
      const ref = obj(o.roleRef);
      return {
        ...base,
        roleRef: compact({ apiGroup: str(ref.apiGroup), kind: String(ref.kind), name: String(ref.name) }),
        subjects: arr(o.subjects).map((s) => {
          const x = obj(s);
          return compact({
            kind: String(x.kind),
            name: String(x.name),
            namespace: str(x.namespace),
            apiGroup: str(x.apiGroup),
          });
        }),
      };
    }
    case 'ConfigMap':
    case 'Secret': {
      const data: Record<string, ShortOrDigest> = {};
      for (const [k, v] of Object.entries(stringMap(o.data))) data[k] = shortOrDigest(v, DATA_LIMIT);
      for (const [k, v] of Object.entries(stringMap(o.stringData))) data[k] = shortOrDigest(v, DATA_LIMIT);
      return { ...base, data };
    }
    case 'ServiceAccount':
      return compact({
        ...base,
        automountServiceAccountToken: bool(o.automountServiceAccountToken),
        imagePullSecrets: Array.isArray(o.imagePullSecrets)
          ? o.imagePullSecrets.map((s) => String(obj(s).name))
          : undefined,
      });
    default: {
      const f = fields(o);
      return Object.keys(f).length ? { ...base, fields: f } : base;
    }
  }
}

/** The labels every object carries with the same value. */
export function commonLabels(objects: readonly ObjectSummary[]): Record<string, string> {
  const [first, ...rest] = objects;
  const common: Record<string, string> = { ...first?.labels };
  for (const o of rest) for (const [k, v] of Object.entries(common)) if (o.labels[k] !== v) delete common[k];
  return common;
}

/** The objects with the common labels left out (the file form; inventoryFor restores them). */
export function withoutLabels(
  objects: readonly ObjectSummary[],
  labels: Record<string, string>,
): ObjectSummary[] {
  return objects.map((o) => ({
    ...o,
    labels: Object.fromEntries(Object.entries(o.labels).filter(([k]) => !(k in labels))),
  }));
}

/**
 * Splits `helm template` output into documents and summarizes each, keeping the order helm
 * printed (its install order). Empty documents are skipped.
 */
export function summarizeManifests(text: string): ObjectSummary[] {
  const out: ObjectSummary[] = [];
  for (const chunk of text.split(/^---[ \t]*$/m)) {
    const source = /^# Source: (.+)$/m.exec(chunk)?.[1]?.trim() ?? '(unknown)';
    const doc: unknown = parseYaml(chunk);
    if (!isObj(doc) || doc.kind === undefined) continue;
    out.push(summarizeObject(doc, source));
  }
  return out;
}
