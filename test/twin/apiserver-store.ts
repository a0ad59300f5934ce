import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  notFound,
  OBJECT_MODIFIED,
  type GroupResource,
} from './apiserver-errors.ts';
import {
  apiVersionOf,
  builtinTypes,
  ResourceRegistry,
  typeFromCrd,
  validateName,
  type KubeObject,
  type ResourceRef,
  type ResourceType,
} from './apiserver-resources.ts';
import { parseFieldSelector, parseLabelSelector } from './apiserver-selectors.ts';

/**
 * The twin's object store: every object of every served type, keyed by group/resource, namespace
 * and name, with the API server's write semantics (metadata, resourceVersion, optimistic
 * concurrency, namespace lifecycle, finalizers, owner-reference garbage collection) and change
 * listeners. The HTTP layer (apiserver.ts) and in-process controllers share it; both see the same
 * objects and the same events, in commit order.
 *
 * Objects are wire JSON (KubeObject): times are RFC 3339 strings, fields have their JSON names
 * (NetworkPolicy `from`, not client-node's `_from`). Everything returned is a copy.
 */

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  resource: ResourceType;
  object: KubeObject;
  /** The object before a MODIFIED or DELETED change. */
  oldObject?: KubeObject;
  resourceVersion: number;
}

export type StoreListener = (event: StoreEvent) => void;

export interface ObjectKey {
  /** Omitted (or '') for cluster-scoped types. */
  namespace?: string;
  name: string;
}

export interface ListOptions {
  /** Only this namespace (namespaced types); all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WriteOptions {
  /** Validate and compute the result, change nothing (?dryRun=All). */
  dryRun?: boolean;
}

export interface CreateOptions extends WriteOptions {
  /** The namespace of the request (the URL's); the object's own metadata.namespace otherwise. */
  namespace?: string;
}

export interface UpdateOptions extends WriteOptions {
  /**
   * Which part an update writes. Omitted: the whole object (a controller's in-process write).
   * 'main': the main resource as PUT writes it (status kept where the type has a status
   * subresource). 'status': only .status (PUT …/status).
   */
  subresource?: 'main' | 'status';
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions extends WriteOptions {
  /** Default Background, as for every type the twin serves. */
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult<T> {
  /** The object as deleted, or as marked for deletion (deletionTimestamp) when not yet gone. */
  object: T;
  /** Gone from the store now (false: finalizers, a Terminating namespace, foreground deletion). */
  deleted: boolean;
}

/** One write to a container's log (see TwinStore.appendPodLog). */
export interface LogChunk {
  at: Date;
  text: string;
}

/** pods/log query options the kubelet honours (core/v1 PodLogOptions). */
export interface PodLogOptions {
  sinceSeconds?: number;
  sinceTime?: Date;
  tailLines?: number;
  timestamps?: boolean;
  limitBytes?: number;
}

export interface TwinStoreOptions {
  /** How long a deleted namespace stays Terminating before its contents go (ms, default 100). */
  namespaceDeletionDelayMs?: number;
  /** Delay before the garbage collector removes dependents of a deleted owner (ms, default 20). */
  gcDelayMs?: number;
  /** Change events kept for watches that resume from a resourceVersion (default 10000). */
  historyLimit?: number;
  /**
   * What the controller manager adds to each new namespace: ServiceAccount "default" and ConfigMap
   * "kube-root-ca.crt" (default true).
   */
  namespaceDefaults?: boolean;
  /** Clock for creationTimestamp and deletionTimestamp. */
  clock?: () => Date;
}

/** The namespaces the API server refuses to delete (NamespaceLifecycle's immortal namespaces). */
export const IMMORTAL_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public'];

const FOREGROUND = 'foregroundDeletion';

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Go's RFC3339NanoFixed ("2006-01-02T15:04:05.000000000Z07:00") in UTC: the kubelet's log timestamps. */
function rfc3339NanoFixed(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function generateSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
  return s;
}

const gr = (rt: ResourceType): GroupResource => ({ group: rt.group, resource: rt.resource });
const typeKey = (rt: ResourceType) => `${rt.group}/${rt.resource}`;
const objKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class TwinStore {
  readonly registry = new ResourceRegistry(builtinTypes());
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly uids = new Map<string, { rt: ResourceType; namespace: string; name: string }>();
  private rv = 100;
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private readonly queue: StoreEvent[] = [];
  private draining = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private gcScheduled = false;
  private readonly logs = new Map<string, LogChunk[]>();
  private readonly opts: Required<TwinStoreOptions>;

  constructor(options: TwinStoreOptions = {}) {
    this.opts = {
      namespaceDeletionDelayMs: options.namespaceDeletionDelayMs ?? 100,
      gcDelayMs: options.gcDelayMs ?? 20,
      historyLimit: options.historyLimit ?? 10_000,
      namespaceDefaults: options.namespaceDefaults ?? true,
      clock: options.clock ?? (() => new Date()),
    };
  }

  /** The newest resourceVersion (a list's metadata.resourceVersion). */
  get resourceVersion(): string {
    return String(this.rv);
  }

  type(ref: ResourceRef | ResourceType): ResourceType {
    return this.registry.resolve(ref);
  }

  // ---- reads ----

  get<T extends object = KubeObject>(ref: ResourceRef | ResourceType, key: ObjectKey): T | undefined {
    const rt = this.type(ref);
    const o = this.raw(rt, key.namespace ?? '', key.name);
    return o ? (structuredClone(o) as T) : undefined;
  }

  /** Like get, but a missing object is the API's 404 (ApiError). */
  mustGet<T extends object = KubeObject>(ref: ResourceRef | ResourceType, key: ObjectKey): T {
    const rt = this.type(ref);
    const o = this.get<T>(rt, key);
    if (!o) throw notFound(gr(rt), key.name);
    return o;
  }

  /** Objects in etcd key order (namespace, then name). Selector syntax errors are 400 ApiErrors. */
  list<T extends object = KubeObject>(ref: ResourceRef | ResourceType, opts: ListOptions = {}): T[] {
    const rt = this.type(ref);
    const byLabel = parseLabelSelector(opts.labelSelector);
    const byField = parseFieldSelector(rt, opts.fieldSelector);
    return [...(this.objects.get(typeKey(rt))?.values() ?? [])]
      .filter((o) => !opts.namespace || !rt.namespaced || o.metadata.namespace === opts.namespace)
      .filter((o) => byLabel(o) && byField(o))
      .sort((a, b) => compareKeys(a, b))
      .map((o) => structuredClone(o) as T);
  }

  // ---- writes ----

  create<T extends object = KubeObject>(
    ref: ResourceRef | ResourceType,
    input: object,
    opts: CreateOptions = {},
  ): T {
    const rt = this.type(ref);
    const obj = structuredClone(input) as KubeObject;
    obj.metadata = { ...(obj.metadata ?? {}) };
    const meta = obj.metadata;
    if (rt.namespaced) {
      const ns = opts.namespace ?? meta.namespace;
      if (opts.namespace && meta.namespace && meta.namespace !== opts.namespace)
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      if (!ns) throw badRequest('an empty namespace may not be set during creation');
      meta.namespace = ns;
      this.admitNamespace(rt, ns, meta.name || meta.generateName || 'Unknown');
    } else delete meta.namespace;
    if (rt.group === '' && rt.resource === 'pods') this.admitServiceAccount(obj);
    if (!meta.name && meta.generateName) meta.name = meta.generateName.slice(0, 58) + generateSuffix();
    validateName(rt, meta);
    const name = meta.name ?? '';
    if (this.raw(rt, meta.namespace ?? '', name)) throw alreadyExists(gr(rt), name);

    rt.prepareForCreate?.(obj);
    this.validate(rt, obj);
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.opts.clock());
    for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'resourceVersion', 'selfLink'])
      delete meta[k];
    if (rt.generationFields) meta.generation = 1;
    else delete meta.generation;
    if (opts.dryRun) return structuredClone(obj) as T;

    this.put(rt, obj, 'ADDED');
    this.afterCreate(rt, obj);
    return structuredClone(obj) as T;
  }

  update<T extends object = KubeObject>(
    ref: ResourceRef | ResourceType,
    input: object,
    opts: UpdateOptions = {},
  ): T {
    const rt = this.type(ref);
    const next = structuredClone(input) as KubeObject;
    next.metadata = { ...(next.metadata ?? {}) };
    const namespace = rt.namespaced ? (next.metadata.namespace ?? '') : '';
    const name = next.metadata.name ?? '';
    const old = this.raw(rt, namespace, name);
    if (!old) throw notFound(gr(rt), name);
    const rv = next.metadata.resourceVersion;
    if (rv) {
      if (rv !== old.metadata.resourceVersion) throw conflict(gr(rt), name, OBJECT_MODIFIED);
    } else if (rt.requiresResourceVersion)
      // The generic registry names the resource where a Kind belongs (store.go Update).
      throw invalid({ group: rt.group, kind: rt.resource }, name, [
        {
          type: 'FieldValueInvalid',
          field: 'metadata.resourceVersion',
          value: 0,
          detail: 'must be specified for an update',
        },
      ]);

    let obj: KubeObject;
    if (opts.subresource === 'status') obj = { ...structuredClone(old), status: next.status };
    else {
      obj = next;
      if (opts.subresource === 'main' && rt.subresources.includes('status')) {
        if (old.status === undefined) delete obj.status;
        else obj.status = structuredClone(old.status);
      }
      const keep = ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const;
      for (const k of keep) {
        if (old.metadata[k] === undefined) delete obj.metadata[k];
        else obj.metadata[k] = old.metadata[k] as never;
      }
      if (rt.namespaced) obj.metadata.namespace = namespace;
      else delete obj.metadata.namespace;
      if (rt.group === '' && rt.resource === 'namespaces') {
        // Spec.finalizers change only through …/finalize; the name label is always set.
        obj.spec = structuredClone(old.spec ?? {});
        obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': name };
      }
      if (rt.group === '' && rt.resource === 'secrets') rt.prepareForCreate?.(obj);
    }
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    if (rt.generationFields) obj.metadata.generation = nextGeneration(rt, old, obj);
    this.validate(rt, obj);
    if (isDeepStrictEqual(obj, old)) return structuredClone(old) as T; // no-op: no new resourceVersion
    if (opts.dryRun) return structuredClone(obj) as T;

    if (obj.metadata.deletionTimestamp && !obj.metadata.finalizers?.length) {
      this.put(rt, obj, 'MODIFIED', old);
      this.remove(rt, obj);
    } else {
      this.put(rt, obj, 'MODIFIED', old);
      this.afterUpdate(rt, obj);
    }
    return structuredClone(obj) as T;
  }

  /** Reads, changes and writes back one object (a controller's read-modify-write). */
  mutate<T extends object = KubeObject>(
    ref: ResourceRef | ResourceType,
    key: ObjectKey,
    change: (draft: T) => void,
    opts: UpdateOptions = {},
  ): T {
    const draft = this.mustGet<T>(ref, key);
    change(draft);
    return this.update<T>(ref, draft, opts);
  }

  delete<T extends object = KubeObject>(
    ref: ResourceRef | ResourceType,
    key: ObjectKey,
    opts: DeleteOptions = {},
  ): DeleteResult<T> {
    const rt = this.type(ref);
    const namespace = rt.namespaced ? (key.namespace ?? '') : '';
    const old = this.raw(rt, namespace, key.name);
    if (!old) throw notFound(gr(rt), key.name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid)
      throw conflict(
        gr(rt),
        key.name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(
        gr(rt),
        key.name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`,
      );
    if (rt.group === '' && rt.resource === 'namespaces' && IMMORTAL_NAMESPACES.includes(key.name))
      throw forbidden(gr(rt), key.name, 'this namespace may not be deleted');
    if (opts.dryRun) return { object: structuredClone(old) as T, deleted: false };
    return this.deleteObject<T>(rt, old, opts.propagationPolicy ?? 'Background');
  }

  /** DELETE on a collection: every object the selectors match, one by one. */
  deleteCollection(ref: ResourceRef | ResourceType, opts: ListOptions & DeleteOptions = {}): KubeObject[] {
    const rt = this.type(ref);
    return this.list(rt, opts).map(
      (o) =>
        this.delete(rt, { namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '' }, opts).object,
    );
  }

  // ---- change notification ----

  /**
   * Calls `listener` for every change after it, in commit order (a change a listener makes is
   * delivered after the current one to everyone). Returns the unsubscribe function.
   */
  watch(listener: StoreListener, filter: { resource?: ResourceRef; namespace?: string } = {}): () => void {
    const rt = filter.resource ? this.type(filter.resource) : undefined;
    const wrapped: StoreListener = (e) => {
      if (rt && typeKey(e.resource) !== typeKey(rt)) return;
      if (filter.namespace && e.object.metadata.namespace !== filter.namespace) return;
      listener(e);
    };
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  /** The changes after resourceVersion `rv`, or 410 Expired when they are no longer kept. */
  eventsSince(rv: number): StoreEvent[] {
    const oldest = this.history[0]?.resourceVersion ?? this.rv + 1;
    if (rv < oldest - 1 && this.history.length >= this.opts.historyLimit)
      throw expired(`too old resource version: ${rv} (${oldest - 1})`);
    return this.history.filter((e) => e.resourceVersion > rv);
  }

  // ---- container logs (served at pods/log) ----

  /**
   * Appends `text` to a container's log, as the container runtime records it: each line with the
   * time it arrived (`at`, default the store's clock). That time is what `sinceSeconds`,
   * `sinceTime` and `timestamps` read.
   */
  appendPodLog(key: ObjectKey, container: string, text: string, at: Date = this.opts.clock()): void {
    const k = `${key.namespace ?? ''}/${key.name}/${container}`;
    let chunks = this.logs.get(k);
    if (!chunks) this.logs.set(k, (chunks = []));
    chunks.push({ at: new Date(at.getTime()), text });
  }

  /**
   * A container's log as the kubelet serves it (kubernetes pkg/kubelet/kuberuntime/logs/logs.go
   * ReadLogs): the last `tailLines` lines first, then those older than `sinceSeconds` before now
   * (the store's clock) or than `sinceTime` left out, each prefixed with its time in
   * RFC3339NanoFixed and a space when `timestamps` is set, cut at `limitBytes`. Undefined when
   * nothing was ever written.
   */
  podLog(key: ObjectKey, container: string, opts: PodLogOptions = {}): string | undefined {
    const chunks = this.logs.get(`${key.namespace ?? ''}/${key.name}/${container}`);
    if (!chunks) return undefined;
    // One CRI log entry per line; a chunk's lines share its time.
    let lines = chunks.flatMap((c) =>
      (c.text.match(/[^\n]*\n|[^\n]+$/g) ?? []).map((text) => ({ at: c.at, text })),
    );
    if (opts.tailLines !== undefined) lines = lines.slice(Math.max(0, lines.length - opts.tailLines));
    let since = -Infinity;
    if (opts.sinceSeconds !== undefined) since = this.opts.clock().getTime() - opts.sinceSeconds * 1000;
    if (opts.sinceTime !== undefined && opts.sinceTime.getTime() > since) since = opts.sinceTime.getTime();
    let out = lines
      .filter((l) => l.at.getTime() >= since)
      .map((l) => (opts.timestamps ? `${rfc3339NanoFixed(l.at)} ${l.text}` : l.text))
      .join('');
    if (opts.limitBytes !== undefined) out = Buffer.from(out).subarray(0, opts.limitBytes).toString('utf8');
    return out;
  }

  // ---- background work ----

  /** Resolves when no namespace finalization or garbage collection is pending. */
  async idle(): Promise<void> {
    while (this.timers.size) await new Promise((r) => setTimeout(r, 5));
  }

  /** Stops pending background work. */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.listeners.clear();
  }

  // ---- internals ----

  private raw(rt: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(typeKey(rt))?.get(objKey(rt.namespaced ? namespace : '', name));
  }

  private byUid(uid: string): KubeObject | undefined {
    const at = this.uids.get(uid);
    return at ? this.raw(at.rt, at.namespace, at.name) : undefined;
  }

  private put(rt: ResourceType, obj: KubeObject, type: 'ADDED' | 'MODIFIED', old?: KubeObject): void {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    let m = this.objects.get(typeKey(rt));
    if (!m) this.objects.set(typeKey(rt), (m = new Map()));
    m.set(objKey(namespace, name), obj);
    if (obj.metadata.uid) this.uids.set(obj.metadata.uid, { rt, namespace, name });
    this.emit({
      type,
      resource: rt,
      object: structuredClone(obj),
      ...(old ? { oldObject: structuredClone(old) } : {}),
      resourceVersion: this.rv,
    });
  }

  private remove(rt: ResourceType, obj: KubeObject): KubeObject {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    const old = this.raw(rt, namespace, name);
    if (!old) return obj;
    this.objects.get(typeKey(rt))?.delete(objKey(namespace, name));
    if (old.metadata.uid) this.uids.delete(old.metadata.uid);
    this.rv += 1;
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit({
      type: 'DELETED',
      resource: rt,
      object: structuredClone(gone),
      oldObject: structuredClone(old),
      resourceVersion: this.rv,
    });
    this.afterDelete(rt, gone);
    return gone;
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.opts.historyLimit) this.history.shift();
    this.queue.push(e);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift())
        for (const l of [...this.listeners]) {
          try {
            l(next);
          } catch (err) {
            // A listener's bug must not undo a committed write; surface it as an uncaught error.
            queueMicrotask(() => {
              throw err;
            });
          }
        }
    } finally {
      this.draining = false;
    }
  }

  private schedule(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** NamespaceLifecycle admission: 404 for a missing namespace, 403 for a Terminating one. */
  private admitNamespace(rt: ResourceType, namespace: string, name: string): void {
    const ns = this.raw(this.type('namespaces'), '', namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
    if ((ns.status as { phase?: string } | undefined)?.phase === 'Terminating')
      throw forbidden(
        gr(rt),
        name,
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      );
  }

  /** ServiceAccount admission: a pod's service account (default "default") must exist. */
  private admitServiceAccount(pod: KubeObject): void {
    if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return;
    const spec = (pod.spec ?? {}) as { serviceAccountName?: string };
    const sa = spec.serviceAccountName || 'default';
    const namespace = pod.metadata.namespace ?? '';
    if (!this.raw(this.type('serviceaccounts'), namespace, sa))
      throw forbidden(
        { group: '', resource: 'pods' },
        pod.metadata.name || pod.metadata.generateName || 'Unknown',
        `error looking up service account ${namespace}/${sa}: serviceaccount "${sa}" not found`,
      );
  }

  private validate(rt: ResourceType, obj: KubeObject): void {
    if (rt.group === 'apiextensions.k8s.io' && rt.resource === 'customresourcedefinitions') {
      const spec = (obj.spec ?? {}) as { group?: string; names?: { plural?: string } };
      const want = `${spec.names?.plural ?? ''}.${spec.group ?? ''}`;
      if (obj.metadata.name !== want)
        throw invalid({ group: rt.group, kind: rt.kind }, obj.metadata.name ?? '', [
          {
            type: 'FieldValueInvalid',
            field: 'metadata.name',
            value: obj.metadata.name,
            detail: 'must be spec.names.plural+"."+spec.group',
          },
        ]);
    }
  }

  private afterCreate(rt: ResourceType, obj: KubeObject): void {
    this.afterUpdate(rt, obj);
    if (rt.group === '' && rt.resource === 'namespaces' && this.opts.namespaceDefaults) {
      const namespace = obj.metadata.name ?? '';
      this.create('serviceaccounts', { metadata: { name: 'default', namespace } });
      this.create('configmaps', {
        metadata: { name: 'kube-root-ca.crt', namespace },
        data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\n(the twin has no CA)\n-----END CERTIFICATE-----\n' },
      });
    }
  }

  private afterUpdate(rt: ResourceType, obj: KubeObject): void {
    // The garbage collector also watches new references: an owner that does not exist is gone.
    if (obj.metadata.ownerReferences?.length) this.scheduleGc();
    if (rt.group === 'apiextensions.k8s.io' && rt.resource === 'customresourcedefinitions') {
      const t = typeFromCrd(obj);
      const existing = t && this.registry.lookup({ group: t.group, resource: t.resource });
      if (t && (!existing || existing.custom)) this.registry.add(t);
    }
  }

  private afterDelete(rt: ResourceType, gone: KubeObject): void {
    if (rt.group === 'apiextensions.k8s.io' && rt.resource === 'customresourcedefinitions') {
      const t = typeFromCrd(gone);
      const served = t && this.registry.lookup({ group: t.group, resource: t.resource });
      if (served?.custom) {
        for (const o of [...(this.objects.get(typeKey(served))?.values() ?? [])]) this.remove(served, o);
        this.registry.remove(served.group, served.resource);
      }
    }
    if (rt.group === '' && rt.resource === 'pods')
      for (const k of [...this.logs.keys()])
        if (k.startsWith(`${gone.metadata.namespace ?? ''}/${gone.metadata.name ?? ''}/`))
          this.logs.delete(k);
    this.scheduleGc();
  }

  private deleteObject<T>(rt: ResourceType, old: KubeObject, policy: PropagationPolicy): DeleteResult<T> {
    const now = rfc3339(this.opts.clock());
    const marked = (extra: (o: KubeObject) => void): DeleteResult<T> => {
      const o = structuredClone(old);
      o.metadata.deletionTimestamp ??= now;
      extra(o);
      if (!isDeepStrictEqual(o, old)) this.put(rt, o, 'MODIFIED', old);
      return { object: structuredClone(o) as T, deleted: false };
    };

    if (rt.group === '' && rt.resource === 'namespaces') {
      if (old.metadata.deletionTimestamp) return { object: structuredClone(old) as T, deleted: false };
      const name = old.metadata.name ?? '';
      const result = marked((o) => {
        o.status = { ...(o.status as object), phase: 'Terminating' };
      });
      this.schedule(() => this.finalizeNamespace(name), this.opts.namespaceDeletionDelayMs);
      return result;
    }
    if (policy === 'Orphan') {
      for (const d of this.dependentsOf(old)) {
        const o = structuredClone(d.obj);
        o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter(
          (r) => r.uid !== old.metadata.uid,
        );
        if (!o.metadata.ownerReferences.length) delete o.metadata.ownerReferences;
        this.put(d.rt, o, 'MODIFIED', d.obj);
      }
    }
    if (policy === 'Foreground' && this.dependentsOf(old).length) {
      const result = marked((o) => {
        o.metadata.deletionGracePeriodSeconds ??= 0;
        if (!o.metadata.finalizers?.includes(FOREGROUND))
          o.metadata.finalizers = [...(o.metadata.finalizers ?? []), FOREGROUND];
      });
      this.scheduleGc();
      return result;
    }
    if (old.metadata.finalizers?.length)
      return marked((o) => {
        o.metadata.deletionGracePeriodSeconds ??= 0;
      });
    return { object: this.remove(rt, old) as T, deleted: true };
  }

  private dependentsOf(owner: KubeObject): { rt: ResourceType; obj: KubeObject }[] {
    const uid = owner.metadata.uid;
    const out: { rt: ResourceType; obj: KubeObject }[] = [];
    if (!uid) return out;
    for (const rt of this.registry.all())
      for (const obj of this.objects.get(typeKey(rt))?.values() ?? [])
        if (obj.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push({ rt, obj });
    return out;
  }

  private scheduleGc(): void {
    if (this.gcScheduled) return;
    this.gcScheduled = true;
    this.schedule(() => {
      this.gcScheduled = false;
      this.collectGarbage();
    }, this.opts.gcDelayMs);
  }

  /**
   * The garbage collector: a dependent all of whose owners are gone is deleted (background); one
   * with some owners left loses the references to the gone ones; the dependents of an owner in
   * foreground deletion are deleted, and the owner once none are left.
   */
  private collectGarbage(): void {
    let again = false;
    for (const rt of this.registry.all()) {
      for (const obj of [...(this.objects.get(typeKey(rt))?.values() ?? [])]) {
        const refs = obj.metadata.ownerReferences ?? [];
        if (!refs.length) continue;
        const owners = refs.map((r) => this.byUid(r.uid));
        const live = refs.filter((_, i) => owners[i] !== undefined);
        const foreground = owners.some((o) => o?.metadata.finalizers?.includes(FOREGROUND));
        if (!live.length || foreground) {
          if (!obj.metadata.deletionTimestamp)
            this.deleteObject(rt, obj, foreground ? 'Foreground' : 'Background');
          again ||= foreground;
        } else if (live.length < refs.length) {
          const o = structuredClone(obj);
          o.metadata.ownerReferences = live;
          this.put(rt, o, 'MODIFIED', obj);
        }
      }
    }
    for (const rt of this.registry.all())
      for (const owner of [...(this.objects.get(typeKey(rt))?.values() ?? [])]) {
        if (!owner.metadata.finalizers?.includes(FOREGROUND)) continue;
        if (this.dependentsOf(owner).length) {
          again = true;
          continue;
        }
        const o = structuredClone(owner);
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND);
        this.put(rt, o, 'MODIFIED', owner);
        if (!o.metadata.finalizers.length) this.remove(rt, o);
      }
    if (again) this.scheduleGc();
  }

  /** The namespace controller: deletes the contents, then the namespace once nothing is left. */
  private finalizeNamespace(name: string): void {
    const nsType = this.type('namespaces');
    const ns = this.raw(nsType, '', name);
    if (!ns) return;
    let remaining = 0;
    for (const rt of this.registry.all()) {
      if (!rt.namespaced) continue;
      for (const obj of [...(this.objects.get(typeKey(rt))?.values() ?? [])]) {
        if (obj.metadata.namespace !== name) continue;
        if (!obj.metadata.deletionTimestamp) this.deleteObject(rt, obj, 'Background');
        if (this.raw(rt, name, obj.metadata.name ?? '')) remaining += 1;
      }
    }
    if (remaining) {
      this.schedule(() => this.finalizeNamespace(name), this.opts.namespaceDeletionDelayMs);
      return;
    }
    const o = structuredClone(ns);
    o.spec = { ...(o.spec as object), finalizers: [] };
    this.put(nsType, o, 'MODIFIED', ns);
    this.remove(nsType, o);
  }
}

function compareKeys(a: KubeObject, b: KubeObject): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function nextGeneration(rt: ResourceType, old: KubeObject, next: KubeObject): number {
  const gen = old.metadata.generation ?? 1;
  const fields = rt.generationFields;
  if (!fields) return gen;
  const skip = new Set([
    'apiVersion',
    'kind',
    'metadata',
    ...(rt.subresources.includes('status') ? ['status'] : []),
  ]);
  const keys =
    fields === '*'
      ? [...new Set([...Object.keys(old), ...Object.keys(next)])].filter((k) => !skip.has(k))
      : fields;
  return keys.some((k) => !isDeepStrictEqual(old[k], next[k])) ? gen + 1 : gen;
}
