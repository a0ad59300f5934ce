import { badRequest, goQuote } from './apiserver-errors.ts';
import { META_FIELDS, type JsonSchema, type KubeObject, type ResourceType } from './apiserver-resources.ts';

/**
 * Patch formats and the decoder's unknown-field rules of the twin API server:
 * - JSON merge patch (RFC 7386, application/merge-patch+json);
 * - strategic merge patch (application/strategic-merge-patch+json): maps merge as in a merge patch;
 *   lists whose items the Go types give a patchMergeKey (containers by name, ports by port, …; the
 *   LIST_MERGE_KEYS table) merge item by item and honour `$patch: delete`; `$patch: replace` on a
 *   map replaces it; metadata.finalizers (patchStrategy merge on a list of strings) is a union.
 *   Upstream decides per Go field (k8s.io/api struct tags), the twin per field name, and does not
 *   do $retainKeys, $setElementOrder or $deleteFromPrimitiveList (their keys are dropped);
 * - JSON patch (RFC 6902, application/json-patch+json);
 * - unknownFields: what fieldValidation reports and the decoder drops. Built-in types: every level,
 *   by client-node's generated models (apiserver-schemas.ts). Custom resources: the CRD's
 *   structural schema at every level.
 */

type Json = unknown;
type JsonMap = Record<string, unknown>;

const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Lists merged item by item under a strategic merge patch, by field name, with their merge key. */
const LIST_MERGE_KEYS: Record<string, string | ((item: JsonMap) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  // Container ports merge on containerPort, Service ports on port.
  ports: (item) => ('containerPort' in item ? 'containerPort' : 'port'),
};
/** Lists of scalars with patchStrategy "merge": a patch adds its items. */
const SCALAR_MERGE_LISTS = new Set(['finalizers']);

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return rest;
  }
  if (patch.$patch === 'delete') return undefined;
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // $retainKeys, $setElementOrder/…, $deleteFromPrimitiveList/…: not done
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k])) out[k] = mergeList(k, out[k] as Json[], v);
    else if (isMap(v)) {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = structuredClone(v);
  }
  return out;
}

function mergeList(field: string, live: Json[], patch: Json[]): Json[] {
  if (SCALAR_MERGE_LISTS.has(field)) return [...live, ...patch.filter((p) => !live.includes(p))];
  const keyOf = LIST_MERGE_KEYS[field];
  if (!keyOf || !patch.every(isMap)) return structuredClone(patch);
  const out = [...live];
  for (const p of patch) {
    const key = typeof keyOf === 'string' ? keyOf : keyOf(p);
    const at = out.findIndex((l) => isMap(l) && l[key] === p[key]);
    if (p.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = strategicMergePatch(out[at], p);
    else out.push(strategicMergePatch({}, p));
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** The 422 the API server gives when a JSON patch does not apply (NewGenericServerResponse). */
export class JsonPatchApplyError extends Error {}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`JSON pointer ${goQuote(path)} must start with "/"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], op: string, path: string): { parent: Json; last: string } {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    const next: unknown = Array.isArray(cur) ? cur[Number(p)] : isMap(cur) ? cur[p] : undefined;
    if (next === undefined)
      throw new JsonPatchApplyError(`jsonpatch ${op} operation does not apply: doc is missing path: ${path}`);
    cur = next;
  }
  return { parent: cur, last: parts[parts.length - 1] ?? '' };
}

function getAt(doc: Json, path: string, op: string): Json {
  const parts = pointer(path);
  if (!parts.length) return doc;
  const { parent, last } = parentOf(doc, parts, op, path);
  const v: unknown = Array.isArray(parent) ? parent[Number(last)] : isMap(parent) ? parent[last] : undefined;
  if (v === undefined)
    throw new JsonPatchApplyError(`jsonpatch ${op} operation does not apply: doc is missing key: ${path}`);
  return v;
}

function removeAt(doc: Json, path: string, op: string): Json {
  const v = getAt(doc, path, op);
  const parts = pointer(path);
  const { parent, last } = parentOf(doc, parts, op, path);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isMap(parent)) delete parent[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json, op: string): Json {
  const parts = pointer(path);
  if (!parts.length) return structuredClone(value);
  const { parent, last } = parentOf(doc, parts, op, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length)
      throw new JsonPatchApplyError(`jsonpatch ${op} operation does not apply: index out of bounds: ${path}`);
    parent.splice(i, 0, structuredClone(value));
  } else if (isMap(parent)) parent[last] = structuredClone(value);
  else
    throw new JsonPatchApplyError(`jsonpatch ${op} operation does not apply: doc is missing path: ${path}`);
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops))
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    const { op, path } = raw;
    switch (op) {
      case 'add':
        doc = addAt(doc, path, raw.value, op);
        break;
      case 'remove':
        removeAt(doc, path, op);
        break;
      case 'replace':
        getAt(doc, path, op);
        if (pointer(path).length === 0) doc = structuredClone(raw.value);
        else {
          removeAt(doc, path, op);
          doc = addAt(doc, path, raw.value, op);
        }
        break;
      case 'move': {
        const v = removeAt(doc, raw.from ?? '', op);
        doc = addAt(doc, path, v, op);
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, raw.from ?? '', op), op);
        break;
      case 'test':
        if (JSON.stringify(sortKeys(getAt(doc, path, op))) !== JSON.stringify(sortKeys(raw.value)))
          throw new JsonPatchApplyError(`testing value ${path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

/** A copy with map keys sorted, as Go's encoding/json writes a map[string]interface{}. */
export function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isMap(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys(v[k])]),
  );
}

function walkSchema(value: Json, schema: JsonSchema | undefined, path: string, out: string[]): Json {
  if (!schema) return value;
  if (Array.isArray(value))
    return schema.items ? value.map((v, i) => walkSchema(v, schema.items, `${path}[${i}]`, out)) : value;
  if (!isMap(value)) return value;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const props = schema.properties;
  const extra = isMap(schema.additionalProperties) ? schema.additionalProperties : undefined;
  if (!props && !extra && (preserve || schema.type !== 'object')) return value;
  const kept: JsonMap = {};
  for (const [k, v] of Object.entries(value)) {
    const child = path ? `${path}.${k}` : k;
    const s = props?.[k] ?? extra;
    if (s) kept[k] = walkSchema(v, s, child, out);
    else if (preserve || schema.additionalProperties === true) kept[k] = v;
    else out.push(child);
  }
  return kept;
}

/**
 * The fields the API server's decoder does not know, in the order they appear (the paths of
 * `strict decoding error: unknown field "spec.foo"`), and the object with them dropped.
 */
export function unknownFields(rt: ResourceType, obj: JsonMap): { unknown: string[]; pruned: KubeObject } {
  const unknown: string[] = [];
  const pruned: JsonMap = {};
  const top = rt.custom
    ? (rt.schema?.properties ?? {})
    : Object.fromEntries((rt.topLevelFields ?? []).map((f) => [f, undefined]));
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') pruned[k] = v;
    else if (k === 'metadata') {
      const meta: JsonMap = {};
      for (const [mk, mv] of Object.entries(isMap(v) ? v : {})) {
        if (META_FIELDS.includes(mk)) meta[mk] = mv;
        else unknown.push(`metadata.${mk}`);
      }
      pruned[k] = meta;
    } else if (k in top) pruned[k] = rt.custom ? walkSchema(v, top[k] ?? undefined, k, unknown) : v;
    else if (rt.custom && rt.schema?.['x-kubernetes-preserve-unknown-fields'] === true) pruned[k] = v;
    else unknown.push(k);
  }
  if (!isMap(pruned.metadata)) pruned.metadata = {};
  return { unknown, pruned: pruned as KubeObject };
}

/** metav1.MicroTime fields by type: RFC 3339 with exactly six fractional digits, or the decoder refuses. */
const MICRO_TIME_FIELDS: Record<string, string[][]> = {
  'coordination.k8s.io/leases': [
    ['spec', 'acquireTime'],
    ['spec', 'renewTime'],
  ],
  '/events': [['eventTime']],
};
const MICRO_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';

/**
 * The decode error for a malformed MicroTime (Go's time.Parse with RFC3339Micro), as the body of
 * `<Kind> in version "<v>" cannot be handled as a <Kind>: …`; undefined when all are well formed.
 */
export function microTimeProblem(rt: ResourceType, obj: JsonMap): string | undefined {
  for (const path of MICRO_TIME_FIELDS[`${rt.group}/${rt.resource}`] ?? []) {
    let v: unknown = obj;
    for (const p of path) v = isMap(v) ? v[p] : undefined;
    if (v === undefined || v === null) continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(s)) continue;
    const rest = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(s)
      ? `cannot parse ${goQuote(s.slice(19))} as ".000000"`
      : `cannot parse ${goQuote(s)} as "2006"`;
    return `parsing time ${goQuote(s)} as ${goQuote(MICRO_LAYOUT)}: ${rest}`;
  }
  return undefined;
}
