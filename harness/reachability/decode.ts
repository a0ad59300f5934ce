import {
  dns1123Label,
  dns1123Subdomain,
  labelValue,
  parseCidr,
  parseIp,
  portName,
  portNumber,
  PROTOCOLS,
  qualifiedName,
  strictlyInside,
} from './apivalidation.ts';
import type {
  AuthorizationPolicyInfo,
  AuthzCondition,
  AuthzOperation,
  AuthzRule,
  AuthzSource,
  PeerAuthenticationInfo,
  PeerAuthMode,
} from './mesh.ts';
import { L4_SOURCE_KEYS } from './mesh.ts';
import type {
  ContainerPort,
  IPBlock,
  LabelSelector,
  LabelSelectorRequirement,
  NamespaceInfo,
  NetworkPolicyInfo,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  PodInfo,
  PodProbe,
} from './types.ts';

/**
 * Strict decoding of the five kinds `netpol matrix` reads, as a Kubernetes API server with strict
 * field validation (kubectl's default since v1.27) would decode and validate them: unknown fields are
 * refused, `null` means absent (as Go's JSON decoding reads it), and the values follow the API
 * server's rules (apivalidation.ts). A problem is thrown as a FieldError with the field path; the
 * manifest reader adds the file and the object.
 *
 * Which unknown fields are refused:
 * - every level of NetworkPolicy (networking.k8s.io/v1), Namespace, PeerAuthentication and
 *   AuthorizationPolicy, and ObjectMeta: their schemas are small and fully known;
 * - Pod: the object, metadata, spec (PodSpec), spec.containers[] (Container) and their ports
 *   (ContainerPort), with the complete field lists of Kubernetes v1.34 to v1.36, so that
 *   `kubectl get pods -o yaml` output of any of these releases is accepted. Deeper levels the matrix
 *   does not read (volumes, probes, securityContext, ...) are not checked, and neither is `status`
 *   (written by the kubelet, it gains fields in every release: 1.35 added allocatedResources and
 *   resources, 1.36 nodeAllocatableResourceClaimStatuses); only status.podIP is read and checked.
 *   Values the matrix does not read are not validated either: the API server requires a container
 *   image, for instance, but what-if Pods written by hand rarely carry one, and it changes nothing.
 * - a List: its own fields (apiVersion, kind, metadata, items); its metadata (ListMeta, which gained
 *   shardInfo in 1.36) is not checked.
 *
 * Field lists: kubernetes/api v0.34.10, v0.35.7 and v0.36.3 core/v1/types.go and
 * networking/v1/types.go, kubernetes/apimachinery v0.34.10..v0.36.3 pkg/apis/meta/v1/types.go
 * (ObjectMeta, LabelSelector); Istio CRDs from istio/istio 1.28.3
 * manifests/charts/base/files/crd-all.gen.yaml (security.istio.io v1, also served as v1beta1).
 */

export type Problem = 'invalid' | 'unknown field' | 'missing';

export class FieldError extends Error {
  readonly path: string;
  readonly problem: Problem;
  readonly expected: string;
  readonly seen: string;
  readonly fix: string | undefined;
  constructor(path: string, problem: Problem, expected: string, seen: string, fix?: string) {
    super(`${problem} ${path}`);
    this.path = path;
    this.problem = problem;
    this.expected = expected;
    this.seen = seen;
    this.fix = fix;
  }
}

export interface Decoded<T> {
  value: T;
  /** What the API server would warn about, with the field path. */
  warnings: { path: string; message: string }[];
}

/** A value as a user reads it back in an error message. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? typeof v;
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

const child = (p: string, k: string) => (p ? `${p}.${k}` : k);
const at = (p: string, i: number) => `${p}[${i}]`;
const mapKey = (p: string, k: string) => `${p}[${JSON.stringify(k)}]`;

function invalid(path: string, expected: string, seen: unknown, fix?: string): FieldError {
  return new FieldError(path, 'invalid', expected, describe(seen), fix);
}

/** Like invalid(), with `seen` already in words (a count, a summary). */
function invalidAs(path: string, expected: string, seen: string): FieldError {
  return new FieldError(path, 'invalid', expected, seen);
}

/** Absent: missing or null (Go's JSON decoding leaves a null field at its zero value). */
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, path: string, type: string): Record<string, unknown> {
  if (!isPlainObject(v)) throw invalid(path || 'object', `an object (${type})`, v);
  return v;
}

/** An object whose every key must be one of `known`. */
function strict(v: unknown, path: string, type: string, known: readonly string[]): Record<string, unknown> {
  const o = object(v, path, type);
  for (const k of Object.keys(o))
    if (!known.includes(k))
      throw new FieldError(
        child(path, k),
        'unknown field',
        `one of the fields of ${type}: ${known.join(', ')}`,
        k,
        'fix the spelling or remove the field: the API server refuses unknown fields (kubectl apply validates strictly)',
      );
  return o;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw invalid(path, 'a string', v);
  return v;
}

function optStr(v: unknown, path: string): string | undefined {
  return present(v) ? str(v, path) : undefined;
}

function optBool(v: unknown, path: string): boolean | undefined {
  if (!present(v)) return undefined;
  if (typeof v !== 'boolean') throw invalid(path, 'true or false', v);
  return v;
}

function optInt(v: unknown, path: string, min = -(2 ** 53), max = 2 ** 53): number | undefined {
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(path, min === 0 ? 'a whole number, 0 or more' : 'a whole number', v);
  return v;
}

function optArray(v: unknown, path: string): unknown[] | undefined {
  if (!present(v)) return undefined;
  if (!Array.isArray(v)) throw invalid(path, 'a list', v);
  return v as unknown[];
}

function optStrings(v: unknown, path: string, maxItems?: number, maxLength?: number): string[] | undefined {
  const list = optArray(v, path);
  if (!list) return undefined;
  if (maxItems !== undefined && list.length > maxItems)
    throw invalidAs(path, `at most ${maxItems} entries`, `${list.length} entries`);
  return list.map((x, i) => {
    const s = str(x, at(path, i));
    if (maxLength !== undefined && s.length > maxLength)
      throw invalid(at(path, i), `at most ${maxLength} characters`, s);
    return s;
  });
}

function optStringMap(v: unknown, path: string): Record<string, string> | undefined {
  if (!present(v)) return undefined;
  const o = object(v, path, 'a map of strings');
  for (const [k, x] of Object.entries(o))
    if (typeof x !== 'string')
      throw invalid(
        mapKey(path, k),
        'a string (quote values YAML would read as numbers or booleans, e.g. "1.0", "true")',
        x,
      );
  return o as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// metadata (ObjectMeta), labels and label selectors

/** ObjectMeta's fields, Kubernetes v1.34 to v1.36 (clusterName remains only as a comment there). */
const OBJECT_META = [
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
] as const;

export interface Meta {
  name: string;
  namespace: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string> | undefined;
}

function checkLabels(labels: Record<string, string>, path: string): void {
  for (const [k, v] of Object.entries(labels)) {
    const keyProblem = qualifiedName(k);
    if (keyProblem) throw invalid(mapKey(path, k), `a label key: ${keyProblem}`, k);
    const valueProblem = labelValue(v);
    if (valueProblem) throw invalid(mapKey(path, k), valueProblem, v);
  }
}

/**
 * ValidateObjectMetaAccessor (apimachinery v0.34.10 pkg/api/validation/objectmeta.go): a name (the
 * matrix needs one; generateName alone names nothing until the API server creates the object), valid
 * for the kind; the namespace a DNS-1123 label; labels (ValidateLabels); annotation keys qualified
 * names (compared lower-case) and at most 256 KiB of annotations in all (TotalAnnotationSizeLimitB).
 */
export function decodeMeta(v: unknown, nameRule: 'label' | 'subdomain', namespaced: boolean): Meta {
  if (!present(v))
    throw new FieldError(
      'metadata.name',
      'missing',
      'metadata with a name',
      'no metadata',
      'add metadata: {name: ..., namespace: ...}',
    );
  const m = strict(v, 'metadata', 'ObjectMeta (meta/v1)', OBJECT_META);
  if (!present(m.name))
    throw new FieldError(
      'metadata.name',
      'missing',
      'a name: the matrix names every object (generateName alone names nothing before the API server creates the object)',
      present(m.generateName) ? `generateName ${describe(m.generateName)} and no name` : 'no name',
    );
  const name = str(m.name, 'metadata.name');
  const nameProblem = nameRule === 'label' ? dns1123Label(name) : dns1123Subdomain(name);
  if (nameProblem) throw invalid('metadata.name', nameProblem, name);
  // An empty namespace is no namespace: kubectl puts the object into the current one.
  let namespace = optStr(m.namespace, 'metadata.namespace') || undefined;
  // The API server clears metadata.namespace of cluster-scoped objects before validating them.
  if (!namespaced) namespace = undefined;
  if (namespace !== undefined) {
    const nsProblem = dns1123Label(namespace);
    if (nsProblem) throw invalid('metadata.namespace', nsProblem, namespace);
  }
  const labels = optStringMap(m.labels, 'metadata.labels') ?? {};
  checkLabels(labels, 'metadata.labels');
  const annotations = optStringMap(m.annotations, 'metadata.annotations');
  if (annotations) {
    let size = 0;
    for (const [k, a] of Object.entries(annotations)) {
      const problem = qualifiedName(k.toLowerCase());
      if (problem) throw invalid(mapKey('metadata.annotations', k), `an annotation key: ${problem}`, k);
      size += Buffer.byteLength(k) + Buffer.byteLength(a);
    }
    if (size > 256 * 1024)
      throw invalidAs(
        'metadata.annotations',
        'at most 256 KiB of annotations (keys and values)',
        `${size} bytes`,
      );
  }
  optStr(m.generateName, 'metadata.generateName');
  optStr(m.uid, 'metadata.uid');
  optStr(m.resourceVersion, 'metadata.resourceVersion');
  optStr(m.selfLink, 'metadata.selfLink');
  optStr(m.creationTimestamp, 'metadata.creationTimestamp');
  optStr(m.deletionTimestamp, 'metadata.deletionTimestamp');
  optInt(m.generation, 'metadata.generation', 0);
  optInt(m.deletionGracePeriodSeconds, 'metadata.deletionGracePeriodSeconds');
  optArray(m.ownerReferences, 'metadata.ownerReferences');
  optArray(m.managedFields, 'metadata.managedFields');
  optStrings(m.finalizers, 'metadata.finalizers');
  return { name, namespace, labels, annotations };
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/**
 * ValidateLabelSelector and ValidateLabelSelectorRequirement (apimachinery v0.34.10
 * pkg/apis/meta/v1/validation/validation.go): matchLabels are labels; each requirement has a
 * qualified-name key, one of the four operators, values for In and NotIn and none for Exists and
 * DoesNotExist, and every value a label value.
 */
export function decodeSelector(v: unknown, path: string): LabelSelector {
  const s = strict(v, path, 'LabelSelector (meta/v1)', ['matchLabels', 'matchExpressions']);
  const out: LabelSelector = {};
  const matchLabels = optStringMap(s.matchLabels, child(path, 'matchLabels'));
  if (matchLabels) {
    checkLabels(matchLabels, child(path, 'matchLabels'));
    out.matchLabels = matchLabels;
  }
  const exprs = optArray(s.matchExpressions, child(path, 'matchExpressions'));
  if (exprs) {
    out.matchExpressions = exprs.map((x, i): LabelSelectorRequirement => {
      const p = at(child(path, 'matchExpressions'), i);
      const e = strict(x, p, 'LabelSelectorRequirement (meta/v1)', ['key', 'operator', 'values']);
      if (!present(e.key)) throw new FieldError(child(p, 'key'), 'missing', 'a label key', 'nothing');
      const key = str(e.key, child(p, 'key'));
      const keyProblem = qualifiedName(key);
      if (keyProblem) throw invalid(child(p, 'key'), `a label key: ${keyProblem}`, key);
      const op = present(e.operator) ? str(e.operator, child(p, 'operator')) : '';
      if (!(OPERATORS as readonly string[]).includes(op))
        throw invalid(child(p, 'operator'), `one of ${OPERATORS.join(', ')}`, e.operator);
      const values = optStrings(e.values, child(p, 'values')) ?? [];
      if ((op === 'In' || op === 'NotIn') && values.length === 0)
        throw new FieldError(
          child(p, 'values'),
          'missing',
          `at least one value: operator ${op} needs values`,
          describe(e.values),
          op === 'In'
            ? 'list the label values to match, or use operator Exists to match any value'
            : 'list the label values to exclude, or use operator DoesNotExist',
        );
      if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
        throw invalid(child(p, 'values'), `no values: operator ${op} takes none`, e.values);
      values.forEach((val, j) => {
        const problem = labelValue(val);
        if (problem) throw invalid(at(child(p, 'values'), j), problem, val);
      });
      return {
        key,
        operator: op as LabelSelectorRequirement['operator'],
        ...(values.length ? { values } : {}),
      };
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Namespace

export function decodeNamespace(o: Record<string, unknown>): NamespaceInfo {
  strict(o, '', 'Namespace (v1)', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  // Cluster-scoped; the name is a DNS-1123 label (apimachinery v0.34.10 generic.go ValidateNamespaceName).
  const m = decodeMeta(o.metadata, 'label', false);
  if (present(o.spec)) {
    const spec = strict(o.spec, 'spec', 'NamespaceSpec (v1)', ['finalizers']);
    optStrings(spec.finalizers, 'spec.finalizers');
  }
  if (present(o.status)) object(o.status, 'status', 'NamespaceStatus (v1)');
  return { name: m.name, labels: m.labels };
}

// ---------------------------------------------------------------------------------------------
// Pod

/** PodSpec's fields, Kubernetes v1.34 to v1.36 (workloadRef: 1.35 only; schedulingGroup: 1.36). */
const POD_SPEC = [
  'volumes',
  'initContainers',
  'containers',
  'ephemeralContainers',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsPolicy',
  'nodeSelector',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'nodeName',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'shareProcessNamespace',
  'securityContext',
  'imagePullSecrets',
  'hostname',
  'subdomain',
  'affinity',
  'schedulerName',
  'tolerations',
  'hostAliases',
  'priorityClassName',
  'priority',
  'dnsConfig',
  'readinessGates',
  'runtimeClassName',
  'enableServiceLinks',
  'preemptionPolicy',
  'overhead',
  'topologySpreadConstraints',
  'setHostnameAsFQDN',
  'os',
  'hostUsers',
  'schedulingGates',
  'resourceClaims',
  'resources',
  'hostnameOverride',
  'workloadRef',
  'schedulingGroup',
] as const;

/** Container's fields, Kubernetes v1.34 to v1.36. */
const CONTAINER = [
  'name',
  'image',
  'command',
  'args',
  'workingDir',
  'ports',
  'envFrom',
  'env',
  'resources',
  'resizePolicy',
  'restartPolicy',
  'restartPolicyRules',
  'volumeMounts',
  'volumeDevices',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
  'securityContext',
  'stdin',
  'stdinOnce',
  'tty',
] as const;

const CONTAINER_PORT = ['name', 'hostPort', 'containerPort', 'protocol', 'hostIP'] as const;

export const POD_IP_FIX =
  'read the pods from the cluster with `kubectl get pods -A -o yaml > pods.yaml` (the kubelet sets status.podIP once the pod has a sandbox; Pending pods have none and are better left out), or give a hand-written Pod `status: {podIP: <address>}`';

/**
 * A Pod, as far as the matrix reads it: labels, annotations (sidecar injection), serviceAccountName,
 * hostNetwork, containers' ports and status.podIP. Rules from kubernetes/kubernetes
 * pkg/apis/core/validation/validation.go: the name a DNS-1123 subdomain (ValidatePodName), at least
 * one container, container names DNS-1123 labels and unique, each containerPort 1..65535, port names
 * IANA_SVC_NAMEs unique within their container, protocols TCP, UDP or SCTP (validateContainerPorts),
 * serviceAccountName a DNS-1123 subdomain (ValidateServiceAccountName). `serviceAccount` is the
 * deprecated alias the API server copies into an empty serviceAccountName
 * (pkg/apis/core/v1/conversion.go, Convert_v1_PodSpec_To_core_PodSpec).
 *
 * Without status.podIP a pod cannot be placed against ipBlock peers (NetworkPolicy) or ipBlocks
 * (AuthorizationPolicy), and the matrix would silently predict a drop where the cluster allows: with
 * `requirePodIP` (manifests) such a pod is refused, unless it is on the host network (the matrix
 * leaves those out).
 */
export function decodePod(
  o: Record<string, unknown>,
  requirePodIP: boolean,
  warn: (path: string, message: string) => void = () => {},
): PodInfo {
  strict(o, '', 'Pod (v1)', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const m = decodeMeta(o.metadata, 'subdomain', true);
  if (!present(o.spec))
    throw new FieldError('spec.containers', 'missing', 'a Pod spec with at least one container', 'no spec');
  const spec = strict(o.spec, 'spec', 'PodSpec (v1)', POD_SPEC);
  const containers = optArray(spec.containers, 'spec.containers');
  if (!containers?.length)
    throw invalid('spec.containers', 'at least one container', spec.containers ?? 'nothing');
  const names = new Set<string>();
  const ports: ContainerPort[] = [];
  const probes: PodProbe[] = [];
  /** Per container: runAsUser and runAsNonRoot from its securityContext. */
  const users: { uid: number | undefined; nonRoot: boolean | undefined }[] = [];
  const decodeContainer = (c: unknown, p: string, init: boolean) => {
    const ctr = strict(c, p, 'Container (v1)', CONTAINER);
    if (!present(ctr.name)) throw new FieldError(child(p, 'name'), 'missing', 'a container name', 'nothing');
    const name = str(ctr.name, child(p, 'name'));
    const problem = dns1123Label(name);
    if (problem) throw invalid(child(p, 'name'), problem, name);
    if (names.has(name))
      throw invalid(child(p, 'name'), 'a name no other container or init container of the pod has', name);
    names.add(name);
    // An init container runs beside the others only with restartPolicy Always (a native sidecar);
    // probes are allowed on no other (kubernetes/kubernetes pkg/apis/core/validation
    // validateInitContainers).
    const restartPolicy = optStr(ctr.restartPolicy, child(p, 'restartPolicy'));
    if (
      restartPolicy !== undefined &&
      !(init ? ['Always'] : ['Always', 'Never', 'OnFailure']).includes(restartPolicy)
    )
      throw invalid(
        child(p, 'restartPolicy'),
        init ? 'Always, or nothing' : 'Always, Never or OnFailure',
        restartPolicy,
      );
    const sidecar = init && restartPolicy === 'Always';
    const portNames = new Set<string>();
    const own: ContainerPort[] = [];
    (optArray(ctr.ports, child(p, 'ports')) ?? []).forEach((x, j) => {
      const pp = at(child(p, 'ports'), j);
      const cp = strict(x, pp, 'ContainerPort (v1)', CONTAINER_PORT);
      if (!present(cp.containerPort))
        throw new FieldError(
          child(pp, 'containerPort'),
          'missing',
          'a port number from 1 to 65535',
          'nothing',
        );
      const num = cp.containerPort;
      if (typeof num !== 'number' || portNumber(num))
        throw invalid(child(pp, 'containerPort'), 'a port number from 1 to 65535', num);
      const portNameValue = optStr(cp.name, child(pp, 'name'));
      if (portNameValue !== undefined && portNameValue !== '') {
        const np = portName(portNameValue);
        if (np) throw invalid(child(pp, 'name'), np, portNameValue);
        if (portNames.has(portNameValue))
          throw invalid(child(pp, 'name'), 'a port name no other port of the container has', portNameValue);
        portNames.add(portNameValue);
      }
      const protocol = optStr(cp.protocol, child(pp, 'protocol'));
      if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol))
        throw invalid(child(pp, 'protocol'), `one of ${PROTOCOLS.join(', ')}`, protocol);
      optInt(cp.hostPort, child(pp, 'hostPort'), 0, 65535);
      optStr(cp.hostIP, child(pp, 'hostIP'));
      own.push({
        containerPort: num,
        ...(portNameValue ? { name: portNameValue } : {}),
        ...(protocol ? { protocol } : {}),
      });
    });
    // A native sidecar serves its ports like any container; a plain init container has finished.
    if (!init || sidecar) ports.push(...own);
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      if (!present(ctr[kind])) continue;
      if (init && !sidecar)
        throw invalid(
          child(p, kind),
          'no probe on an init container without restartPolicy: Always (the API server refuses it)',
          ctr[kind],
        );
      const probe = decodeProbe(ctr[kind], child(p, kind), name, own, warn);
      if (probe) probes.push({ ...probe, probe: kind.replace('Probe', '') as PodProbe['probe'] });
    }
    if (!init || sidecar) {
      const sc = present(ctr.securityContext)
        ? object(ctr.securityContext, child(p, 'securityContext'), 'SecurityContext (v1)')
        : {};
      users.push({
        uid: optInt(sc.runAsUser, child(child(p, 'securityContext'), 'runAsUser'), 0, 2147483647),
        nonRoot: optBool(sc.runAsNonRoot, child(child(p, 'securityContext'), 'runAsNonRoot')),
      });
    }
  };
  containers.forEach((c, i) => decodeContainer(c, at('spec.containers', i), false));
  (optArray(spec.initContainers, 'spec.initContainers') ?? []).forEach((c, i) =>
    decodeContainer(c, at('spec.initContainers', i), true),
  );
  // An injected pod's excludeInboundPorts passed the injector's check (istio/istio 1.28.3
  // pkg/kube/inject/validate.go parsePorts: comma-separated, each trimmed and a decimal 0..65535).
  const excl = m.annotations?.['traffic.sidecar.istio.io/excludeInboundPorts'];
  if (excl !== undefined && m.annotations?.['sidecar.istio.io/status'] !== undefined && excl.trim() !== '')
    for (const item of excl.trim().split(','))
      if (!/^\d+$/.test(item.trim()) || Number(item.trim()) > 65535)
        throw invalid(
          mapKey('metadata.annotations', 'traffic.sidecar.istio.io/excludeInboundPorts'),
          'comma-separated port numbers from 0 to 65535 (the injector refuses anything else)',
          excl,
        );
  const hostNetwork = optBool(spec.hostNetwork, 'spec.hostNetwork') ?? false;
  let serviceAccount: string | undefined;
  for (const field of ['serviceAccountName', 'serviceAccount'] as const) {
    const sa = optStr(spec[field], `spec.${field}`);
    if (sa === undefined || sa === '') continue;
    const problem = dns1123Subdomain(sa);
    if (problem) throw invalid(`spec.${field}`, problem, sa);
    serviceAccount ??= sa;
  }
  let ip: string | undefined;
  let hostIP: string | undefined;
  if (present(o.status)) {
    const status = object(o.status, 'status', 'PodStatus (v1)');
    ip = optStr(status.podIP, 'status.podIP');
    if (ip === '') ip = undefined;
    if (ip !== undefined) {
      const r = parseIp(ip);
      if ('error' in r) throw invalid('status.podIP', r.error, ip);
    }
    hostIP = optStr(status.hostIP, 'status.hostIP') || undefined;
    if (hostIP !== undefined) {
      const r = parseIp(hostIP);
      if ('error' in r) throw invalid('status.hostIP', r.error, hostIP);
    }
  }
  const nodeName = optStr(spec.nodeName, 'spec.nodeName') || undefined;
  if (nodeName !== undefined) {
    const problem = dns1123Subdomain(nodeName);
    if (problem) throw invalid('spec.nodeName', problem, nodeName);
  }
  const psc = present(spec.securityContext)
    ? object(spec.securityContext, 'spec.securityContext', 'PodSecurityContext (v1)')
    : {};
  const podUid = optInt(psc.runAsUser, 'spec.securityContext.runAsUser', 0, 2147483647);
  const podNonRoot = optBool(psc.runAsNonRoot, 'spec.securityContext.runAsNonRoot');
  // Which user a host-network pod's sockets belong to: each container's runAsUser, else the pod's;
  // runAsNonRoot without a user means the kubelet refuses to start it as 0; neither means the
  // image's user, which for node agents is root as a rule.
  const effective = users.map((u) => {
    const uid = u.uid ?? podUid;
    if (uid !== undefined) return uid === 0 ? 'root' : 'non-root';
    return (u.nonRoot ?? podNonRoot) ? 'non-root' : 'unset';
  });
  if (requirePodIP && ip === undefined)
    throw new FieldError(
      'status.podIP',
      'missing',
      'the pod’s IP in status.podIP: the matrix places pods by IP (ipBlock peers, AuthorizationPolicy ipBlocks) and would predict wrong cells without it',
      present(o.status) ? 'a status without podIP' : 'no status',
      POD_IP_FIX,
    );
  return {
    namespace: m.namespace ?? 'default',
    name: m.name,
    labels: m.labels,
    ...(m.annotations ? { annotations: m.annotations } : {}),
    ...(ip !== undefined ? { ip } : {}),
    ports,
    ...(hostNetwork ? { hostNetwork: true } : {}),
    serviceAccount: serviceAccount ?? 'default',
    ...(nodeName ? { nodeName } : {}),
    ...(hostIP ? { hostIP } : {}),
    ...(probes.length ? { probes } : {}),
    ...(hostNetwork
      ? {
          hostUser: effective.every((u) => u === 'non-root')
            ? ('non-root' as const)
            : effective.some((u) => u === 'root')
              ? ('root' as const)
              : ('unset' as const),
        }
      : {}),
  };
}

const PROBE = [
  'exec',
  'httpGet',
  'tcpSocket',
  'grpc',
  'initialDelaySeconds',
  'timeoutSeconds',
  'periodSeconds',
  'successThreshold',
  'failureThreshold',
  'terminationGracePeriodSeconds',
] as const;

/**
 * One probe, as far as the network sees it: the kubelet connects from its node to the pod's IP on a
 * TCP port (httpGet, tcpSocket, grpc); exec probes make no connection, and a probe with `host`
 * connects elsewhere, so both give undefined. A named port resolves against the container's own
 * ports (the kubelet's findPortByName); a name it does not have makes the probe fail on every
 * cluster, so it gives undefined too. Rules: kubernetes/kubernetes pkg/apis/core/validation
 * validateHandler (exactly one handler) and ValidatePortNumOrName.
 */
function decodeProbe(
  v: unknown,
  path: string,
  container: string,
  own: ContainerPort[],
  warn: (path: string, message: string) => void,
): Omit<PodProbe, 'probe'> | undefined {
  const pr = strict(v, path, 'Probe (v1)', PROBE);
  const handlers = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((h) => present(pr[h]));
  if (handlers.length !== 1)
    throw invalid(
      path,
      'exactly one handler: exec, httpGet, tcpSocket or grpc',
      handlers.length ? handlers.join(' and ') : 'none',
    );
  const handler = handlers[0] as 'exec' | 'httpGet' | 'tcpSocket' | 'grpc';
  if (handler === 'exec') return undefined;
  const hp = child(path, handler);
  const known =
    handler === 'httpGet'
      ? ['path', 'port', 'host', 'scheme', 'httpHeaders']
      : handler === 'tcpSocket'
        ? ['port', 'host']
        : ['port', 'service'];
  const h = strict(pr[handler], hp, `${handler} (v1)`, known);
  if (!present(h.port))
    throw new FieldError(child(hp, 'port'), 'missing', 'a port number or name', 'nothing');
  let port: number | undefined;
  if (typeof h.port === 'number') {
    if (portNumber(h.port)) throw invalid(child(hp, 'port'), 'a port number from 1 to 65535', h.port);
    port = h.port;
  } else if (typeof h.port === 'string' && handler !== 'grpc') {
    const problem = portName(h.port);
    if (problem) throw invalid(child(hp, 'port'), `a port number or name: ${problem}`, h.port);
    // findPortByName matches the name whatever the port's protocol.
    port = own.find((c) => c.name === h.port)?.containerPort;
    if (port === undefined)
      warn(
        child(hp, 'port'),
        `container ${container} has no port named "${h.port}"${
          own.some((c) => c.name)
            ? ` (it has ${own.flatMap((c) => (c.name ? [`"${c.name}"`] : [])).join(', ')})`
            : ''
        }: the kubelet cannot resolve it, so this probe fails on every cluster and the matrix has no cell for it`,
      );
  } else
    throw invalid(child(hp, 'port'), handler === 'grpc' ? 'a port number' : 'a port number or name', h.port);
  if (handler === 'httpGet' && present(h.scheme)) {
    const scheme = optStr(h.scheme, child(hp, 'scheme'));
    if (scheme !== 'HTTP' && scheme !== 'HTTPS')
      throw invalid(child(hp, 'scheme'), 'HTTP or HTTPS', h.scheme);
  }
  if (optStr(h.host, child(hp, 'host'))) return undefined;
  return port === undefined ? undefined : { container, handler, port };
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicy (networking.k8s.io/v1)

/**
 * ValidateNetworkPolicyPort (kubernetes/kubernetes pkg/apis/networking/validation/validation.go):
 * protocol TCP, UDP or SCTP; a numeric port 1..65535, or a named port (IANA_SVC_NAME); endPort only
 * with a numeric port, not below it, and itself 1..65535.
 */
function decodeNpPort(v: unknown, path: string): NetworkPolicyPort {
  const p = strict(v, path, 'NetworkPolicyPort (networking.k8s.io/v1)', ['protocol', 'port', 'endPort']);
  const out: NetworkPolicyPort = {};
  const protocol = optStr(p.protocol, child(path, 'protocol'));
  if (protocol !== undefined) {
    if (!(PROTOCOLS as readonly string[]).includes(protocol))
      throw invalid(child(path, 'protocol'), `one of ${PROTOCOLS.join(', ')} (upper case)`, protocol);
    out.protocol = protocol;
  }
  if (present(p.port)) {
    if (typeof p.port === 'number') {
      if (portNumber(p.port))
        throw invalid(child(path, 'port'), 'a port number from 1 to 65535, or a port name', p.port);
    } else if (typeof p.port === 'string') {
      const problem = portName(p.port);
      if (problem)
        throw invalid(
          child(path, 'port'),
          /^\d+$/.test(p.port)
            ? 'a port number (written without quotes) or a port name; a quoted number is read as a name, and names need a letter'
            : problem,
          p.port,
        );
    } else throw invalid(child(path, 'port'), 'a port number or a port name', p.port);
    out.port = p.port;
  }
  if (present(p.endPort)) {
    const end = p.endPort;
    if (out.port === undefined)
      throw invalid(
        child(path, 'endPort'),
        'endPort only together with a numeric port: the range is port..endPort',
        end,
        'add port: <first port of the range>',
      );
    if (typeof out.port === 'string')
      throw invalid(
        child(path, 'endPort'),
        `no endPort with a named port (port is ${JSON.stringify(out.port)})`,
        end,
      );
    if (typeof end !== 'number' || portNumber(end))
      throw invalid(child(path, 'endPort'), 'a port number from 1 to 65535', end);
    if (end < out.port)
      throw invalid(child(path, 'endPort'), `a port number not below port (${out.port})`, end);
    out.endPort = end;
  }
  return out;
}

/**
 * ValidateIPBlock (kubernetes/kubernetes pkg/apis/networking/validation/validation.go): cidr
 * required and a CIDR (see apivalidation.parseCidr for the legacy rules of v1.34: 10.244.2.20/24 is
 * accepted with a warning and means 10.244.2.0/24), every `except` a CIDR strictly inside it.
 */
function decodeIpBlock(v: unknown, path: string, warnings: Decoded<unknown>['warnings']): IPBlock {
  const b = strict(v, path, 'IPBlock (networking.k8s.io/v1)', ['cidr', 'except']);
  const cp = child(path, 'cidr');
  if (!present(b.cidr) || b.cidr === '')
    throw new FieldError(cp, 'missing', 'a CIDR (e.g. 10.244.2.0/24)', describe(b.cidr));
  const cidr = str(b.cidr, cp);
  const parsed = parseCidr(cidr);
  if ('error' in parsed) throw invalid(cp, parsed.error, cidr);
  if (parsed.hostBitsSet)
    warnings.push({
      path: cp,
      message: `CIDR value "${cidr}" has bits set beyond its prefix length; Kubernetes v1.34 accepts it with a warning ("ambiguous") and it means ${parsed.canonical}, as the matrix reads it (write ${parsed.canonical}, or ${cidr.split('/')[0] ?? ''}/${parsed.bits} for the single address)`,
    });
  const except = optStrings(b.except, child(path, 'except'));
  except?.forEach((e, i) => {
    const ep = at(child(path, 'except'), i);
    const pe = parseCidr(e);
    if ('error' in pe) throw invalid(ep, pe.error, e);
    if (!strictlyInside(pe, parsed))
      throw invalid(
        ep,
        `a CIDR strictly inside cidr ${cidr}: the same address family and a longer prefix within ${parsed.canonical}`,
        e,
      );
    if (pe.hostBitsSet)
      warnings.push({
        path: ep,
        message: `CIDR value "${e}" has bits set beyond its prefix length; it means ${pe.canonical}`,
      });
  });
  return { cidr, ...(except ? { except } : {}) };
}

/** ValidateNetworkPolicyPeer: exactly a podSelector and/or namespaceSelector, or an ipBlock alone. */
function decodePeer(v: unknown, path: string, warnings: Decoded<unknown>['warnings']): NetworkPolicyPeer {
  const p = strict(v, path, 'NetworkPolicyPeer (networking.k8s.io/v1)', [
    'podSelector',
    'namespaceSelector',
    'ipBlock',
  ]);
  const peer: NetworkPolicyPeer = {};
  if (present(p.podSelector)) peer.podSelector = decodeSelector(p.podSelector, child(path, 'podSelector'));
  if (present(p.namespaceSelector))
    peer.namespaceSelector = decodeSelector(p.namespaceSelector, child(path, 'namespaceSelector'));
  if (present(p.ipBlock)) {
    if (peer.podSelector || peer.namespaceSelector)
      throw invalid(
        path,
        'ipBlock cannot be combined with podSelector or namespaceSelector in one peer (give them as separate peers)',
        v,
      );
    peer.ipBlock = decodeIpBlock(p.ipBlock, child(path, 'ipBlock'), warnings);
  }
  if (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock)
    throw invalid(
      path,
      'a peer: podSelector, namespaceSelector (or both), or ipBlock; `{}` is refused (for every pod of every namespace write namespaceSelector: {})',
      v,
    );
  return peer;
}

const POLICY_TYPES = ['Ingress', 'Egress'] as const;

/**
 * ValidateNetworkPolicySpec (kubernetes/kubernetes pkg/apis/networking/validation/validation.go)
 * with networking/v1 types.go: podSelector is optional and defaults to {} (every pod of the
 * namespace); at most two policyTypes, each Ingress or Egress. The name is a DNS-1123 subdomain
 * (ValidateNetworkPolicyName).
 */
export function decodeNetworkPolicy(o: Record<string, unknown>): Decoded<NetworkPolicyInfo> {
  const warnings: Decoded<unknown>['warnings'] = [];
  strict(o, '', 'NetworkPolicy (networking.k8s.io/v1)', ['apiVersion', 'kind', 'metadata', 'spec']);
  const m = decodeMeta(o.metadata, 'subdomain', true);
  const spec = present(o.spec)
    ? strict(o.spec, 'spec', 'NetworkPolicySpec (networking.k8s.io/v1)', [
        'podSelector',
        'ingress',
        'egress',
        'policyTypes',
      ])
    : {};
  const podSelector = present(spec.podSelector) ? decodeSelector(spec.podSelector, 'spec.podSelector') : {};
  const rules = (dir: 'ingress' | 'egress'): NetworkPolicyRule[] => {
    const peersKey = dir === 'ingress' ? 'from' : 'to';
    const type = dir === 'ingress' ? 'NetworkPolicyIngressRule' : 'NetworkPolicyEgressRule';
    return (optArray(spec[dir], `spec.${dir}`) ?? []).map((x, i) => {
      const p = at(`spec.${dir}`, i);
      const r = strict(x, p, `${type} (networking.k8s.io/v1)`, ['ports', peersKey]);
      const ports = optArray(r.ports, child(p, 'ports'))?.map((y, j) =>
        decodeNpPort(y, at(child(p, 'ports'), j)),
      );
      const peers = optArray(r[peersKey], child(p, peersKey))?.map((y, j) =>
        decodePeer(y, at(child(p, peersKey), j), warnings),
      );
      return { ...(peers ? { peers } : {}), ...(ports ? { ports } : {}) };
    });
  };
  const ingress = rules('ingress');
  const egress = rules('egress');
  const types = optArray(spec.policyTypes, 'spec.policyTypes') ?? [];
  if (types.length > 2)
    throw invalid('spec.policyTypes', 'at most two policyTypes (Ingress, Egress)', spec.policyTypes);
  const policyTypes = types.map((t, i) => {
    if (!(POLICY_TYPES as readonly unknown[]).includes(t))
      throw invalid(at('spec.policyTypes', i), 'Ingress or Egress', t);
    return t as (typeof POLICY_TYPES)[number];
  });
  return {
    value: { namespace: m.namespace ?? 'default', name: m.name, podSelector, policyTypes, ingress, egress },
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Istio: PeerAuthentication and AuthorizationPolicy (security.istio.io v1, CRDs of Istio 1.28.3)

const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

/** The CRDs' WorkloadSelector: matchLabels only, no "*" in keys or values, no empty key, values ≤ 63 characters. */
function decodeIstioSelector(v: unknown, path: string): { matchLabels?: Record<string, string> } {
  const s = strict(v, path, 'WorkloadSelector (security.istio.io/v1)', ['matchLabels']);
  const ml = optStringMap(s.matchLabels, child(path, 'matchLabels'));
  if (!ml) return {};
  const p = child(path, 'matchLabels');
  if (Object.keys(ml).length > 4096)
    throw invalidAs(p, 'at most 4096 labels', `${Object.keys(ml).length} labels`);
  for (const [k, val] of Object.entries(ml)) {
    if (k === '' || k.includes('*')) throw invalid(mapKey(p, k), 'a label key, not empty and without "*"', k);
    if (val.includes('*') || val.length > 63)
      throw invalid(mapKey(p, k), 'a label value of at most 63 characters, without "*"', val);
  }
  return { matchLabels: ml };
}

function mtlsMode(v: unknown, path: string): PeerAuthMode | undefined {
  const mode = optStr(v, path);
  if (mode === undefined) return undefined;
  if (!(MTLS_MODES as readonly string[]).includes(mode))
    throw invalid(path, `one of ${MTLS_MODES.join(', ')}`, mode);
  return mode as PeerAuthMode;
}

export function decodePeerAuthentication(o: Record<string, unknown>): PeerAuthenticationInfo {
  strict(o, '', 'PeerAuthentication (security.istio.io/v1)', [
    'apiVersion',
    'kind',
    'metadata',
    'spec',
    'status',
  ]);
  const m = decodeMeta(o.metadata, 'subdomain', true);
  let mode: PeerAuthMode = 'UNSET';
  let selector: { matchLabels?: Record<string, string> } | undefined;
  let portLevelMtls: Record<number, PeerAuthMode> | undefined;
  if (present(o.spec)) {
    const spec = strict(o.spec, 'spec', 'PeerAuthentication spec (security.istio.io/v1)', [
      'selector',
      'mtls',
      'portLevelMtls',
    ]);
    if (present(spec.selector)) selector = decodeIstioSelector(spec.selector, 'spec.selector');
    if (present(spec.mtls)) {
      const mtls = strict(spec.mtls, 'spec.mtls', 'PeerAuthentication mtls (security.istio.io/v1)', ['mode']);
      mode = mtlsMode(mtls.mode, 'spec.mtls.mode') ?? 'UNSET';
    }
    if (present(spec.portLevelMtls)) {
      const plm = object(spec.portLevelMtls, 'spec.portLevelMtls', 'a map of port to mtls');
      portLevelMtls = {};
      for (const [port, x] of Object.entries(plm)) {
        const p = mapKey('spec.portLevelMtls', port);
        if (!/^\d+$/.test(port) || portNumber(Number(port)))
          throw invalid(p, 'a port number from 1 to 65535 as the key', port);
        const pm = strict(x, p, 'PeerAuthentication mtls (security.istio.io/v1)', ['mode']);
        portLevelMtls[Number(port)] = mtlsMode(pm.mode, child(p, 'mode')) ?? 'UNSET';
      }
      // The CRD's rule: "portLevelMtls requires selector"; istiod's validation (pkg/config/
      // validation ValidatePeerAuthentication): not on a mesh or namespace policy (no matchLabels),
      // and, if given, at least one port.
      if (!Object.keys(selector?.matchLabels ?? {}).length)
        throw invalid(
          'spec.portLevelMtls',
          'portLevelMtls only with a spec.selector that has matchLabels',
          spec.portLevelMtls,
        );
      if (!Object.keys(portLevelMtls).length)
        throw invalid(
          'spec.portLevelMtls',
          'at least one port, if portLevelMtls is given',
          spec.portLevelMtls,
        );
    }
  }
  const created = optStr(
    (o.metadata as Record<string, unknown>).creationTimestamp,
    'metadata.creationTimestamp',
  );
  // meta/v1 Time is read with Go's time.Parse(time.RFC3339, …): a date, T, a time with optional
  // fraction, and Z or a numeric offset.
  if (
    created !== undefined &&
    (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(created) ||
      Number.isNaN(Date.parse(created)))
  )
    throw invalid('metadata.creationTimestamp', 'an RFC 3339 time, such as 2026-11-30T10:00:00Z', created);
  return {
    namespace: m.namespace ?? 'default',
    name: m.name,
    mode,
    ...(selector ? { selector } : {}),
    ...(portLevelMtls ? { portLevelMtls } : {}),
    ...(created !== undefined ? { creationTimestamp: created } : {}),
  };
}

const AUTHZ_ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;
const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;
/**
 * The source and operation fields ztunnel judges at L4 (mesh.ts); the others need a waypoint.
 * istio/istio 1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
 * handleRule: ipBlocks, namespaces, serviceAccounts and principals (and their not-forms) become
 * ztunnel matches; httpSources lists remoteIpBlocks and requestPrincipals as L7.
 */
const L4_SOURCE: readonly string[] = L4_SOURCE_KEYS;
const L4_OPERATION: readonly string[] = ['ports', 'notPorts'];

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

function decodeTargetRef(v: unknown, path: string): void {
  const t = strict(v, path, 'PolicyTargetReference (security.istio.io/v1)', [
    'group',
    'kind',
    'name',
    'namespace',
  ]);
  const group = optStr(t.group, child(path, 'group'));
  if (group !== undefined && (group.length > 253 || !GROUP.test(group)))
    throw invalid(child(path, 'group'), 'an API group (a DNS-1123 subdomain or empty)', group);
  if (!present(t.kind))
    throw new FieldError(child(path, 'kind'), 'missing', 'a kind (e.g. Service, Gateway)', 'nothing');
  const kind = str(t.kind, child(path, 'kind'));
  if (kind.length > 63 || !KIND.test(kind))
    throw invalid(child(path, 'kind'), 'a kind (e.g. Service, Gateway)', kind);
  if (!present(t.name)) throw new FieldError(child(path, 'name'), 'missing', 'a name', 'nothing');
  if (str(t.name, child(path, 'name')).length > 253)
    throw invalid(child(path, 'name'), 'at most 253 characters', t.name);
  const ns = optStr(t.namespace, child(path, 'namespace'));
  if (ns)
    throw invalid(child(path, 'namespace'), 'no namespace: cross-namespace references are not supported', ns);
}

/**
 * AuthorizationPolicy per the CRD's schema and rules: at most one of selector, targetRef and
 * targetRefs (at most 16), up to 512 rules and 512 `from` entries per rule, the source and operation
 * fields of the schema only, serviceAccounts (at most 16, each at most 320 characters) never with
 * principals or namespaces, `when` entries with a key.
 */
export function decodeAuthorizationPolicy(o: Record<string, unknown>): AuthorizationPolicyInfo {
  strict(o, '', 'AuthorizationPolicy (security.istio.io/v1)', [
    'apiVersion',
    'kind',
    'metadata',
    'spec',
    'status',
  ]);
  const m = decodeMeta(o.metadata, 'subdomain', true);
  const info: AuthorizationPolicyInfo = {
    namespace: m.namespace ?? 'default',
    name: m.name,
    action: 'ALLOW',
  };
  if (!present(o.spec)) return info;
  const spec = strict(o.spec, 'spec', 'AuthorizationPolicy spec (security.istio.io/v1)', [
    'selector',
    'targetRef',
    'targetRefs',
    'rules',
    'action',
    'provider',
  ]);
  const bindings = ['selector', 'targetRef', 'targetRefs'].filter((k) => present(spec[k]));
  if (bindings.length > 1)
    throw invalidAs(
      `spec.${bindings[1] ?? ''}`,
      'only one of selector, targetRef and targetRefs',
      bindings.join(' and '),
    );
  const action = optStr(spec.action, 'spec.action');
  if (action !== undefined) {
    if (!(AUTHZ_ACTIONS as readonly string[]).includes(action))
      throw invalid('spec.action', `one of ${AUTHZ_ACTIONS.join(', ')}`, action);
    info.action = action as AuthorizationPolicyInfo['action'];
  }
  if (present(spec.provider)) {
    const prov = strict(spec.provider, 'spec.provider', 'ExtensionProvider (security.istio.io/v1)', ['name']);
    optStr(prov.name, 'spec.provider.name');
  }
  if (present(spec.selector)) {
    const sel = decodeIstioSelector(spec.selector, 'spec.selector');
    if (sel.matchLabels) info.selector = { matchLabels: sel.matchLabels };
  }
  if (present(spec.targetRef)) {
    decodeTargetRef(spec.targetRef, 'spec.targetRef');
    info.targetRefs = true;
  }
  const refs = optArray(spec.targetRefs, 'spec.targetRefs');
  if (refs) {
    if (refs.length > 16)
      throw invalidAs('spec.targetRefs', 'at most 16 targetRefs', `${refs.length} entries`);
    refs.forEach((r, i) => decodeTargetRef(r, at('spec.targetRefs', i)));
    info.targetRefs = true;
  }
  const rules = optArray(spec.rules, 'spec.rules');
  if (rules) {
    if (rules.length > 512) throw invalidAs('spec.rules', 'at most 512 rules', `${rules.length} rules`);
    info.rules = rules.map((x, i) => decodeAuthzRule(x, at('spec.rules', i), info.action));
  }
  // istiod's validating webhook (istio/istio 1.28.3 pkg/config/validation/validation.go
  // ValidateAuthorizationPolicy). An empty list is no list to it (protobuf).
  const providerName = isPlainObject(spec.provider) ? spec.provider.name : undefined;
  if (info.action === 'DENY' && !rules?.length)
    throw invalid(
      'spec.rules',
      'rules on a DENY policy (istiod refuses a DENY without rules: it would never match; add an empty rule `{}` to deny everything)',
      spec.rules ?? 'nothing',
    );
  if (info.action === 'CUSTOM' && !rules?.length)
    throw invalid(
      'spec.rules',
      'rules on a CUSTOM policy (istiod refuses a CUSTOM without rules: it would never be triggered; add an empty rule `{}`)',
      spec.rules ?? 'nothing',
    );
  if (info.action === 'CUSTOM' && (typeof providerName !== 'string' || providerName === ''))
    throw invalid(
      'spec.provider.name',
      'the name of an extension provider (istiod requires it with CUSTOM)',
      providerName ?? 'nothing',
    );
  if (present(spec.provider) && info.action !== 'CUSTOM')
    throw invalid(
      'spec.provider',
      `no provider with action ${info.action} (istiod accepts provider only with CUSTOM)`,
      spec.provider,
    );
  return info;
}

/** istiod's ValidatePorts: decimal digits (strconv.ParseUint base 10) up to 65535. */
function checkAuthzPorts(list: string[] | undefined, path: string): void {
  (list ?? []).forEach((p, i) => {
    if (!/^\d+$/.test(p) || Number(p) > 65535)
      throw invalid(
        at(path, i),
        'a port number from 0 to 65535 in decimal, as a string (istiod refuses names and other forms)',
        p,
      );
  });
}

/** istiod's ValidateIPs: an address, or an address/prefix (netip.ParseAddr, ParsePrefix). */
function checkAuthzIps(list: string[] | undefined, path: string): void {
  (list ?? []).forEach((v, i) => {
    const r = v.includes('/') ? parseCidr(v) : parseIp(v);
    if ('error' in r) throw invalid(at(path, i), `an IP address or CIDR: ${r.error}`, v);
  });
}

/** istiod's CheckEmptyValues: no "" among the values. */
function checkNonEmpty(list: string[] | undefined, path: string): void {
  const i = (list ?? []).indexOf('');
  if (i >= 0) throw invalid(at(path, i), 'a value (istiod refuses empty strings here)', '');
}

/** istiod's CheckServiceAccount: "sa" or "ns/sa", both parts non-empty, no "*". */
function checkServiceAccounts(list: string[] | undefined, path: string): void {
  (list ?? []).forEach((v, i) => {
    const parts = v.split('/');
    if (v.includes('*') || parts.length > 2 || parts.some((x) => x === ''))
      throw invalid(at(path, i), "'serviceAccount' or 'namespace/serviceAccount', without wildcards", v);
  });
}

/**
 * The condition keys istiod knows (pkg/config/security/security.go ValidateAttribute), and how it
 * checks their values: IPs for source.ip, remote.ip and destination.ip, ports for
 * destination.port, service accounts for source.serviceAccount, `name[key]` for the map keys.
 */
function checkConditionKey(key: string, values: string[] | undefined, path: string, keyPath: string): void {
  // validateMapKey: a "[" after the first character, a "]" at the end, something between.
  const mapKey = (prefix: string) => {
    const open = key.indexOf('[');
    if (!(key.endsWith(']') && open > 0 && open < key.length - 2))
      throw invalid(keyPath, `${prefix}[<name>], the name in brackets`, key);
  };
  if (key.startsWith('request.headers')) return mapKey('request.headers');
  if (key.startsWith('request.auth.claims')) return mapKey('request.auth.claims');
  if (key.startsWith('experimental.envoy.filters.')) return mapKey('experimental.envoy.filters.');
  if (['source.ip', 'remote.ip', 'destination.ip'].includes(key)) return checkAuthzIps(values, path);
  if (key === 'destination.port') return checkAuthzPorts(values, path);
  if (key === 'source.serviceAccount') return checkServiceAccounts(values, path);
  if (
    [
      'source.namespace',
      'source.principal',
      'request.auth.principal',
      'request.auth.audiences',
      'request.auth.presenter',
      'connection.sni',
    ].includes(key)
  )
    return;
  const why =
    key === 'destination.namespace'
      ? 'istiod refuses destination.namespace: the policy’s metadata.namespace says it'
      : key.startsWith('destination.labels')
        ? 'istiod refuses destination.labels: the workload selector says it'
        : key === 'destination.name' || key === 'destination.user'
          ? `istiod refuses ${key}: it was only supported in v1alpha1`
          : 'a condition key istiod knows: source.ip, source.namespace, source.principal, source.serviceAccount, destination.ip, destination.port, remote.ip, connection.sni, request.headers[…], request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[…], experimental.envoy.filters.…[…]';
  throw invalid(keyPath, why, key);
}

function decodeAuthzRule(v: unknown, path: string, action: AuthorizationPolicyInfo['action']): AuthzRule {
  if (!present(v)) throw invalid(path, 'a rule (istiod refuses a null rule; `{}` matches everything)', v);
  const r = strict(v, path, 'Rule (security.istio.io/v1)', ['from', 'to', 'when']);
  const rule: AuthzRule = {};
  const from = optArray(r.from, child(path, 'from'));
  if (from) {
    if (from.length > 512)
      throw invalidAs(child(path, 'from'), 'at most 512 entries', `${from.length} entries`);
    rule.from = from.map((x, i) => {
      const p = at(child(path, 'from'), i);
      const f = strict(x, p, 'Rule.From (security.istio.io/v1)', ['source']);
      const sp = child(p, 'source');
      if (!present(f.source))
        throw new FieldError(
          sp,
          'missing',
          'a source (istiod refuses a `from` entry without one)',
          'nothing',
        );
      const src = strict(f.source, sp, 'Source (security.istio.io/v1)', SOURCE_FIELDS);
      const values: Record<string, string[]> = {};
      for (const k of SOURCE_FIELDS) {
        const isSa = k === 'serviceAccounts' || k === 'notServiceAccounts';
        const list = optStrings(src[k], child(sp, k), isSa ? 16 : undefined, isSa ? 320 : undefined);
        // istiod uses a field only when it has entries (authorization.go: len(...) > 0): [] is absent.
        if (list?.length) values[k] = list;
        if (isSa) checkServiceAccounts(list, child(sp, k));
        else checkNonEmpty(list, child(sp, k));
        if (/[iI]pBlocks$/.test(k)) checkAuthzIps(list, child(sp, k));
        if (
          action === 'CUSTOM' &&
          list?.length &&
          /^(not)?([Nn]amespaces|[Ss]erviceAccounts|[Pp]rincipals|[Rr]equestPrincipals)$/.test(k)
        )
          throw invalid(
            child(sp, k),
            `no ${k} in a CUSTOM policy (istiod does not support it with CUSTOM)`,
            list,
          );
      }
      if (!Object.keys(values).length)
        throw invalid(sp, 'at least one field with a value (istiod refuses an empty source)', src);
      if (
        (values.serviceAccounts || values.notServiceAccounts) &&
        (values.principals || values.notPrincipals || values.namespaces || values.notNamespaces)
      )
        throw invalid(
          sp,
          'serviceAccounts or notServiceAccounts without principals or namespaces (the CRD refuses both)',
          src,
        );
      const source: AuthzSource = {};
      const l7: string[] = [];
      for (const [k, list] of Object.entries(values)) {
        if (L4_SOURCE.includes(k)) (source as Record<string, string[]>)[k] = list;
        else l7.push(k);
      }
      return { source: { ...source, ...(l7.length ? { l7 } : {}) } };
    });
  }
  const to = optArray(r.to, child(path, 'to'));
  if (to)
    rule.to = to.map((x, i) => {
      const p = at(child(path, 'to'), i);
      const t = strict(x, p, 'Rule.To (security.istio.io/v1)', ['operation']);
      const op = child(p, 'operation');
      if (!present(t.operation))
        throw new FieldError(
          op,
          'missing',
          'an operation (istiod refuses a `to` entry without one)',
          'nothing',
        );
      const o = strict(t.operation, op, 'Operation (security.istio.io/v1)', OPERATION_FIELDS);
      if (!OPERATION_FIELDS.some((k) => Array.isArray(o[k]) && o[k].length > 0))
        throw invalid(op, 'at least one field with a value (istiod refuses an empty operation)', o);
      const operation: AuthzOperation = {};
      const l7: string[] = [];
      for (const k of OPERATION_FIELDS) {
        const list = optStrings(o[k], child(op, k));
        checkNonEmpty(list, child(op, k));
        if (k === 'ports' || k === 'notPorts') checkAuthzPorts(list, child(op, k));
        if (!list?.length) continue; // [] is absent for istiod, as for sources
        if (L4_OPERATION.includes(k)) (operation as Record<string, string[]>)[k] = list;
        else l7.push(k);
      }
      return { operation: { ...operation, ...(l7.length ? { l7 } : {}) } };
    });
  const when = optArray(r.when, child(path, 'when'));
  if (when)
    rule.when = when.map((x, i): AuthzCondition => {
      const p = at(child(path, 'when'), i);
      const c = strict(x, p, 'Condition (security.istio.io/v1)', ['key', 'values', 'notValues']);
      if (!present(c.key))
        throw new FieldError(child(p, 'key'), 'missing', 'a key (e.g. source.ip)', 'nothing');
      const key = str(c.key, child(p, 'key'));
      if (key === '') throw invalid(child(p, 'key'), 'a key (e.g. source.ip)', key);
      const values = optStrings(c.values, child(p, 'values'));
      const notValues = optStrings(c.notValues, child(p, 'notValues'));
      if (!values?.length && !notValues?.length)
        throw new FieldError(
          child(p, 'values'),
          'missing',
          `values or notValues for ${key} (istiod requires one)`,
          'neither',
        );
      checkNonEmpty(values, child(p, 'values'));
      checkNonEmpty(notValues, child(p, 'notValues'));
      checkConditionKey(key, values, child(p, 'values'), child(p, 'key'));
      checkConditionKey(key, notValues, child(p, 'notValues'), child(p, 'key'));
      if (
        action === 'CUSTOM' &&
        (['source.namespace', 'source.serviceAccount', 'source.principal'].includes(key) ||
          key.startsWith('request.auth.'))
      )
        throw invalid(
          child(p, 'key'),
          `a key other than ${key} (istiod does not support it with CUSTOM)`,
          key,
        );
      return {
        key,
        ...(values?.length ? { values } : {}),
        ...(notValues?.length ? { notValues } : {}),
      };
    });
  return rule;
}
