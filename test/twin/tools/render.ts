import {
  parseRule,
  type Container,
  type ObjectSummary,
  type Volume,
  type Webhook,
} from '../inventory/index.ts';
import type { Json, KubeObj } from './kube.ts';

/**
 * An inventory object summary back to a Kubernetes object the twin accepts: the fields the
 * summary records, in their API shapes. Digested values (long ConfigMap data, CRD schemas) come
 * back as placeholders: a CRD gets a schema that keeps unknown fields.
 */

const isDigest = (v: unknown): v is { bytes: number; sha256: string } =>
  typeof v === 'object' && v !== null && 'sha256' in v;

function volume(v: Volume): Json {
  const out: Json = { name: v.name };
  switch (v.type) {
    case 'hostPath':
      out.hostPath = { path: v.path, ...(v.hostPathType ? { type: v.hostPathType } : {}) };
      break;
    case 'configMap':
      out.configMap = { name: v.source, ...(v.optional !== undefined ? { optional: v.optional } : {}) };
      break;
    case 'secret':
      out.secret = { secretName: v.source, ...(v.optional !== undefined ? { optional: v.optional } : {}) };
      break;
    case 'emptyDir':
      out.emptyDir = v.medium ? { medium: v.medium } : {};
      break;
    case 'projected':
      out.projected = {
        sources: (v.sources ?? []).map((s) => {
          const [k = '', arg = ''] = s.split(/:(.*)/s);
          if (k === 'serviceAccountToken') return { serviceAccountToken: { audience: arg, path: 'token' } };
          if (k === 'configMap') return { configMap: { name: arg } };
          if (k === 'secret') return { secret: { name: arg } };
          return { downwardAPI: {} };
        }),
      };
      break;
    default:
      out[v.type] = {};
  }
  return out;
}

function envFrom(from: string): Json {
  const [k = '', rest = ''] = from.split(/:(.*)/s);
  if (k === 'fieldRef') return { fieldRef: { fieldPath: rest } };
  if (k === 'resourceFieldRef') {
    const [resource, divisor] = rest.split('/');
    return { resourceFieldRef: { resource, ...(divisor ? { divisor } : {}) } };
  }
  const [name, key] = rest.split('/');
  return { [k]: { name, key } };
}

function probe(p: NonNullable<Container['readinessProbe']>): Json {
  const { handler, port, path, scheme, command, ...timing } = p;
  const h: Json =
    handler === 'exec'
      ? { command }
      : { ...(port !== undefined ? { port } : {}), ...(path ? { path } : {}), ...(scheme ? { scheme } : {}) };
  return { [handler]: h, ...timing };
}

function container(c: Container, hub?: string): Json {
  const sc = c.securityContext;
  return {
    name: c.name,
    image: hub ? rehub(c.image, hub) : c.image,
    ...(c.imagePullPolicy ? { imagePullPolicy: c.imagePullPolicy } : {}),
    ...(c.command ? { command: c.command } : {}),
    ...(c.args ? { args: c.args } : {}),
    ...(c.ports.length ? { ports: c.ports } : {}),
    ...(c.env.length
      ? {
          env: c.env.map((e) => ({
            name: e.name,
            ...(e.value !== undefined ? { value: e.value } : {}),
            ...(e.from ? { valueFrom: envFrom(e.from) } : {}),
          })),
        }
      : {}),
    ...(c.envFrom
      ? {
          envFrom: c.envFrom.map((f) => {
            const [k, name] = f.split(':');
            return { [k ?? 'configMapRef']: { name } };
          }),
        }
      : {}),
    ...(c.resources ? { resources: c.resources } : {}),
    ...(c.readinessProbe ? { readinessProbe: probe(c.readinessProbe) } : {}),
    ...(c.livenessProbe ? { livenessProbe: probe(c.livenessProbe) } : {}),
    ...(c.startupProbe ? { startupProbe: probe(c.startupProbe) } : {}),
    ...(c.volumeMounts.length ? { volumeMounts: c.volumeMounts } : {}),
    ...(sc
      ? {
          securityContext: {
            ...Object.fromEntries(
              Object.entries(sc).filter(([k]) => k !== 'capabilitiesAdd' && k !== 'capabilitiesDrop'),
            ),
            ...(sc.capabilitiesAdd || sc.capabilitiesDrop
              ? {
                  capabilities: {
                    ...(sc.capabilitiesAdd ? { add: sc.capabilitiesAdd } : {}),
                    ...(sc.capabilitiesDrop ? { drop: sc.capabilitiesDrop } : {}),
                  },
                }
              : {}),
          },
        }
      : {}),
  };
}

/** `docker.io/istio/pilot:1.28.3` with hub `my.reg/istio` -> `my.reg/istio/pilot:1.28.3`. */
export function rehub(image: string, hub: string): string {
  const slash = image.lastIndexOf('/');
  return `${hub.replace(/\/+$/, '')}/${image.slice(slash + 1)}`;
}

function webhook(w: Webhook): Json {
  const { caBundle: _ca, service, url, ...rest } = w;
  return {
    ...rest,
    clientConfig: { ...(service ? { service } : {}), ...(url ? { url } : {}) },
  };
}

export interface RenderOptions {
  /** The release namespace, for namespaced objects the chart leaves to Helm. */
  namespace: string;
  namespaced: boolean;
  /** --set global.hub. */
  hub?: string;
  /**
   * Images the values chose, by `<Kind>/<name>/<container>` (an addon chart's image.repository
   * and image.tag, built as its template does); they replace the recorded image.
   */
  images?: Readonly<Record<string, string>>;
}

export function renderObject(o: ObjectSummary, opts: RenderOptions): KubeObj {
  const obj: KubeObj = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: o.name,
      ...(opts.namespaced ? { namespace: o.namespace ?? opts.namespace } : {}),
      labels: { ...o.labels },
      annotations: { ...o.annotations },
    },
  };
  const withImage = (c: Json, name: string): Json => {
    const image = opts.images?.[`${o.kind}/${o.name}/${name}`];
    return image === undefined ? c : { ...c, image };
  };
  if (o.workload) {
    const w = o.workload;
    obj.spec = {
      ...(w.replicas !== undefined ? { replicas: w.replicas } : {}),
      selector: w.selector,
      ...(w.strategy ? { [o.kind === 'DaemonSet' ? 'updateStrategy' : 'strategy']: w.strategy } : {}),
      ...(w.minReadySeconds !== undefined ? { minReadySeconds: w.minReadySeconds } : {}),
      template: {
        metadata: { labels: w.template.labels, annotations: w.template.annotations },
        spec: {
          ...(w.serviceAccountName ? { serviceAccountName: w.serviceAccountName } : {}),
          ...(w.hostNetwork !== undefined ? { hostNetwork: w.hostNetwork } : {}),
          ...(w.dnsPolicy ? { dnsPolicy: w.dnsPolicy } : {}),
          ...(w.priorityClassName ? { priorityClassName: w.priorityClassName } : {}),
          ...(w.terminationGracePeriodSeconds !== undefined
            ? { terminationGracePeriodSeconds: w.terminationGracePeriodSeconds }
            : {}),
          ...(w.nodeSelector ? { nodeSelector: w.nodeSelector } : {}),
          ...(w.tolerations ? { tolerations: w.tolerations } : {}),
          containers: w.containers.map((c) => withImage(container(c, opts.hub), c.name)),
          ...(w.initContainers
            ? { initContainers: w.initContainers.map((c) => withImage(container(c, opts.hub), c.name)) }
            : {}),
          volumes: w.volumes.map(volume),
        },
      },
    };
  }
  if (o.service) obj.spec = { ...o.service };
  if (o.webhooks) obj.webhooks = o.webhooks.map(webhook);
  if (o.crd) {
    const c = o.crd;
    obj.spec = {
      group: c.group,
      scope: c.scope,
      names: c.names,
      versions: c.versions.map((v) => ({
        name: v.name,
        served: v.served,
        storage: v.storage,
        ...(v.deprecated ? { deprecated: v.deprecated } : {}),
        ...(v.subresources ? { subresources: Object.fromEntries(v.subresources.map((s) => [s, {}])) } : {}),
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      })),
    };
  }
  if (o.rules) obj.rules = o.rules.map(parseRule);
  if (o.aggregationRule) obj.aggregationRule = { clusterRoleSelectors: o.aggregationRule };
  if (o.roleRef) obj.roleRef = { apiGroup: 'rbac.authorization.k8s.io', ...o.roleRef };
  if (o.subjects) obj.subjects = o.subjects;
  if (o.data) {
    const data = Object.fromEntries(
      Object.entries(o.data).map(([k, v]) => [
        k,
        isDigest(v) ? `# twin placeholder: ${v.bytes} bytes, sha256 ${v.sha256}` : v,
      ]),
    );
    obj.data =
      o.kind === 'Secret'
        ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
        : data;
  }
  if (o.automountServiceAccountToken !== undefined)
    obj.automountServiceAccountToken = o.automountServiceAccountToken;
  if (o.imagePullSecrets) obj.imagePullSecrets = o.imagePullSecrets.map((name) => ({ name }));
  if (o.fields) for (const [k, v] of Object.entries(o.fields)) if (!isDigest(v)) obj[k] = v;
  return obj;
}
