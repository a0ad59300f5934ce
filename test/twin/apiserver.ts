import { kubeconfigFor } from '../helpers/fake-apiserver.ts';
import { chmodSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { istioSecurityCrds } from './apiserver-crds.ts';
import {
  ApiError,
  badRequest,
  goQuote,
  internal,
  invalid,
  methodNotAllowed,
  methodNotSupported,
  noSuchResource,
  notFound,
  successStatus,
  unprocessable,
  unsupportedMediaType,
  type FieldError,
} from './apiserver-errors.ts';
import {
  JsonPatchApplyError,
  jsonPatch,
  mergePatch,
  microTimeProblem,
  sortKeys,
  strategicMergePatch,
} from './apiserver-patch.ts';
import { apiVersionOf, type KubeObject, type ResourceType, type Verb } from './apiserver-resources.ts';
import {
  appliedUnknownFields,
  goSprint,
  patchBodyErrors,
  strictDecode,
  validateBuiltin,
} from './apiserver-schemas.ts';
import { labelSelectorString, parseFieldSelector, parseLabelSelector } from './apiserver-selectors.ts';
import {
  TwinStore,
  type ObjectKey,
  type PropagationPolicy,
  type StoreEvent,
  type TwinStoreOptions,
} from './apiserver-store.ts';

export * from './apiserver-errors.ts';
export * from './apiserver-resources.ts';
export * from './apiserver-store.ts';
export { NOT_IN_V1_34, modelTypeFor, validateBuiltin } from './apiserver-schemas.ts';
export { istioSecurityCrds } from './apiserver-crds.ts';
export { parseFieldSelector, parseLabelSelector } from './apiserver-selectors.ts';

/**
 * The twin's Kubernetes API server: an in-memory API server on loopback HTTP that
 * @kubernetes/client-node 2.x (and anything else speaking the JSON API) uses as it would a real
 * one, for the calls this project makes. Generic REST over one TwinStore for every served type
 * (apiserver-resources.ts), discovery, /version, watches, the four patch types, dry runs and
 * field validation, and Status errors in the real server's forms. Every request is recorded.
 *
 * Not served: protobuf and CBOR (JSON only, whatever Accept says), aggregated discovery (v2),
 * /openapi, authentication and RBAC (every request is allowed), exec/attach/port-forward (see
 * `handle`), admission webhooks, and managedFields (fieldManager is accepted and not recorded).
 * metrics.k8s.io is always in discovery (a real cluster has it only with metrics-server).
 *
 * Field validation: unknown and duplicate fields at every level, for built-in types from
 * client-node's models (apiserver-schemas.ts), for custom resources from the CRD's schema.
 * Strict on a create or update is upstream's 400 "<Kind> in version … cannot be handled as a
 * <Kind>: strict decoding error: unknown field …" (handlers' transformDecodeError), on a patch its
 * 422 ` "" is invalid: patch: Invalid value: …`; Warn (the default) adds Warning headers (also
 * recorded with the request); Ignore drops them silently. Then the object is validated as the
 * type's strategy would (apiserver-schemas.ts validateBuiltin: a short list, 422 Invalid).
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  userAgent: string;
  contentType?: string;
  /** The response's status code, once it is sent. */
  status?: number;
  /** The warnings the response carried (Warning headers' texts), if any. */
  warnings?: string[];
}

export interface TwinApiServerOptions extends TwinStoreOptions {
  /** An existing store to serve (default: a new one with the options above). */
  store?: TwinStore;
  /** /version's gitVersion (default v1.34.0); major and minor are derived from it. */
  gitVersion?: string;
  /** Namespaces that exist from the start (default: those of a new kubeadm/kind cluster). */
  namespaces?: string[];
  /** CRDs installed from the start (default: Istio's PeerAuthentication and AuthorizationPolicy). */
  crds?: KubeObject[];
  /** Period of BOOKMARK events on watches that allow them (ms, default 60000). */
  bookmarkIntervalMs?: number;
  /**
   * Sees every request first (after it is recorded); returns true when it answered it. For what the
   * twin does not serve itself (e.g. a dataplane twin's exec or port-forward upgrades go through
   * `server.on('upgrade')` instead).
   */
  handle?: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;
}

export interface TwinApiServer {
  url: string;
  store: TwinStore;
  requests: RecordedRequest[];
  server: http.Server;
  /** Writes a kubeconfig (mode 0600) whose context (default "twin") points at this server. */
  kubeconfig(path: string, context?: string): string;
  close(): Promise<void>;
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ResourcePath {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

type Route =
  | { kind: 'api' }
  | { kind: 'apis' }
  | { kind: 'group'; group: string }
  | { kind: 'resources'; group: string; version: string }
  | ({ kind: 'resource' } & ResourcePath);

function route(pathname: string): Route | undefined {
  const segs = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (segs[0] === 'api') {
    if (segs.length === 1) return { kind: 'api' };
    group = '';
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === 'apis') {
    if (segs.length === 1) return { kind: 'apis' };
    group = segs[1] ?? '';
    if (segs.length === 2) return { kind: 'group', group };
    version = segs[2];
    rest = segs.slice(3);
  } else return undefined;
  if (!version) return undefined;
  if (!rest.length) return { kind: 'resources', group, version };
  const namespaced =
    rest[0] === 'namespaces' && rest.length >= 3 && !['status', 'finalize'].includes(rest[2] ?? '');
  const [namespace, resource, name, subresource, extra] = namespaced
    ? rest.slice(1)
    : [undefined, ...rest.slice(0, 3), rest[3]];
  if (extra !== undefined || !resource) return undefined;
  return {
    kind: 'resource',
    group,
    version,
    resource,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

/** An object as served at `version`: apiVersion/kind set; list items of built-in types carry neither. */
function present(rt: ResourceType, version: string, obj: KubeObject, inList = false): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  if (inList && !rt.custom) return rest;
  return { apiVersion: apiVersionOf(rt, version), kind: rt.kind, ...rest };
}

function scaleOf(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (obj.status ?? {}) as { replicas?: number };
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: labelSelectorString(spec.selector) },
  };
}

interface WriteParams {
  dryRun: boolean;
  validation: 'Ignore' | 'Warn' | 'Strict';
  fieldManager: string;
}

/** The query parameters of a write, validated as ValidateCreateOptions and friends do. */
function writeParams(q: URLSearchParams, optionsKind: string): WriteParams {
  const errs: FieldError[] = [];
  const dryRun = q.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All'))
    errs.push({ type: 'FieldValueNotSupported', field: 'dryRun', value: dryRun, supported: ['All'] });
  const validation = q.get('fieldValidation') ?? '';
  if (!['', 'Ignore', 'Warn', 'Strict'].includes(validation))
    errs.push({
      type: 'FieldValueNotSupported',
      field: 'fieldValidation',
      value: validation,
      supported: ['', 'Ignore', 'Strict', 'Warn'],
    });
  if (errs.length) throw invalid({ group: 'meta.k8s.io', kind: optionsKind }, '', errs);
  return {
    dryRun: dryRun.length > 0,
    validation: (validation || 'Warn') as WriteParams['validation'],
    fieldManager: q.get('fieldManager') ?? '',
  };
}

function parseBody(raw: string, contentType: string, kind: string): unknown {
  const unrecognized = (why: string) =>
    badRequest(
      `the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: ${why}`,
    );
  if (!raw.trim()) throw unrecognized('unexpected end of JSON input');
  try {
    return /yaml/.test(contentType) ? (parseYaml(raw) as unknown) : (JSON.parse(raw) as unknown);
  } catch (e) {
    throw unrecognized(e instanceof Error ? e.message : String(e));
  }
}

class RequestContext {
  readonly warnings: string[] = [];
  readonly store: TwinStore;
  readonly rt: ResourceType;
  readonly path: ResourcePath;
  readonly query: URLSearchParams;
  readonly contentType: string;
  constructor(
    store: TwinStore,
    rt: ResourceType,
    path: ResourcePath,
    query: URLSearchParams,
    contentType: string,
  ) {
    this.store = store;
    this.rt = rt;
    this.path = path;
    this.query = query;
    this.contentType = contentType;
  }

  get key(): ObjectKey {
    return { namespace: this.path.namespace ?? '', name: this.path.name ?? '' };
  }

  get groupVersion(): string {
    return apiVersionOf(this.rt, this.path.version);
  }

  present(obj: KubeObject, inList = false): KubeObject {
    return present(this.rt, this.path.version, obj, inList);
  }

  /** The decoder of a create or update: version/kind checks, strict errors per fieldValidation, MicroTimes. */
  decode(raw: string, p: WriteParams): KubeObject {
    const { rt } = this;
    const body = parseBody(raw, this.contentType, rt.kind);
    if (!isMap(body)) throw badRequest(`the object provided is unrecognized (must be of type ${rt.kind})`);
    const cannot = (why: string) =>
      badRequest(
        `${rt.kind} in version ${goQuote(this.path.version)} cannot be handled as a ${rt.kind}: ${why}`,
      );
    if (typeof body.apiVersion === 'string' && body.apiVersion !== this.groupVersion)
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${this.groupVersion})`,
      );
    if (typeof body.kind === 'string' && body.kind && body.kind !== rt.kind)
      throw cannot(`the kind in the data (${body.kind}) is not ${rt.kind}`);
    const json = !/yaml/.test(this.contentType);
    const { errors, object } = strictDecode(rt, body, json ? { raw } : {});
    if (errors.length && p.validation === 'Strict')
      throw cannot(`strict decoding error: ${errors.join(', ')}`);
    if (p.validation === 'Warn') this.warnings.push(...errors);
    const micro = microTimeProblem(rt, object);
    if (micro) throw cannot(micro);
    return object;
  }

  /**
   * A patched object's strict errors (handlers/patch.go), after the patch body's own (repeated
   * keys; a JSON patch's unknown op fields): a PATCH reports them as an invalid "patch" (422)
   * whose value is the patched object's JSON, or for a strategic merge patch the patch map as Go
   * prints it (%+v). JSON and merge patches decode the re-marshalled object (keys sorted); a
   * strategic merge patch goes through the unstructured converter (errors sorted).
   */
  checkPatched(
    patched: Json,
    p: WriteParams,
    type: 'json' | 'merge' | 'strategic',
    patch: string,
  ): KubeObject {
    const strict = p.validation !== 'Ignore';
    const bodyErrors = strict ? patchBodyErrors(type, patch) : [];
    const order = type === 'strategic' ? 'sorted-errors' : 'sorted-keys';
    const { errors, object } = strictDecode(this.rt, patched, { order });
    const all = strict ? [...bodyErrors, ...errors] : [];
    if (all.length && p.validation === 'Strict') {
      let value = JSON.stringify(sortKeys(patched));
      if (type === 'strategic')
        try {
          value = goSprint(JSON.parse(patch));
        } catch {
          value = goSprint(null);
        }
      throw invalid({ group: '', kind: '' }, '', [
        {
          type: 'FieldValueInvalid',
          field: 'patch',
          value,
          detail: `strict decoding error: ${all.join(', ')}`,
        },
      ]);
    }
    if (p.validation === 'Warn') this.warnings.push(...all);
    return object;
  }

  /**
   * The type's validation of a create or update of the main resource (validateBuiltin): 422
   * Invalid with every field error, as the registry's BeforeCreate/BeforeUpdate answers.
   */
  validate(obj: KubeObject, op: 'create' | 'update'): void {
    if (this.path.subresource) return;
    const errs = validateBuiltin(this.rt, obj, op);
    if (errs.length)
      throw invalid({ group: this.rt.group, kind: this.rt.kind }, obj.metadata.name ?? '', errs);
  }

  /** Server-side apply checks the applied configuration against the type's schema, whatever fieldValidation says. */
  checkApplied(applied: Json): KubeObject {
    const unknown = appliedUnknownFields(this.rt, applied);
    const pruned = strictDecode(this.rt, applied, { order: 'sorted-keys' }).object;
    if (unknown.length) {
      const errs = unknown.map((f) => `${f}: field not declared in schema`);
      const gvk = `${this.rt.group}/${this.path.version}, Kind=${this.rt.kind}`;
      throw internal(
        `failed to create typed patch object (${this.key.namespace ?? ''}/${this.key.name}; ${gvk}): ${
          errs.length === 1 ? errs[0] : `errors:\n  ${errs.join('\n  ')}`
        }`,
      );
    }
    return pruned;
  }

  /**
   * The URL names the object: a body naming another is refused (handlers/rest.go checkName). A PUT
   * must name it; an applied configuration may leave the name out.
   */
  pinName(obj: KubeObject, mustName = false): void {
    const { name, namespace } = this.path;
    if ((mustName || obj.metadata.name) && obj.metadata.name !== name)
      throw badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name ?? ''})`,
      );
    if (this.rt.namespaced && obj.metadata.namespace && obj.metadata.namespace !== namespace)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    obj.metadata.name = name;
    if (this.rt.namespaced) obj.metadata.namespace = namespace;
  }
}

interface Reply {
  code: number;
  body: unknown;
  contentType?: string;
}

export async function startTwinApiServer(opts: TwinApiServerOptions = {}): Promise<TwinApiServer> {
  const store = opts.store ?? new TwinStore(opts);
  const gitVersion = opts.gitVersion ?? 'v1.34.0';
  const bookmarkMs = opts.bookmarkIntervalMs ?? 60_000;
  const requests: RecordedRequest[] = [];
  const watches = new Set<http.ServerResponse>();
  const recorded = new WeakMap<http.ServerResponse, RecordedRequest>();
  seed(store, opts);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://twin');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      userAgent: req.headers['user-agent'] ?? '',
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
    };
    requests.push(rec);
    recorded.set(res, rec);
    res.on('finish', () => (rec.status = res.statusCode));
    if (opts.handle?.(req, res, url)) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let warnings: string[] = [];
      try {
        const r = route(url.pathname);
        if (r?.kind === 'resource' && req.method === 'GET' && isWatch(url.searchParams) && !r.name)
          return serveWatch(r, url.searchParams, res);
        const reply = dispatch(req, url, raw, r, (w) => (warnings = w));
        send(res, reply, warnings);
      } catch (e) {
        const status = e instanceof ApiError ? e.status : internal(String(e)).status;
        send(res, { code: status.code, body: status }, warnings);
      }
    });
  });

  function send(res: http.ServerResponse, reply: Reply, warnings: string[]) {
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': reply.contentType ?? 'application/json',
      'Cache-Control': 'no-cache, private',
    };
    if (warnings.length) {
      headers.Warning = warnings.map((w) => `299 - ${goQuote(w)}`);
      const rec = recorded.get(res);
      if (rec) rec.warnings = [...warnings];
    }
    res.writeHead(reply.code, headers);
    res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  }

  function dispatch(
    req: http.IncomingMessage,
    url: URL,
    raw: string,
    r: Route | undefined,
    setWarnings: (w: string[]) => void,
  ): Reply {
    const method = req.method ?? 'GET';
    const p = url.pathname.replace(/\/+$/, '');
    if (p === '/version') return { code: 200, body: versionInfo(gitVersion) };
    if (['/healthz', '/livez', '/readyz'].includes(p))
      return { code: 200, body: 'ok', contentType: 'text/plain' };
    if (!r) throw noSuchResource();
    const host = req.headers.host ?? '127.0.0.1';
    if (r.kind !== 'resource') {
      if (method !== 'GET') throw methodNotAllowed();
      return { code: 200, body: discovery(store, r, host) };
    }
    const rt = store.registry.find(r.group, r.version, r.resource);
    if (!rt) throw noSuchResource();
    if (r.namespace !== undefined && !rt.namespaced) throw noSuchResource();
    const ctx = new RequestContext(store, rt, r, url.searchParams, req.headers['content-type'] ?? '');
    try {
      return serveResource(ctx, method, raw);
    } finally {
      setWarnings(ctx.warnings);
    }
  }

  function serveResource(ctx: RequestContext, method: string, raw: string): Reply {
    const { rt, path, query } = ctx;
    const allow = (verb: Verb) => {
      if (!rt.verbs.includes(verb)) throw methodNotSupported(rt, verb);
    };
    const sub = path.subresource;
    if (
      sub !== undefined &&
      !(rt.subresources as string[]).includes(sub) &&
      !(rt.resource === 'pods' && sub === 'log')
    )
      throw noSuchResource();
    if (!path.name) {
      if (rt.namespaced && path.namespace === undefined && method !== 'GET') throw methodNotAllowed();
      switch (method) {
        case 'GET':
          allow('list');
          return { code: 200, body: listBody(ctx) };
        case 'POST':
          allow('create');
          return create(ctx, raw);
        case 'DELETE': {
          allow('deletecollection');
          const w = writeParams(query, 'DeleteOptions');
          const deleted = store.deleteCollection(rt, {
            ...selectors(ctx),
            ...deleteOptions(ctx, raw),
            dryRun: w.dryRun,
          });
          return {
            code: 200,
            body: {
              kind: rt.listKind,
              apiVersion: ctx.groupVersion,
              metadata: { resourceVersion: store.resourceVersion },
              items: deleted.map((o) => ctx.present(o, true)),
            },
          };
        }
        default:
          throw methodNotAllowed();
      }
    }
    if (sub === 'log') {
      if (method !== 'GET') throw methodNotAllowed();
      return podLog(ctx);
    }
    switch (method) {
      case 'GET': {
        allow('get');
        const obj = store.mustGet(rt, ctx.key);
        return { code: 200, body: sub === 'scale' ? scaleOf(obj) : ctx.present(obj) };
      }
      case 'PUT':
        allow('update');
        return update(ctx, raw);
      case 'PATCH':
        allow('patch');
        return patch(ctx, raw);
      case 'DELETE': {
        allow('delete');
        if (sub) throw methodNotAllowed();
        const w = writeParams(query, 'DeleteOptions');
        const result = store.delete(rt, ctx.key, { ...deleteOptions(ctx, raw), dryRun: w.dryRun });
        const o = result.object;
        if (rt.returnsDeletedObject || !result.deleted) return { code: 200, body: ctx.present(o) };
        return {
          code: 200,
          body: successStatus({
            name: o.metadata.name ?? '',
            group: rt.group,
            kind: rt.resource,
            uid: o.metadata.uid ?? '',
          }),
        };
      }
      default:
        throw methodNotAllowed();
    }
  }

  function create(ctx: RequestContext, raw: string): Reply {
    const w = writeParams(ctx.query, 'CreateOptions');
    const obj = ctx.decode(raw, w);
    if (ctx.rt.subresources.includes('status') && !ctx.rt.createKeepsStatus) delete obj.status;
    ctx.validate(obj, 'create');
    const created = store.create(ctx.rt, obj, { namespace: ctx.path.namespace ?? '', dryRun: w.dryRun });
    return { code: 201, body: ctx.present(created) };
  }

  function update(ctx: RequestContext, raw: string): Reply {
    const w = writeParams(ctx.query, 'UpdateOptions');
    if (ctx.path.subresource === 'scale') {
      const scale = parseBody(raw, ctx.contentType, 'Scale');
      return { code: 200, body: writeScale(ctx, isMap(scale) ? scale : {}, w) };
    }
    const obj = ctx.decode(raw, w);
    ctx.pinName(obj, true);
    return { code: 200, body: ctx.present(validatedUpdate(ctx, obj, w)) };
  }

  /**
   * An update of the main resource or its status. The registry answers NotFound and Conflict (and
   * a Lease's missing resourceVersion) before it validates the object it would store: a dry run
   * first, then validation of its result, then the write.
   */
  function validatedUpdate(ctx: RequestContext, obj: KubeObject, w: WriteParams): KubeObject {
    const subresource = ctx.path.subresource === 'status' ? 'status' : 'main';
    if (!ctx.path.subresource)
      ctx.validate(store.update(ctx.rt, obj, { subresource, dryRun: true }), 'update');
    return store.update(ctx.rt, obj, { subresource, dryRun: w.dryRun });
  }

  function writeScale(ctx: RequestContext, scale: Json, w: WriteParams): KubeObject {
    const current = store.mustGet(ctx.rt, ctx.key);
    const meta = (scale.metadata ?? {}) as { resourceVersion?: string };
    const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
    const next = structuredClone(current);
    next.spec = { ...(next.spec as object), replicas: typeof replicas === 'number' ? replicas : 0 };
    if (meta.resourceVersion) next.metadata.resourceVersion = meta.resourceVersion;
    return scaleOf(store.update(ctx.rt, next, { subresource: 'main', dryRun: w.dryRun }));
  }

  function patch(ctx: RequestContext, raw: string): Reply {
    const { rt, path } = ctx;
    const type = ctx.contentType.split(';')[0]?.trim() ?? '';
    const accepted = rt.custom
      ? [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply]
      : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply];
    if (!(accepted as string[]).includes(type)) throw unsupportedMediaType(accepted);
    const w = writeParams(ctx.query, 'PatchOptions');
    const apply = type === PATCH_TYPES.apply;
    if (apply && !w.fieldManager)
      throw invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', [
        { type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' },
      ]);
    const body = parseBody(raw, apply ? 'yaml' : 'json', rt.kind);
    const current = store.get(rt, ctx.key);
    if (!current) {
      if (!apply || path.subresource) throw notFound(rt, path.name ?? '');
      if (!isMap(body)) throw badRequest('the applied configuration is not an object');
      const obj = ctx.checkApplied(body);
      ctx.pinName(obj);
      if (rt.subresources.includes('status') && !rt.createKeepsStatus) delete obj.status;
      ctx.validate(obj, 'create');
      const created = store.create(rt, obj, { namespace: path.namespace ?? '', dryRun: w.dryRun });
      return { code: 201, body: ctx.present(created) };
    }
    const base: Json = path.subresource === 'scale' ? scaleOf(current) : ctx.present(current);
    let patched: unknown;
    try {
      if (type === PATCH_TYPES.json) patched = jsonPatch(base, body);
      else if (type === PATCH_TYPES.merge) patched = mergePatch(base, body);
      else if (type === PATCH_TYPES.strategic) patched = strategicMergePatch(base, body);
      else {
        if (!isMap(body)) throw badRequest('the applied configuration is not an object');
        const applied = ctx.checkApplied(body);
        patched = rt.custom ? mergePatch(base, applied) : strategicMergePatch(base, applied);
      }
    } catch (e) {
      if (e instanceof JsonPatchApplyError) throw unprocessable();
      throw e;
    }
    if (!isMap(patched)) throw badRequest('the patched object is not an object');
    if (path.subresource === 'scale') return { code: 200, body: writeScale(ctx, patched, w) };
    const kind = type === PATCH_TYPES.json ? 'json' : type === PATCH_TYPES.merge ? 'merge' : 'strategic';
    const obj = apply ? (patched as KubeObject) : ctx.checkPatched(patched, w, kind, raw);
    ctx.pinName(obj);
    return { code: 200, body: ctx.present(validatedUpdate(ctx, obj, w)) };
  }

  function selectors(ctx: RequestContext) {
    const q = ctx.query;
    return {
      ...(ctx.path.namespace !== undefined ? { namespace: ctx.path.namespace } : {}),
      ...(q.get('labelSelector') ? { labelSelector: q.get('labelSelector') ?? '' } : {}),
      ...(q.get('fieldSelector') ? { fieldSelector: q.get('fieldSelector') ?? '' } : {}),
    };
  }

  function deleteOptions(ctx: RequestContext, raw: string) {
    const body = raw.trim() ? (parseBody(raw, ctx.contentType, 'DeleteOptions') as Json) : {};
    const orphan = ctx.query.get('orphanDependents') ?? body.orphanDependents;
    const policy =
      ctx.query.get('propagationPolicy') ??
      (body.propagationPolicy as string | undefined) ??
      (orphan === true || orphan === 'true' ? 'Orphan' : undefined);
    if (policy !== undefined && !['Foreground', 'Background', 'Orphan'].includes(policy))
      throw invalid({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', [
        {
          type: 'FieldValueNotSupported',
          field: 'propagationPolicy',
          value: policy,
          supported: ['Foreground', 'Background', 'Orphan'],
        },
      ]);
    const pre = (body.preconditions ?? {}) as { uid?: string; resourceVersion?: string };
    return {
      ...(policy ? { propagationPolicy: policy as PropagationPolicy } : {}),
      ...(pre.uid || pre.resourceVersion ? { preconditions: pre } : {}),
    };
  }

  function listBody(ctx: RequestContext): Json {
    const { rt, query } = ctx;
    const all = store.list(rt, selectors(ctx));
    const limit = Number(query.get('limit') ?? 0);
    const offset = Number(Buffer.from(query.get('continue') ?? '', 'base64url').toString() || 0);
    const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const more = limit > 0 && offset + limit < all.length;
    return {
      kind: rt.listKind,
      apiVersion: ctx.groupVersion,
      metadata: {
        resourceVersion: store.resourceVersion,
        ...(more
          ? {
              continue: Buffer.from(String(offset + limit)).toString('base64url'),
              remainingItemCount: all.length - offset - limit,
            }
          : {}),
      },
      items: items.map((o) => ctx.present(o, true)),
    };
  }

  function podLog(ctx: RequestContext): Reply {
    const name = ctx.path.name ?? '';
    const pod = store.mustGet(ctx.rt, ctx.key);
    const spec = (pod.spec ?? {}) as { containers?: { name: string }[]; initContainers?: { name: string }[] };
    const names = (spec.containers ?? []).map((c) => c.name);
    const all = [...names, ...(spec.initContainers ?? []).map((c) => c.name)];
    const container = ctx.query.get('container') ?? (names.length === 1 ? names[0] : undefined);
    if (!container)
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
      );
    if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    const num = (k: string) => {
      const v = ctx.query.get(k);
      return v === null ? undefined : Number(v);
    };
    const sinceTime = ctx.query.get('sinceTime');
    const text = store.podLog(ctx.key, container, {
      sinceSeconds: num('sinceSeconds'),
      tailLines: num('tailLines'),
      limitBytes: num('limitBytes'),
      timestamps: ctx.query.get('timestamps') === 'true',
      ...(sinceTime ? { sinceTime: new Date(sinceTime) } : {}),
    });
    if (text === undefined && (pod.status as { phase?: string } | undefined)?.phase === 'Pending')
      throw badRequest(
        `container ${goQuote(container)} in pod ${goQuote(name)} is waiting to start: ContainerCreating`,
      );
    return { code: 200, body: text ?? '', contentType: 'text/plain' };
  }

  /**
   * ?watch=1: newline-delimited WatchEvents from `resourceVersion` (unset or "0": ADDED for every
   * current object first), for as long as the client stays (or `timeoutSeconds`). Objects that stop
   * or start matching the selectors are DELETED or ADDED, as the watch cache does; a resourceVersion
   * older than the kept history is an ERROR event with a 410 Expired Status.
   */
  function serveWatch(r: ResourcePath, q: URLSearchParams, res: http.ServerResponse): void {
    const rt = store.registry.find(r.group, r.version, r.resource);
    if (!rt || (r.namespace !== undefined && !rt.namespaced)) throw noSuchResource();
    if (!rt.verbs.includes('watch')) throw methodNotSupported(rt, 'watch');
    const byLabel = parseLabelSelector(q.get('labelSelector') ?? undefined);
    const byField = parseFieldSelector(rt, q.get('fieldSelector') ?? undefined);
    const inScope = (o: KubeObject | undefined) =>
      !!o && (r.namespace === undefined || o.metadata.namespace === r.namespace) && byLabel(o) && byField(o);
    const write = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const out = (type: string, o: KubeObject) => write(type, present(rt, r.version, o));

    const rv = q.get('resourceVersion');
    let backlog: StoreEvent[] = [];
    let initial: KubeObject[] = [];
    let expiredStatus: unknown;
    try {
      if (!rv || rv === '0')
        initial = store.list(rt, r.namespace !== undefined ? { namespace: r.namespace } : {});
      else backlog = store.eventsSince(Number(rv));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      expiredStatus = e.status;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    if (expiredStatus) {
      write('ERROR', expiredStatus);
      res.end();
      return;
    }
    const onEvent = (e: StoreEvent) => {
      if (e.resource.group !== rt.group || e.resource.resource !== rt.resource) return;
      const now = e.type !== 'DELETED' && inScope(e.object);
      const before = e.type === 'ADDED' ? false : inScope(e.oldObject ?? e.object);
      if (e.type === 'DELETED') {
        if (before) out('DELETED', e.object);
      } else if (now) out(before ? 'MODIFIED' : 'ADDED', e.object);
      else if (before) out('DELETED', e.object);
    };
    for (const o of initial) if (inScope(o)) out('ADDED', o);
    for (const e of backlog) onEvent(e);
    const stop = store.watch(onEvent);
    watches.add(res);
    const timers: NodeJS.Timeout[] = [];
    if (q.get('allowWatchBookmarks') === 'true')
      timers.push(
        setInterval(
          () =>
            write('BOOKMARK', {
              kind: rt.kind,
              apiVersion: apiVersionOf(rt, r.version),
              metadata: { resourceVersion: store.resourceVersion },
            }),
          bookmarkMs,
        ),
      );
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(() => res.end(), timeout * 1000));
    res.on('close', () => {
      stop();
      for (const t of timers) clearTimeout(t);
      watches.delete(res);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    store,
    requests,
    server,
    kubeconfig(path, context = 'twin') {
      writeFileSync(path, kubeconfigFor(url, context), { mode: 0o600 });
      chmodSync(path, 0o600);
      return path;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of watches) w.end();
        if (!opts.store) store.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function isWatch(q: URLSearchParams): boolean {
  const w = q.get('watch');
  return w === 'true' || w === '1';
}

/** A new cluster's objects: its namespaces, the `kubernetes` Service and the starting CRDs (kept if present). */
function seed(store: TwinStore, opts: TwinApiServerOptions): void {
  for (const name of opts.namespaces ?? DEFAULT_NAMESPACES)
    if (!store.get('namespaces', { name })) store.create('namespaces', { metadata: { name } });
  if (
    store.get('namespaces', { name: 'default' }) &&
    !store.get('services', { namespace: 'default', name: 'kubernetes' })
  )
    store.create('services', {
      metadata: {
        name: 'kubernetes',
        namespace: 'default',
        labels: { component: 'apiserver', provider: 'kubernetes' },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.0.1',
        clusterIPs: ['10.96.0.1'],
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
        sessionAffinity: 'None',
      },
    });
  for (const crd of opts.crds ?? istioSecurityCrds())
    if (!store.get('customresourcedefinitions', { name: crd.metadata.name ?? '' }))
      store.create('customresourcedefinitions', crd);
}

function versionInfo(gitVersion: string) {
  const [, major = '1', minor = '34'] = /^v(\d+)\.(\d+)/.exec(gitVersion) ?? [];
  return {
    major,
    minor,
    emulationMajor: major,
    emulationMinor: minor,
    minCompatibilityMajor: major,
    minCompatibilityMinor: String(Math.max(0, Number(minor) - 1)),
    gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-08-27T00:00:00Z',
    goVersion: 'go1.24.6',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function discovery(store: TwinStore, r: Exclude<Route, { kind: 'resource' }>, host: string): Json {
  const groups = store.registry.groups();
  const groupJson = (g: { name: string; versions: string[]; preferred: string }) => ({
    name: g.name,
    versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${g.name}/${g.preferred}`, version: g.preferred },
  });
  switch (r.kind) {
    case 'api':
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }],
      };
    case 'apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupJson) };
    case 'group': {
      const g = groups.find((x) => x.name === r.group);
      if (!g) throw noSuchResource();
      return { kind: 'APIGroup', apiVersion: 'v1', ...groupJson(g) };
    }
    case 'resources': {
      const types = store.registry.all().filter((t) => t.group === r.group && t.versions.includes(r.version));
      if (!types.length) throw noSuchResource();
      const subVerbs = ['get', 'patch', 'update'];
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: r.group ? `${r.group}/${r.version}` : r.version,
        resources: types.flatMap((t) => [
          {
            name: t.resource,
            singularName: t.singular,
            namespaced: t.namespaced,
            kind: t.kind,
            verbs: t.verbs,
            ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
          },
          ...t.subresources.map((s) =>
            s === 'scale'
              ? {
                  name: `${t.resource}/scale`,
                  singularName: '',
                  namespaced: t.namespaced,
                  group: 'autoscaling',
                  version: 'v1',
                  kind: 'Scale',
                  verbs: subVerbs,
                }
              : {
                  name: `${t.resource}/${s}`,
                  singularName: '',
                  namespaced: t.namespaced,
                  kind: t.kind,
                  verbs: subVerbs,
                },
          ),
          ...(t.group === '' && t.resource === 'pods'
            ? [{ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] }]
            : []),
        ]),
      };
    }
  }
}

/** A kubeconfig for `url` (one context, cluster and user named `context`; a token the twin ignores). */
export { kubeconfigFor };
