import {
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { UserInputError } from '../errors.ts';
import {
  decodeAuthorizationPolicy,
  decodeNamespace,
  decodeNetworkPolicy,
  decodePeerAuthentication,
  decodePod,
  describe,
  FieldError,
  isPlainObject,
} from './decode.ts';
import type { ClusterState } from './types.ts';

/**
 * Reads Kubernetes manifests (YAML, multi-document, or JSON; `List` objects are unpacked) into the
 * model's ClusterState: Namespace, Pod (status.podIP, container ports), NetworkPolicy, and Istio's
 * PeerAuthentication and AuthorizationPolicy. Other kinds are counted and ignored. Objects are decoded
 * strictly and validated as the API server would (decode.ts); a problem is a UserInputError naming
 * the file, the object and the field. The same object (kind, namespace, name) twice is refused, and a
 * file reached twice (given twice, or also inside a given folder) is read once.
 */

export interface ManifestObject {
  /** The file (or "api", "layout") the object came from. */
  source: string;
  object: Record<string, unknown>;
  /** Where in the file: "document 2", "document 1, items[3]". */
  location?: string;
}

export interface ReadResult {
  state: ClusterState;
  ignored: Record<string, number>;
  files: string[];
  /** What the API server would warn about, each naming the file, the object and the field. */
  warnings: string[];
}

export interface StateOptions {
  /**
   * Manifests: refuse a Pod without status.podIP (the matrix would place it wrongly). Objects read
   * from a live API (the suites) may include pods that are not running yet and are taken as they are.
   */
  requirePodIP?: boolean;
}

/** apiVersions the API server (and Istio 1.28's CRDs) serve for the kinds the matrix reads. */
const READ_KINDS: Record<string, { group: string; versions: string[] }> = {
  Namespace: { group: '', versions: ['v1'] },
  Pod: { group: '', versions: ['v1'] },
  NetworkPolicy: { group: 'networking.k8s.io', versions: ['v1'] },
  PeerAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  AuthorizationPolicy: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
};
/** Groups that once served a kind the matrix reads (NetworkPolicy was extensions/v1beta1 until v1.16). */
const FORMER_GROUPS: Record<string, string[]> = { NetworkPolicy: ['extensions'] };

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function where(o: ManifestObject): string {
  return o.location ? `${o.source} (${o.location})` : o.source;
}

function label(o: ManifestObject): string {
  const kind = typeof o.object.kind === 'string' ? o.object.kind : '(no kind)';
  const m = isPlainObject(o.object.metadata) ? o.object.metadata : {};
  if (typeof m.name !== 'string') return `${kind} (${o.location ?? 'unnamed'})`;
  const ns =
    typeof m.namespace === 'string' && m.namespace !== '' && kind !== 'Namespace' ? `${m.namespace}/` : '';
  return `${kind} ${ns}${m.name}`;
}

function decode<T>(o: ManifestObject, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    throw new UserInputError(`${o.source}: ${label(o)}: ${e.problem} ${e.path}`, {
      expected: e.expected,
      seen: e.seen,
      ...(e.fix ? { fix: e.fix } : {}),
    });
  }
}

/** Converts Kubernetes objects (as the API or a manifest holds them) into the model's ClusterState. */
export function objectsToState(
  objects: ManifestObject[],
  opts: StateOptions = {},
): { state: ClusterState; ignored: Record<string, number>; warnings: string[] } {
  const state: ClusterState = {
    namespaces: [],
    pods: [],
    networkPolicies: [],
    peerAuthentications: [],
    authorizationPolicies: [],
  };
  const ignored: Record<string, number> = {};
  const warnings: string[] = [];
  const seen = new Map<string, ManifestObject>();
  const once = (o: ManifestObject, kind: string, namespace: string | undefined, name: string) => {
    const k = `${kind}\u0000${namespace ?? ''}\u0000${name}`;
    const first = seen.get(k);
    if (first) {
      const what = `${kind} ${namespace !== undefined ? `${namespace}/` : ''}${name}`;
      throw new UserInputError(`${where(o)}: ${what} is defined twice`, {
        expected:
          'each object (kind, namespace, name) once: the API server keeps one object per name, and a second apply replaces the first',
        seen: `${where(first)} and ${where(o)}`,
        fix: `rename one of them or remove the copy${kind === 'Namespace' ? '' : '; an object without metadata.namespace is in namespace default'}`,
      });
    }
    seen.set(k, o);
  };
  for (const o of objects) {
    const kind = o.object.kind;
    if (typeof kind !== 'string' || kind === '')
      throw new UserInputError(`${where(o)}: an object has no kind`, {
        expected: 'kind and apiVersion, e.g. kind: Pod and apiVersion: v1',
        seen: describe(o.object),
      });
    const read = READ_KINDS[kind];
    const apiVersion = o.object.apiVersion;
    if (read && (typeof apiVersion !== 'string' || apiVersion === ''))
      throw new UserInputError(`${o.source}: ${label(o)}: missing apiVersion`, {
        expected: `apiVersion: ${read.group ? `${read.group}/` : ''}${read.versions[0] ?? ''}`,
        seen: describe(apiVersion),
        fix: 'kubectl refuses objects without apiVersion',
      });
    const gv = splitApiVersion(typeof apiVersion === 'string' ? apiVersion : '');
    if (!read || (gv.group !== read.group && !FORMER_GROUPS[kind]?.includes(gv.group))) {
      // Another API's kind of the same name (e.g. Calico's projectcalico.org/v3 NetworkPolicy) is not read.
      const k = read ? `${kind} (${String(apiVersion)})` : kind;
      ignored[k] = (ignored[k] ?? 0) + 1;
      continue;
    }
    if (gv.group !== read.group || !read.versions.includes(gv.version))
      throw new UserInputError(`${o.source}: ${label(o)}: invalid apiVersion`, {
        expected: read.versions.map((v) => `${read.group ? `${read.group}/` : ''}${v}`).join(' or '),
        seen: String(apiVersion),
        fix: 'a version the API server no longer serves is refused by kubectl apply',
      });
    const warn = (ws: { path: string; message: string }[]) => {
      for (const w of ws) warnings.push(`${o.source}: ${label(o)}: ${w.path}: ${w.message}`);
    };
    switch (kind) {
      case 'Namespace': {
        const n = decode(o, () => decodeNamespace(o.object));
        once(o, kind, undefined, n.name);
        state.namespaces.push(n);
        break;
      }
      case 'Pod': {
        const podWarnings: { path: string; message: string }[] = [];
        const p = decode(o, () =>
          decodePod(o.object, opts.requirePodIP ?? false, (path, message) =>
            podWarnings.push({ path, message }),
          ),
        );
        warn(podWarnings);
        once(o, kind, p.namespace, p.name);
        state.pods.push(p);
        break;
      }
      case 'NetworkPolicy': {
        const np = decode(o, () => decodeNetworkPolicy(o.object));
        once(o, kind, np.value.namespace, np.value.name);
        warn(np.warnings);
        state.networkPolicies.push(np.value);
        break;
      }
      case 'PeerAuthentication': {
        const pa = decode(o, () => decodePeerAuthentication(o.object));
        once(o, kind, pa.namespace, pa.name);
        state.peerAuthentications?.push(pa);
        break;
      }
      case 'AuthorizationPolicy': {
        const ap = decode(o, () => decodeAuthorizationPolicy(o.object));
        once(o, kind, ap.namespace, ap.name);
        state.authorizationPolicies?.push(ap);
        break;
      }
    }
  }
  return { state, ignored, warnings };
}

// ---------------------------------------------------------------------------------------------
// files and folders

const MANIFEST = /\.(ya?ml|json)$/i;

function pathProblem(p: string, e: unknown): UserInputError {
  const code = (e as NodeJS.ErrnoException).code;
  let isLink = false;
  try {
    isLink = lstatSync(p).isSymbolicLink();
  } catch {
    // nothing at that path at all
  }
  if (code === 'ELOOP')
    return new UserInputError(`${p}: a symlink loop`, {
      expected: 'a manifest file or a folder of them',
      seen: `a symbolic link that leads back to itself${isLink ? ` (-> ${readlinkSync(p)})` : ''}`,
      fix: 'remove or fix the link',
    });
  if (code === 'ENOENT' && isLink)
    return new UserInputError(`${p}: a dangling symlink`, {
      expected: 'a manifest file or a folder of them',
      seen: `a symbolic link to ${readlinkSync(p)}, which does not exist`,
      fix: 'remove or fix the link',
    });
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new UserInputError(`no such file or directory: ${p}`, {
      expected: 'a manifest file or a folder of them',
      seen: 'nothing at that path',
    });
  return new UserInputError(`${p}: cannot be read`, {
    expected: 'a readable manifest file or folder',
    seen: (e as Error).message,
  });
}

function stat(p: string): Stats {
  try {
    return statSync(p);
  } catch (e) {
    throw pathProblem(p, e);
  }
}

/**
 * The manifest files under the inputs, each once (compared by real path), in order: a file as given,
 * a folder's *.yaml, *.yml and *.json files, sorted, recursively. Symbolic links are followed; a link
 * that leads back into a folder being read (a loop), a link to itself or a dangling link is refused.
 */
export function listFiles(inputs: string[]): string[] {
  if (inputs.some((i) => i.trim() === ''))
    throw new UserInputError('-f/--file: an empty value', {
      expected: 'a manifest file or folder (YAML or JSON)',
      seen: 'an empty value',
    });
  const out: string[] = [];
  const seenFiles = new Set<string>();
  const addFile = (p: string) => {
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      // /dev/stdin is a link to a pipe, which has no path: it is its own.
      real = path.resolve(p);
    }
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    out.push(p);
  };
  const walk = (dir: string, ancestors: Set<string>) => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (e) {
      throw pathProblem(dir, e);
    }
    for (const entry of entries) {
      const p = path.join(dir, entry);
      const st = stat(p);
      if (st.isDirectory()) {
        const real = realpathSync(p);
        if (ancestors.has(real))
          throw new UserInputError(`${p}: a symlink loop`, {
            expected: 'a folder tree without cycles',
            seen: `${p} leads back to ${real}, a folder that contains it`,
            fix: 'remove the link, or pass the folders it points to with -f',
          });
        walk(p, new Set([...ancestors, real]));
      } else if (st.isFile() && MANIFEST.test(entry)) addFile(p);
    }
  };
  for (const input of inputs) {
    const st = stat(input);
    if (st.isDirectory()) walk(input, new Set([realpathSync(input)]));
    else if (st.isFile() || st.isFIFO()) addFile(input);
    else
      throw new UserInputError(`${input}: not a file or folder`, {
        expected: 'a manifest file, a folder of them, or a pipe such as /dev/stdin',
        seen: 'a device or socket, which would be read without end',
      });
  }
  return out;
}

/**
 * Where a JSON text repeats a key within one object, if it does. JSON.parse keeps the last value
 * silently; the API server's strict decoding refuses duplicate fields, and so does the YAML reader.
 * Expects text JSON.parse accepted.
 */
export function jsonDuplicateKey(text: string): { key: string; line: number } | undefined {
  const stack: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(undefined);
      expectKey = false;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c /* , */) {
      expectKey = stack.at(-1) !== undefined;
    } else if (ch === 0x3a /* : */) {
      expectKey = false;
    } else if (ch === 0x22 /* " */) {
      let end = i + 1;
      for (;;) {
        end = text.indexOf('"', end);
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end++;
      }
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (keys.has(key)) return { key, line: text.slice(0, i).split('\n').length };
        keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}

/** JSON.parse for a text that looks like JSON (much faster than the YAML reader); undefined when it is not JSON. */
function parseJson(text: string, file: string): unknown[] | undefined {
  const head = text.trimStart()[0];
  if (head !== '{' && head !== '[') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // let the YAML reader say where the problem is
  }
  const dup = jsonDuplicateKey(text);
  if (dup)
    throw new UserInputError(
      `${file}: line ${dup.line}: the key ${JSON.stringify(dup.key)} appears twice in one object`,
      {
        expected: 'each field once per object (the API server refuses duplicate fields)',
        seen: `${JSON.stringify(dup.key)} twice`,
      },
    );
  return [value];
}

/** Deeper than any Kubernetes object: a document nested further is refused, not walked. */
export const MAX_DEPTH = 100;

/**
 * Refuses a document that is circular (a YAML alias inside itself: `metadata: &m {labels: *m}`)
 * or nested deeper than MAX_DEPTH, before anything walks it recursively. Iterative, so it cannot
 * overflow the stack itself. Shared, non-circular aliases are fine.
 */
export function checkShape(value: unknown, at: string): void {
  const onPath = new Set<object>();
  const stack: { v: unknown; depth: number; leave?: object }[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const top = stack.pop();
    if (!top) break;
    if (top.leave) {
      onPath.delete(top.leave);
      continue;
    }
    const v = top.v;
    if (typeof v !== 'object' || v === null) continue;
    if (onPath.has(v))
      throw new UserInputError(`${at}: a YAML alias contains itself (a circular structure)`, {
        expected: 'Kubernetes manifests: a tree of fields (an alias may repeat a value, not contain itself)',
        seen: 'an anchor (&name) used inside its own value (*name)',
      });
    if (top.depth > MAX_DEPTH)
      throw new UserInputError(`${at}: nested deeper than ${MAX_DEPTH} levels`, {
        expected: `Kubernetes manifests (no object is nested ${MAX_DEPTH} levels deep)`,
        seen: `more than ${MAX_DEPTH} levels of nested lists or maps`,
      });
    onPath.add(v);
    stack.push({ v: undefined, depth: top.depth, leave: v });
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: c, depth: top.depth + 1 });
  }
}

/** The objects of one file's text: every YAML/JSON document, Lists unpacked (also nested ones). */
export function parseManifestText(text: string, file: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  const json = parseJson(text, file);
  if (json) {
    for (const d of json) {
      checkShape(d, file);
      if (!isPlainObject(d))
        throw new UserInputError(`${file}: the JSON document is not an object`, {
          expected: 'a Kubernetes object (or a List of them)',
          seen: describe(d),
        });
      unpack(d, file, undefined, objects);
    }
    return objects;
  }
  // Merge keys (<<) as kubectl's YAML reader (go-yaml) resolves them.
  const docs = parseAllDocuments(text, { merge: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, di) => {
    const location = list.length > 1 ? `document ${di + 1}` : undefined;
    const at = location ? `${file} (${location})` : file;
    if (doc.errors.length)
      throw new UserInputError(`${at}: not valid YAML or JSON`, {
        expected: 'Kubernetes manifests',
        seen: doc.errors[0]?.message.split('\n')[0] ?? 'parse error',
      });
    let d: unknown;
    try {
      d = doc.toJS();
    } catch (e) {
      throw new UserInputError(`${at}: cannot be read as YAML`, {
        expected: 'Kubernetes manifests',
        seen: e instanceof Error ? e.message : String(e),
      });
    }
    if (d === null || d === undefined) return;
    checkShape(d, at);
    if (!isPlainObject(d))
      throw new UserInputError(`${at}: a document is not an object`, {
        expected: 'a Kubernetes object',
        seen: describe(d),
      });
    unpack(d, file, location, objects);
  });
  return objects;
}

function isList(o: Record<string, unknown>): boolean {
  return typeof o.kind === 'string' && o.kind.endsWith('List') && 'items' in o;
}

function unpack(
  o: Record<string, unknown>,
  file: string,
  location: string | undefined,
  out: ManifestObject[],
): void {
  if (!isList(o)) {
    out.push({ source: file, object: o, ...(location ? { location } : {}) });
    return;
  }
  const at = location ? `${file} (${location})` : file;
  for (const k of Object.keys(o))
    if (!['apiVersion', 'kind', 'metadata', 'items'].includes(k))
      throw new UserInputError(`${at}: ${String(o.kind)}: unknown field ${k}`, {
        expected: 'one of the fields of a List: apiVersion, kind, metadata, items',
        seen: k,
      });
  if (o.items === null) return;
  if (!Array.isArray(o.items))
    throw new UserInputError(`${at}: ${String(o.kind)}: invalid items`, {
      expected: 'a list of objects',
      seen: describe(o.items),
    });
  (o.items as unknown[]).forEach((item, i) => {
    const loc = `${location ? `${location}, ` : ''}items[${i}]`;
    if (!isPlainObject(item) || Object.keys(item).length === 0)
      throw new UserInputError(`${file} (${loc}): an empty entry in ${String(o.kind)} items`, {
        expected: 'a Kubernetes object with kind, apiVersion and metadata',
        seen: describe(item),
        fix: 'remove the empty entry (a "-" with nothing after it is null in YAML)',
      });
    // A typed list as the API returns it (PodList, NetworkPolicyList) leaves kind and apiVersion
    // out of its items: they are the list's own, without "List".
    const kind = String(o.kind);
    const typed = kind !== 'List' && item.kind === undefined && item.apiVersion === undefined;
    unpack(
      typed ? { apiVersion: o.apiVersion, kind: kind.slice(0, -'List'.length), ...item } : item,
      file,
      loc,
      out,
    );
  });
}

export function readManifests(inputs: string[]): ReadResult {
  const files = listFiles(inputs);
  const objects: ManifestObject[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw pathProblem(file, e);
    }
    for (const o of parseManifestText(text, file)) objects.push(o);
  }
  const { state, ignored, warnings } = objectsToState(objects, { requirePodIP: true });
  return { state, ignored, files, warnings };
}
