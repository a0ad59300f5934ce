import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The tools' side of the state protocol and a small JSON client for the twin's API server.
 *
 * State protocol: TWIN_STATE_DIR names a directory. The test that starts the twin writes
 * `api.json` there ({"url": "http://127.0.0.1:<port>"}, writeTwinState); the tools read it and
 * keep their own state below it (kind/<cluster>.json). Helm keeps its releases in the twin itself,
 * as Secrets, as the real helm does.
 */

export type Json = Record<string, unknown>;

export interface KubeObj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TWIN_STATE_DIR;
  if (!dir) throw new Error('TWIN_STATE_DIR is not set: the twin tools need a running twin');
  return dir;
}

export function apiUrl(dir = stateDir()): string {
  const j = JSON.parse(readFileSync(path.join(dir, 'api.json'), 'utf8')) as { url?: string };
  if (!j.url) throw new Error(`${dir}/api.json has no url`);
  return j.url.replace(/\/+$/, '');
}

export class HttpError extends Error {
  readonly code: number;
  readonly body: Json;
  constructor(code: number, body: Json) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${code}`);
    this.code = code;
    this.body = body;
  }
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

export interface ResourceRef {
  groupVersion: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

export class Kube {
  private resources?: ResourceRef[];
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  async request(method: string, p: string, body?: unknown, contentType = 'application/json'): Promise<Json> {
    const res = await fetch(`${this.url}${p}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': contentType },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let j: Json = {};
    try {
      j = text ? (JSON.parse(text) as Json) : {};
    } catch {
      j = { message: text };
    }
    if (res.status >= 400) throw new HttpError(res.status, j);
    return j;
  }

  /** Every served resource (not subresources), from discovery; refreshed after CRDs change. */
  async discover(refresh = false): Promise<ResourceRef[]> {
    if (this.resources && !refresh) return this.resources;
    const out: ResourceRef[] = [];
    const add = (gv: string, list: ApiResource[]) => {
      for (const r of list)
        if (!r.name.includes('/'))
          out.push({
            groupVersion: gv,
            resource: r.name,
            kind: r.kind,
            namespaced: r.namespaced,
            verbs: r.verbs,
          });
    };
    const core = (await this.request('GET', '/api/v1')) as { resources?: ApiResource[] };
    add('v1', core.resources ?? []);
    const groups = (await this.request('GET', '/apis')) as {
      groups?: { versions: { groupVersion: string }[]; preferredVersion?: { groupVersion: string } }[];
    };
    for (const g of groups.groups ?? []) {
      const gv = g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion;
      if (!gv) continue;
      const rl = (await this.request('GET', `/apis/${gv}`)) as { resources?: ApiResource[] };
      add(gv, rl.resources ?? []);
    }
    this.resources = out;
    return out;
  }

  async resourceFor(apiVersion: string, kind: string): Promise<ResourceRef> {
    const find = (list: ResourceRef[]) => list.find((r) => r.kind === kind && r.groupVersion === apiVersion);
    const hit = find(await this.discover()) ?? find(await this.discover(true));
    if (!hit) throw new Error(`resource mapping not found for kind "${kind}" in version "${apiVersion}"`);
    return hit;
  }

  static path(r: ResourceRef, namespace?: string, name?: string): string {
    const base = r.groupVersion === 'v1' ? '/api/v1' : `/apis/${r.groupVersion}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  async get(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<KubeObj | undefined> {
    const r = await this.resourceFor(apiVersion, kind);
    try {
      return (await this.request('GET', Kube.path(r, namespace, name))) as unknown as KubeObj;
    } catch (e) {
      if (e instanceof HttpError && e.code === 404) return undefined;
      throw e;
    }
  }

  async list(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<KubeObj[]> {
    const r = await this.resourceFor(apiVersion, kind);
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const l = (await this.request('GET', `${Kube.path(r, namespace)}${q}`)) as { items?: KubeObj[] };
    return (l.items ?? []).map((o) => ({ ...o, apiVersion, kind }));
  }

  async create(obj: KubeObj): Promise<KubeObj> {
    const r = await this.resourceFor(obj.apiVersion, obj.kind);
    return (await this.request('POST', Kube.path(r, obj.metadata.namespace), obj)) as unknown as KubeObj;
  }

  async update(obj: KubeObj): Promise<KubeObj> {
    const r = await this.resourceFor(obj.apiVersion, obj.kind);
    return (await this.request(
      'PUT',
      Kube.path(r, obj.metadata.namespace, obj.metadata.name),
      obj,
    )) as unknown as KubeObj;
  }

  /** Deletes; false when it was not there. */
  async delete(apiVersion: string, kind: string, name: string, namespace?: string): Promise<boolean> {
    const r = await this.resourceFor(apiVersion, kind);
    try {
      await this.request('DELETE', Kube.path(r, namespace, name), {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Background',
      });
      return true;
    } catch (e) {
      if (e instanceof HttpError && e.code === 404) return false;
      throw e;
    }
  }
}

export function kubeFromEnv(env: NodeJS.ProcessEnv = process.env): Kube {
  return new Kube(apiUrl(stateDir(env)));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Go duration text (5m0s, 300s, 1h2m3.5s, 500ms) in ms; undefined when it does not parse. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * (unit[m[2] ?? ''] ?? 0);
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? total : undefined;
}
