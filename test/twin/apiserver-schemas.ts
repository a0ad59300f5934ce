import * as clientNode from '@kubernetes/client-node';
import { goQuote, type FieldError } from './apiserver-errors.ts';
import { sortKeys, unknownFields } from './apiserver-patch.ts';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  maxLenError,
  nameProblems,
  regexError,
  type KubeObject,
  type ResourceType,
} from './apiserver-resources.ts';

/**
 * What the twin API server refuses in an object of a built-in type, beyond its name.
 *
 * 1. Strict decoding: unknown and duplicate fields at every depth. The schema is that of
 *    @kubernetes/client-node's generated models (node_modules/@kubernetes/client-node, 2.0.1 here:
 *    dist/gen/models/*.js `attributeTypeMap`, generated from Kubernetes' OpenAPI spec
 *    "release-1.36", as each model's header says). The twin serves v1.34, so the fields those
 *    models know that a v1.34 decoder does not are taken out (NOT_IN_V1_34: found by walking the
 *    models against kubernetes/api v0.34.0 testdata/HEAD/*.json, which sets every field of every
 *    type, and against apiextensions-apiserver and kube-aggregator v0.34.0's Go types).
 *    The errors are those of sigs.k8s.io/json (cfa47c3a1cc8, the version apimachinery v0.34.0
 *    uses) under UnmarshalStrict: `unknown field "spec.containers[0].foo"` and
 *    `duplicate field "metadata.name"`, a path of JSON field names and map keys joined by "." with
 *    "[i]" for list items, in the order the decoder meets them (the body's order), each text once,
 *    at most 100. Values a custom unmarshaler decodes (IntOrString, Quantity, times,
 *    RawExtension and JSON: the models' `any`) are not looked into, as upstream.
 * 2. Validation (422 Invalid) of what the harness could send wrong; a short list (see
 *    validateBuiltin), from kubernetes/kubernetes pkg/apis/{core,apps,networking,coordination}/
 *    validation (read at a recent commit; the texts used here are older than v1.34) and
 *    apimachinery v0.34.0 (pkg/api/validation/objectmeta.go and generic.go,
 *    pkg/apis/meta/v1/validation, pkg/util/validation, field/errors.go: a bad value that is not a
 *    number, bool or string is printed as JSON). Fields the API server defaults before it
 *    validates (protocols, pull, restart and DNS policies, probe paths) are only checked when set.
 */

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Structural schemas: client-node's models

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
const MODELS = clientNode as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>;

/**
 * Fields of the models (client-node 2.0.1, OpenAPI release-1.36) that Kubernetes v1.34 does not
 * have: added in 1.35 or 1.36 (model.field, the field by its JSON name).
 */
export const NOT_IN_V1_34: ReadonlySet<string> = new Set([
  'V1PodSpec.schedulingGroup',
  'V1PodCertificateProjection.userAnnotations',
  'V1PodStatus.allocatedResources',
  'V1PodStatus.nodeAllocatableResourceClaimStatuses',
  'V1PodStatus.resources',
  'V1ResourceHealth.message',
  'V1VolumeMountStatus.volumeStatus',
  'V1NodeStatus.declaredFeatures',
  'V1CustomResourceDefinitionCondition.observedGeneration',
  'V1CustomResourceDefinitionStatus.observedGeneration',
]);

const fieldsCache = new Map<string, ReadonlyMap<string, string> | null>();

/** A model's JSON fields and their model types; undefined for a type that is not a struct. */
export function modelFields(type: string): ReadonlyMap<string, string> | undefined {
  let fields = fieldsCache.get(type);
  if (fields === undefined) {
    const attrs = MODELS[type]?.attributeTypeMap;
    fields = Array.isArray(attrs)
      ? new Map(
          attrs.filter((a) => !NOT_IN_V1_34.has(`${type}.${a.baseName}`)).map((a) => [a.baseName, a.type]),
        )
      : null;
    fieldsCache.set(type, fields);
  }
  return fields ?? undefined;
}

/**
 * The model of a built-in kind: client-node names it <Version><Kind> (V1Pod, V1Deployment), with
 * the group's first label in front where two groups share a kind (CoreV1Event, EventsV1Event).
 */
export function modelTypeFor(
  rt: Pick<ResourceType, 'group' | 'version' | 'kind' | 'custom'>,
): string | undefined {
  if (rt.custom) return undefined;
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const version = cap(rt.version);
  const group = cap(rt.group ? (rt.group.split('.')[0] ?? '') : 'core');
  return [`${group}${version}${rt.kind}`, `${version}${rt.kind}`].find((t) => modelFields(t));
}

/** A JSON value with each object's keys in order, duplicates kept (JSON.parse keeps the last). */
export type JsonNode =
  | { t: 'object'; entries: [string, JsonNode][] }
  | { t: 'array'; items: JsonNode[] }
  | { t: 'value'; v: unknown };

/** Parses JSON text that JSON.parse has already accepted. */
export function parseJsonNodes(text: string): JsonNode {
  let i = 0;
  const space = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i += 1;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): JsonNode => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      i += 1;
      space();
      const entries: [string, JsonNode][] = [];
      const items: JsonNode[] = [];
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) i += 1;
      else
        for (;;) {
          if (c === '{') {
            space();
            const key = string();
            space();
            i += 1; // ':'
            entries.push([key, value()]);
          } else items.push(value());
          space();
          if (text[i++] === close) break;
        }
      return c === '{' ? { t: 'object', entries } : { t: 'array', items };
    }
    if (c === '"') return { t: 'value', v: string() };
    const start = i;
    while (i < text.length && !',]} \t\n\r'.includes(text.charAt(i))) i += 1;
    return { t: 'value', v: JSON.parse(text.slice(start, i)) as unknown };
  };
  return value();
}

/** The node of a decoded value; `sorted`: keys in Go's map order, as a marshalled map has them. */
export function nodeOf(v: unknown, sorted = false): JsonNode {
  if (Array.isArray(v)) return { t: 'array', items: v.map((x) => nodeOf(x, sorted)) };
  if (isMap(v)) {
    const keys = Object.keys(v);
    if (sorted) keys.sort();
    return { t: 'object', entries: keys.map((k) => [k, nodeOf(v[k], sorted)]) };
  }
  return { t: 'value', v };
}

/** The decoded value of a node (a repeated key: the last one, as JSON.parse and Go keep it). */
export function valueOf(n: JsonNode): unknown {
  if (n.t === 'value') return n.v;
  if (n.t === 'array') return n.items.map(valueOf);
  const out: Json = {};
  for (const [k, v] of n.entries) out[k] = valueOf(v);
  return out;
}

/** Strict errors as sigs.k8s.io/json saves them: each text once, at most 100. */
class StrictErrors {
  readonly list: string[] = [];
  private readonly seen = new Set<string>();
  add(kind: 'unknown field' | 'duplicate field', path: string): void {
    const msg = `${kind} ${goQuote(path)}`;
    if (this.list.length >= 100 || this.seen.has(msg)) return;
    this.seen.add(msg);
    this.list.push(msg);
  }
}

const ARRAY_TYPE = /^Array<(.+)>$/;
const MAP_TYPE = /^\{ \[key: string\]: (.+); \}$/;
/** Go's interface{}: nothing is unknown, repeated keys are (a JSON patch's value, a patch body). */
const ANY_JSON = 'interface{}';
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Decodes `node` as model `type`: the value without unknown fields; errors into `errs`. */
function decodeNode(type: string, node: JsonNode, path: string, errs: StrictErrors): unknown {
  if (node.t === 'value') return node.v;
  const list = ARRAY_TYPE.exec(type);
  if (list || type === ANY_JSON) {
    if (node.t === 'array')
      return node.items.map((n, i) => decodeNode(list?.[1] ?? ANY_JSON, n, `${path}[${i}]`, errs));
    if (list) return valueOf(node);
  }
  const map = MAP_TYPE.exec(type);
  const fields = map || type === ANY_JSON ? undefined : modelFields(type);
  if (node.t !== 'object' || (!map && !fields && type !== ANY_JSON)) return valueOf(node);
  const out: Json = {};
  const seen = new Set<string>();
  for (const [key, child] of node.entries) {
    const childType = map?.[1] ?? (fields ? fields.get(key) : ANY_JSON);
    if (childType === undefined) {
      errs.add('unknown field', join(path, key));
      continue;
    }
    if (seen.has(key)) errs.add('duplicate field', join(path, key));
    seen.add(key);
    out[key] = decodeNode(childType, child, join(path, key), errs);
  }
  return out;
}

export interface Decoded {
  /** The strict decoding errors (`unknown field "spec.foo"`), in upstream's order. */
  errors: string[];
  /** The object as decoded: unknown fields dropped. */
  object: KubeObject;
}

/**
 * Strict decoding of an object of type `rt` (create, update, or a patched object):
 * - `raw`: the body's JSON text, for the fields' order and repeated keys (else `body`'s order);
 * - `order: 'sorted-keys'`: a JSON or merge patch's result, which upstream marshals from a map
 *   before decoding it (keys sorted); 'sorted-errors': a strategic merge patch's, which the
 *   unstructured converter reports sorted (runtime/converter.go FromUnstructuredWithValidation).
 * Custom resources keep the CRD schema walk (apiserver-patch.ts unknownFields).
 */
export function strictDecode(
  rt: ResourceType,
  body: Json,
  opts: { raw?: string; order?: 'document' | 'sorted-keys' | 'sorted-errors' } = {},
): Decoded {
  const order = opts.order ?? 'document';
  const model = modelTypeFor(rt);
  if (!model) {
    const { unknown, pruned } = unknownFields(rt, order === 'document' ? body : (sortKeys(body) as Json));
    const errors = unknown.map((f) => `unknown field ${goQuote(f)}`);
    return { errors: order === 'sorted-errors' ? errors.sort() : errors, object: pruned };
  }
  const node = opts.raw !== undefined ? parseJsonNodes(opts.raw) : nodeOf(body, order !== 'document');
  const errs = new StrictErrors();
  const object = decodeNode(model, node, '', errs) as KubeObject;
  if (!isMap(object.metadata)) object.metadata = {};
  return { errors: order === 'sorted-errors' ? errs.list.sort() : errs.list, object };
}

/**
 * The strict errors of a patch body itself (handlers/patch.go): a JSON patch is read into
 * []jsonPatchOp (op, path, from, value) and its errors say "json patch …"; a merge or strategic
 * merge patch is read into a map, so only repeated keys are errors.
 */
export function patchBodyErrors(kind: 'json' | 'merge' | 'strategic', raw: string): string[] {
  let node: JsonNode;
  try {
    node = parseJsonNodes(raw);
  } catch {
    return [];
  }
  const errs = new StrictErrors();
  if (kind === 'json') {
    if (node.t === 'array')
      node.items.forEach((item, i) => {
        if (item.t !== 'object') return;
        const seen = new Set<string>();
        for (const [key, child] of item.entries) {
          const path = `[${i}].${key}`;
          if (!['op', 'path', 'from', 'value'].includes(key)) {
            errs.add('unknown field', path);
            continue;
          }
          if (seen.has(key)) errs.add('duplicate field', path);
          seen.add(key);
          if (key === 'value') decodeNode(ANY_JSON, child, path, errs);
        }
      });
    return errs.list.map((e) => `json patch ${e}`);
  }
  decodeNode(ANY_JSON, node, '', errs);
  return errs.list;
}

/**
 * Server-side apply's schema check (structured-merge-diff's "field not declared in schema"), paths
 * as SMD prints them (".spec.foo"). List items are shown by index: SMD names an associative list's
 * item by its key (`[name="app"]`), which the models do not say.
 */
export function appliedUnknownFields(rt: ResourceType, applied: Json): string[] {
  const model = modelTypeFor(rt);
  if (!model) return unknownFields(rt, applied).unknown.map((f) => `.${f}`);
  const errs = new StrictErrors();
  decodeNode(model, nodeOf(applied, true), '', errs);
  return errs.list
    .filter((e) => e.startsWith('unknown field '))
    .map((e) => `.${JSON.parse(e.slice('unknown field '.length)) as string}`);
}

/** Go's fmt %v of a decoded JSON value (a strategic merge patch map in its 422). */
export function goSprint(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goSprint).join(' ')}]`;
  if (isMap(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goSprint(v[k])}`)
      .join(' ')}]`;
  if (typeof v === 'number') return goFloat(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * %v of a JSON number: an integer as decoded into int64 (kjson PreserveInts), else a float64 as
 * strconv's shortest 'g' (exponent form below 1e-4 and from 1e+06).
 */
function goFloat(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  const [m = '', e = '0'] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

// ---------------------------------------------------------------------------------------------
// Validation (422 Invalid)

class Errors {
  readonly list: FieldError[] = [];
  invalid(field: string, value: unknown, detail: string): void {
    this.list.push({ type: 'FieldValueInvalid', field, value, detail });
  }
  required(field: string, detail = ''): void {
    this.list.push({ type: 'FieldValueRequired', field, ...(detail ? { detail } : {}) });
  }
  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    this.list.push({ type: 'FieldValueNotSupported', field, value, supported });
  }
  duplicate(field: string, value: unknown): void {
    this.list.push({ type: 'FieldValueDuplicate', field, value });
  }
  forbidden(field: string, detail: string): void {
    this.list.push({ type: 'FieldValueForbidden', field, detail });
  }
  tooLong(field: string, max: number): void {
    this.list.push({ type: 'FieldValueTooLong', field, detail: `may not be more than ${max} bytes` });
  }
}

const bytes = (s: string) => Buffer.byteLength(s);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Json => (isMap(v) ? v : {});
/** A field that was given (upstream's defaulting fills the empty ones before validation). */
const given = (v: unknown): v is string => typeof v === 'string' && v !== '';

// apimachinery v0.34.0 pkg/util/validation/validation.go
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;

export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  const regex = () => regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc');
  if (parts.length > 2)
    return [
      `a qualified name ${regex()} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  const name = parts[parts.length - 1] ?? '';
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (!prefix) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  }
  if (!name) errs.push('name part must be non-empty');
  else if (bytes(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!new RegExp(`^${QUALIFIED_NAME_FMT}$`).test(name)) errs.push(`name part ${regex()}`);
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (bytes(value) > 63) errs.push(maxLenError(63));
  if (!new RegExp(`^${LABEL_VALUE_FMT}$`).test(value))
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  return errs;
}

export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (bytes(port) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.startsWith('-') || port.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

const isValidPortNum = (port: number): string[] =>
  Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];

/** meta/v1/validation ValidateLabels (the field is the map's, for the key and for the value). */
function validateLabels(labels: unknown, path: string, e: Errors): void {
  for (const [k, v] of Object.entries(obj(labels))) {
    for (const msg of isQualifiedName(k)) e.invalid(path, k, msg);
    for (const msg of isValidLabelValue(str(v))) e.invalid(path, str(v), msg);
  }
}

/** objectmeta.go ValidateAnnotations: keys are qualified names (lower-cased), 256 KiB in all. */
function validateAnnotations(annotations: unknown, path: string, e: Errors): void {
  let size = 0;
  for (const [k, v] of Object.entries(obj(annotations))) {
    for (const msg of isQualifiedName(k.toLowerCase())) e.invalid(path, k, msg);
    size += bytes(k) + bytes(str(v));
  }
  if (size > 256 * 1024) e.tooLong(path, 256 * 1024);
}

/** objectmeta.go ValidateObjectMeta (create; name generation not yet done) or …Update. */
function validateMeta(rt: ResourceType, meta: Json, op: 'create' | 'update', e: Errors): void {
  if (op === 'create') {
    const generateName = str(meta.generateName);
    if (generateName)
      for (const msg of nameProblems(rt.nameRule, generateName, true))
        e.invalid('metadata.generateName', generateName, msg);
    const name = str(meta.name);
    if (name) for (const msg of nameProblems(rt.nameRule, name)) e.invalid('metadata.name', name, msg);
    else if (!generateName) e.required('metadata.name', 'name or generateName is required');
  }
  validateLabels(meta.labels, 'metadata.labels', e);
  validateAnnotations(meta.annotations, 'metadata.annotations', e);
}

/** meta/v1/validation ValidateLabelSelector; false when LabelSelectorAsSelector would fail too. */
function validateLabelSelector(sel: Json, path: string, e: Errors): boolean {
  const before = e.list.length;
  validateLabels(sel.matchLabels, `${path}.matchLabels`, e);
  list(sel.matchExpressions).forEach((raw, i) => {
    const req = obj(raw);
    const p = `${path}.matchExpressions[${i}]`;
    const values = list(req.values);
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (!values.length) e.required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'");
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length)
          e.forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        break;
      default:
        e.invalid(`${p}.operator`, str(req.operator), 'not a valid selector operator');
    }
    for (const msg of isQualifiedName(str(req.key))) e.invalid(`${p}.key`, str(req.key), msg);
    values.forEach((v, j) => {
      for (const msg of isValidLabelValue(str(v))) e.invalid(`${p}.values[${j}]`, str(v), msg);
    });
  });
  return e.list.length === before;
}

/** labels.Selector.Matches for a metav1.LabelSelector (nil matches nothing, empty everything). */
function selectorMatches(sel: Json | undefined, labels: Json): boolean {
  if (!sel) return false;
  const has = (k: string) => Object.hasOwn(labels, k);
  return (
    Object.entries(obj(sel.matchLabels)).every(([k, v]) => has(k) && labels[k] === v) &&
    list(sel.matchExpressions).every((raw) => {
      const r = obj(raw);
      const key = str(r.key);
      const values = list(r.values);
      if (r.operator === 'In') return has(key) && values.includes(labels[key]);
      if (r.operator === 'NotIn') return !has(key) || !values.includes(labels[key]);
      if (r.operator === 'Exists') return has(key);
      return !has(key);
    })
  );
}

/** metav1.LabelSelector as json.Marshal writes it (matchLabels, then matchExpressions). */
function selectorValue(sel: Json): Json {
  return {
    ...(isMap(sel.matchLabels) && Object.keys(sel.matchLabels).length
      ? { matchLabels: sel.matchLabels }
      : {}),
    ...(list(sel.matchExpressions).length ? { matchExpressions: sel.matchExpressions } : {}),
  };
}

/** core ValidatePortNumOrName (probe and handler ports; an absent port is the int 0). */
function validatePortNumOrName(port: unknown, path: string, e: Errors): void {
  if (typeof port === 'string') for (const msg of isValidPortName(port)) e.invalid(path, port, msg);
  else {
    const n = typeof port === 'number' ? port : 0;
    for (const msg of isValidPortNum(n)) e.invalid(path, n, msg);
  }
}

/** core validateProbe → validateHandler: exactly one handler, and its port. */
function validateProbe(probe: unknown, path: string, e: Errors): void {
  if (!isMap(probe)) return;
  const kinds = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((k) => isMap(probe[k]));
  kinds.slice(1).forEach((k) => e.forbidden(`${path}.${k}`, 'may not specify more than 1 handler type'));
  const [first] = kinds;
  if (!first) return e.required(path, 'must specify a handler type');
  const h = obj(probe[first]);
  if (first === 'exec' && !list(h.command).length) e.required(`${path}.exec.command`);
  if (first === 'httpGet') {
    validatePortNumOrName(h.port, `${path}.httpGet.port`, e);
    if (given(h.scheme) && !['HTTP', 'HTTPS'].includes(h.scheme))
      e.notSupported(`${path}.httpGet.scheme`, h.scheme, ['HTTP', 'HTTPS']);
  }
  if (first === 'tcpSocket') validatePortNumOrName(h.port, `${path}.tcpSocket.port`, e);
  if (first === 'grpc')
    validatePortNumOrName(typeof h.port === 'number' ? h.port : 0, `${path}.grpc.port`, e);
}

/** core validateContainerPorts (protocol is defaulted to TCP when empty). */
function validateContainerPorts(ports: unknown, path: string, e: Errors): void {
  const names = new Set<string>();
  list(ports).forEach((raw, i) => {
    const port = obj(raw);
    const p = `${path}[${i}]`;
    const name = str(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      for (const msg of msgs) e.invalid(`${p}.name`, name, msg);
      if (!msgs.length && names.has(name)) e.duplicate(`${p}.name`, name);
      else if (!msgs.length) names.add(name);
    }
    const cp = port.containerPort;
    if (cp === undefined || cp === null || cp === 0) e.required(`${p}.containerPort`);
    else for (const msg of isValidPortNum(Number(cp))) e.invalid(`${p}.containerPort`, cp, msg);
    const hp = port.hostPort;
    if (typeof hp === 'number' && hp !== 0)
      for (const msg of isValidPortNum(hp)) e.invalid(`${p}.hostPort`, hp, msg);
    if (given(port.protocol) && !['SCTP', 'TCP', 'UDP'].includes(port.protocol))
      e.notSupported(`${p}.protocol`, port.protocol, ['SCTP', 'TCP', 'UDP']);
  });
}

/** core validateContainerCommon: name, image, termination message policy, ports, pull policy. */
function validateContainerCommon(c: Json, path: string, e: Errors): void {
  const name = str(c.name);
  if (!name) e.required(`${path}.name`);
  else for (const msg of isDNS1123Label(name)) e.invalid(`${path}.name`, name, msg);
  if (!str(c.image)) e.required(`${path}.image`);
  const tmp = c.terminationMessagePolicy;
  if (given(tmp) && !['File', 'FallbackToLogsOnError'].includes(tmp))
    e.notSupported(`${path}.terminationMessagePolicy`, tmp, ['File', 'FallbackToLogsOnError']);
  validateContainerPorts(c.ports, `${path}.ports`, e);
  if (given(c.imagePullPolicy) && !['Always', 'IfNotPresent', 'Never'].includes(c.imagePullPolicy))
    e.notSupported(`${path}.imagePullPolicy`, c.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']);
}

/** core ValidatePodSpec, the part above (in its order). */
function validatePodSpec(specValue: unknown, path: string, e: Errors): void {
  const spec = obj(specValue);
  const containers = list(spec.containers).map(obj);
  const names = new Set<string>();
  if (!containers.length) e.required(`${path}.containers`);
  containers.forEach((c, i) => {
    const p = `${path}.containers[${i}]`;
    validateContainerCommon(c, p, e);
    if (names.has(str(c.name))) e.duplicate(`${p}.name`, str(c.name));
    else names.add(str(c.name));
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
      validateProbe(c[probe], `${p}.${probe}`, e);
  });
  list(spec.initContainers)
    .map(obj)
    .forEach((c, i) => {
      const p = `${path}.initContainers[${i}]`;
      validateContainerCommon(c, p, e);
      if (names.has(str(c.name))) e.duplicate(`${p}.name`, str(c.name));
      else if (str(c.name)) names.add(str(c.name));
    });
  const restartPolicies = ['Always', 'OnFailure', 'Never'];
  if (given(spec.restartPolicy) && !restartPolicies.includes(spec.restartPolicy))
    e.notSupported(`${path}.restartPolicy`, spec.restartPolicy, restartPolicies);
  const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
  if (given(spec.dnsPolicy) && !dnsPolicies.includes(spec.dnsPolicy))
    e.notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, dnsPolicies);
  validateLabels(spec.nodeSelector, `${path}.nodeSelector`, e);
  for (const f of ['serviceAccountName', 'nodeName']) {
    const v = str(spec[f]);
    if (v) for (const msg of nameProblems('subdomain', v)) e.invalid(`${path}.${f}`, v, msg);
  }
}

/**
 * apps ValidateDeploymentSpec / ValidateReplicaSetSpec / ValidateDaemonSetSpec: selector,
 * selector against the template's labels, the template (ValidatePodTemplateSpec: labels and
 * annotations at template.labels/annotations, then the pod spec), restartPolicy Always.
 */
function validateWorkloadSpec(
  kind: 'Deployment' | 'ReplicaSet' | 'DaemonSet',
  specValue: unknown,
  e: Errors,
) {
  const spec = obj(specValue);
  if (kind !== 'DaemonSet' && typeof spec.replicas === 'number' && spec.replicas < 0)
    e.invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0');
  const sel = isMap(spec.selector) ? spec.selector : undefined;
  const template = obj(spec.template);
  const labels = obj(obj(template.metadata).labels);
  const labelsValue = isMap(obj(template.metadata).labels) ? labels : null;
  const empty = (s: Json) => !Object.keys(obj(s.matchLabels)).length && !list(s.matchExpressions).length;
  const mismatch = () =>
    e.invalid('spec.template.metadata.labels', labelsValue, '`selector` does not match template `labels`');
  let selectorOk = true;
  if (kind === 'DaemonSet') {
    if (sel) selectorOk = validateLabelSelector(sel, 'spec.selector', e);
    if (selectorOk && !selectorMatches(sel, labels)) mismatch();
    if (sel && empty(sel))
      e.invalid('spec.selector', selectorValue(sel), 'empty selector is invalid for daemonset');
  } else {
    if (!sel) e.required('spec.selector');
    else {
      selectorOk = validateLabelSelector(sel, 'spec.selector', e);
      if (empty(sel))
        e.invalid('spec.selector', selectorValue(sel), 'empty selector is invalid for deployment');
    }
    if (!selectorOk) {
      e.invalid('spec.selector', selectorValue(sel ?? {}), 'invalid label selector');
      return;
    }
    if (!(sel && empty(sel)) && !selectorMatches(sel, labels)) mismatch();
  }
  const meta = obj(template.metadata);
  validateLabels(meta.labels, 'spec.template.labels', e);
  validateAnnotations(meta.annotations, 'spec.template.annotations', e);
  validatePodSpec(template.spec, 'spec.template.spec', e);
  const restart = obj(template.spec).restartPolicy;
  if (given(restart) && restart !== 'Always')
    e.notSupported('spec.template.spec.restartPolicy', restart, ['Always']);
}

/** An IP network ("a.b.c.d/n" or IPv6): [address as bits, prefix length, bit width]. */
function parseCidr(s: string): [bigint, number, number] | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const [, ip = '', bitsText = ''] = m;
  const bits = Number(bitsText);
  let addr = 0n;
  let width: number;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    for (const p of parts) addr = (addr << 8n) | BigInt(p);
    width = 32;
  } else if (ip.includes(':')) {
    const [head = '', tail, extra] = ip.split('::');
    if (extra !== undefined) return undefined;
    const groups = (g: string) => (g ? g.split(':') : []);
    const h = groups(head);
    const t = tail === undefined ? [] : groups(tail);
    const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
    for (const g of all) addr = (addr << 16n) | BigInt(parseInt(g, 16));
    width = 128;
  } else return undefined;
  return bits <= width ? [addr, bits, width] : undefined;
}

const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

/** networking ValidateIPBlock (the CIDR check common to v1.34's strict and legacy modes). */
function validateIPBlock(ipb: Json, path: string, e: Errors): void {
  const cidr = str(ipb.cidr);
  if (!cidr) return e.required(`${path}.cidr`);
  const net = parseCidr(cidr);
  if (!net) return e.invalid(`${path}.cidr`, cidr, CIDR_MSG);
  list(ipb.except).forEach((raw, i) => {
    const p = `${path}.except[${i}]`;
    const ex = parseCidr(str(raw));
    if (!ex) return e.invalid(p, str(raw), CIDR_MSG);
    const [addr, bits, width] = net;
    const [exAddr, exBits, exWidth] = ex;
    const shift = BigInt(width - bits);
    const inside = width === exWidth && exAddr >> shift === addr >> shift;
    if (!inside || bits >= exBits) e.invalid(p, str(raw), 'must be a strict subset of `cidr`');
  });
}

/** networking ValidateNetworkPolicyPort (protocol defaults to TCP). */
function validateNetworkPolicyPort(port: Json, path: string, e: Errors): void {
  if (given(port.protocol) && !['TCP', 'UDP', 'SCTP'].includes(port.protocol))
    e.notSupported(`${path}.protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']);
  const endPort = port.endPort;
  if (typeof port.port === 'number') {
    for (const msg of isValidPortNum(port.port)) e.invalid(`${path}.port`, port.port, msg);
    if (typeof endPort === 'number') {
      if (endPort < port.port)
        e.invalid(`${path}.endPort`, endPort, 'must be greater than or equal to `port`');
      for (const msg of isValidPortNum(endPort)) e.invalid(`${path}.endPort`, endPort, msg);
    }
  } else if (typeof port.port === 'string') {
    if (typeof endPort === 'number')
      e.invalid(`${path}.endPort`, endPort, 'may not be specified when `port` is non-numeric');
    for (const msg of isValidPortName(port.port)) e.invalid(`${path}.port`, port.port, msg);
  } else if (typeof endPort === 'number')
    e.invalid(`${path}.endPort`, endPort, 'may not be specified when `port` is not specified');
}

/** networking ValidateNetworkPolicyPeer. */
function validateNetworkPolicyPeer(peer: Json, path: string, e: Errors): void {
  let n = 0;
  for (const k of ['podSelector', 'namespaceSelector'] as const)
    if (isMap(peer[k])) {
      n += 1;
      validateLabelSelector(peer[k], `${path}.${k}`, e);
    }
  if (isMap(peer.ipBlock)) {
    n += 1;
    validateIPBlock(peer.ipBlock, `${path}.ipBlock`, e);
  }
  if (!n) e.required(path, 'must specify a peer');
  else if (n > 1 && isMap(peer.ipBlock)) e.forbidden(path, 'may not specify both ipBlock and another peer');
}

/** networking ValidateNetworkPolicySpec. */
function validateNetworkPolicySpec(specValue: unknown, e: Errors): void {
  const spec = obj(specValue);
  validateLabelSelector(obj(spec.podSelector), 'spec.podSelector', e);
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const)
    list(spec[dir]).forEach((raw, i) => {
      const rule = obj(raw);
      const p = `spec.${dir}[${i}]`;
      list(rule.ports).forEach((port, j) => validateNetworkPolicyPort(obj(port), `${p}.ports[${j}]`, e));
      list(rule[peers]).forEach((peer, j) => validateNetworkPolicyPeer(obj(peer), `${p}.${peers}[${j}]`, e));
    });
  const types = list(spec.policyTypes);
  if (types.length > 2)
    return e.invalid('spec.policyTypes', types, 'may not specify more than two policyTypes');
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') e.notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']);
  });
}

/** coordination ValidateLeaseSpec (durations and transitions). */
function validateLeaseSpec(specValue: unknown, e: Errors): void {
  const spec = obj(specValue);
  const d = spec.leaseDurationSeconds;
  if (typeof d === 'number' && d <= 0) e.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0');
  const t = spec.leaseTransitions;
  if (typeof t === 'number' && t < 0)
    e.invalid('spec.leaseTransitions', t, 'must be greater than or equal to 0');
}

/**
 * The 422 field errors of a create or update of a built-in object, in upstream's order
 * (ValidateObjectMeta, then the kind's spec). What is checked:
 * - every kind: metadata.name by the kind's name rule (create; a generateName as a prefix),
 *   metadata.labels (qualified-name keys, label values), metadata.annotations (keys, 256 KiB);
 * - Pod, and the pod template of a Deployment, ReplicaSet or DaemonSet: at least one container;
 *   container names (DNS-1123 label, unique), image required, ports (IANA port names, unique,
 *   containerPort required and 1-65535, hostPort, protocol), probe handlers and their ports,
 *   imagePullPolicy, terminationMessagePolicy, restartPolicy, dnsPolicy, nodeSelector labels,
 *   serviceAccountName and nodeName (DNS-1123 subdomains);
 * - Deployment, ReplicaSet, DaemonSet: replicas ≥ 0, selector required and valid and not empty,
 *   the selector matches the template's labels, the template's restartPolicy is Always;
 * - NetworkPolicy: selectors, ports (protocol, port number or name, endPort), peers (one kind
 *   each, ipBlock CIDRs and except inside cidr), policyTypes;
 * - Lease: leaseDurationSeconds > 0, leaseTransitions ≥ 0.
 * Not done: immutable fields on update, Services, RBAC, webhooks, CRDs, resources/quantities.
 */
export function validateBuiltin(rt: ResourceType, o: KubeObject, op: 'create' | 'update'): FieldError[] {
  const e = new Errors();
  if (rt.custom) return e.list;
  validateMeta(rt, obj(o.metadata), op, e);
  switch (`${rt.group}/${rt.kind}`) {
    case '/Pod':
      validatePodSpec(o.spec, 'spec', e);
      break;
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
    case 'apps/DaemonSet':
      validateWorkloadSpec(rt.kind as 'Deployment', o.spec, e);
      break;
    case 'networking.k8s.io/NetworkPolicy':
      validateNetworkPolicySpec(o.spec, e);
      break;
    case 'coordination.k8s.io/Lease':
      validateLeaseSpec(o.spec, e);
      break;
  }
  return e.list;
}
