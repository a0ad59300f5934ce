import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import {
  ADDON_CHARTS,
  addonInventoryFileName,
  addonInventoryFor,
  inventoryFor,
  recordedAddonInventories,
  recordedInventories,
  type AddonChart,
  type AddonInventory,
  type ObjectSummary,
  type ReleaseInventory,
  type ValuesSet,
} from '../inventory/index.ts';
import { HttpError, kubeFromEnv, parseGoDuration, sleep, type Kube, type KubeObj } from './kube.ts';
import type { Io } from './kind.ts';
import { renderObject, type RenderOptions } from './render.ts';

/**
 * The twin's `helm` (v4.1.4 by default; TWIN_HELM_VERSION=v3.17.2+gcc0bbbd for Helm 3). Charts are
 * the inventory's (test/twin/inventory): base, istiod, cni and ztunnel at the recorded versions
 * (from any repository), and metrics-server at its recorded version from its own Helm repository
 * (`--repo https://kubernetes-sigs.github.io/metrics-server/`, as the plan's addons.metrics-server
 * step installs it; see renderAddon).
 * Releases are stored in the twin as helm's release Secrets (sh.helm.release.v1.<name>.v<rev>,
 * data.release = base64(gzip(release JSON))), so `helm list` reads what `helm install` wrote.
 */

type Major = 3 | 4;

const GLOBAL_VALUE = [
  'kubeconfig',
  'kube-context',
  'namespace',
  'n',
  'kube-apiserver',
  'kube-token',
  'kube-as-user',
  'kube-as-group',
  'kube-ca-file',
  'kube-tls-server-name',
  'registry-config',
  'repository-cache',
  'repository-config',
  'burst-limit',
  'qps',
];
const GLOBAL_BOOL = ['debug', 'help', 'h', 'kube-insecure-skip-tls-verify'];
const CHART_VALUE = [
  'values',
  'f',
  'set',
  'set-string',
  'set-file',
  'set-json',
  'set-literal',
  'version',
  'repo',
  'timeout',
  'description',
  'username',
  'password',
  'ca-file',
  'cert-file',
  'key-file',
  'keyring',
  'output',
  'o',
  'post-renderer',
  'post-renderer-args',
  'labels',
  'l',
];
const CHART_BOOL = [
  'create-namespace',
  'devel',
  'skip-crds',
  'insecure-skip-tls-verify',
  'plain-http',
  'pass-credentials',
  'verify',
  'no-hooks',
  'disable-openapi-validation',
  'dependency-update',
  'render-subchart-notes',
  'enable-dns',
  'hide-notes',
  'take-ownership',
  'skip-schema-validation',
  'wait-for-jobs',
  'hide-secret',
];

interface Spec {
  value: string[];
  bool: string[];
  /** Flags with an optional value (`--flag` or `--flag=v`, never `--flag v`). */
  optional: string[];
  args: [number, number];
}

function specs(major: Major): Record<string, Spec> {
  const v3 = major === 3;
  const wait = v3 ? { bool: ['wait'], optional: [] } : { bool: [], optional: ['wait'] };
  return {
    install: {
      value: [...CHART_VALUE, 'name-template'],
      bool: [
        ...CHART_BOOL,
        ...wait.bool,
        'generate-name',
        'g',
        'replace',
        v3 ? 'atomic' : 'rollback-on-failure',
        ...(v3 ? [] : ['force-replace', 'force-conflicts']),
      ],
      optional: ['dry-run', ...wait.optional, ...(v3 ? [] : ['server-side'])],
      args: [1, 2],
    },
    upgrade: {
      value: [...CHART_VALUE, 'history-max'],
      bool: [
        ...CHART_BOOL,
        ...wait.bool,
        'install',
        'i',
        'reuse-values',
        'reset-values',
        'reset-then-reuse-values',
        'cleanup-on-fail',
        v3 ? 'atomic' : 'rollback-on-failure',
        ...(v3 ? ['force'] : ['force-replace', 'force-conflicts']),
      ],
      optional: ['dry-run', ...wait.optional, ...(v3 ? [] : ['server-side'])],
      args: [2, 2],
    },
    list: {
      value: ['output', 'o', 'filter', 'max', 'm', 'offset', 'selector', 'l', 'time-format'],
      bool: [
        'all-namespaces',
        'A',
        ...(v3 ? ['all', 'a'] : []),
        'deployed',
        'failed',
        'pending',
        'superseded',
        'uninstalled',
        'uninstalling',
        'short',
        'q',
        'date',
        'd',
        'reverse',
        'r',
        'no-headers',
      ],
      optional: [],
      args: [0, 0],
    },
    uninstall: {
      value: ['timeout', 'description', 'cascade'],
      bool: [...wait.bool, 'keep-history', 'no-hooks', 'ignore-not-found'],
      optional: ['dry-run', ...wait.optional],
      args: [1, Infinity],
    },
    status: {
      value: ['output', 'o', 'revision'],
      bool: ['show-desc', 'show-resources'],
      optional: [],
      args: [1, 1],
    },
    version: {
      value: ['template'],
      bool: ['short', ...(v3 ? ['client', 'c'] : [])],
      optional: [],
      args: [0, 0],
    },
  };
}

const ALIAS: Record<string, string> = {
  n: 'namespace',
  f: 'values',
  o: 'output',
  i: 'install',
  A: 'all-namespaces',
  a: 'all',
  l: 'labels',
  g: 'generate-name',
};

interface Parsed {
  command: string;
  args: string[];
  values: Map<string, string[]>;
}

/** Parses like cobra/pflag for the commands above; a string is helm's usage error. */
export function parseHelm(argv: string[], major: Major): Parsed | string {
  const all = specs(major);
  const command = argv.find((a) => !a.startsWith('-')) ?? '';
  const aliases: Record<string, string> = {
    un: 'uninstall',
    del: 'uninstall',
    delete: 'uninstall',
    ls: 'list',
  };
  const name = aliases[command] ?? command;
  const spec = all[name];
  if (!spec) return `unknown command "${command}" for "helm"`;
  const value = new Set([...spec.value, ...GLOBAL_VALUE]);
  const bool = new Set([...spec.bool, ...GLOBAL_BOOL]);
  const optional = new Set(spec.optional);
  const values = new Map<string, string[]>();
  const put = (k: string, v: string) => {
    const key = ALIAS[k] ?? k;
    values.set(key, [...(values.get(key) ?? []), v]);
  };
  const args: string[] = [];
  let seenCommand = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (!seenCommand && a === command) seenCommand = true;
      else args.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const [k = '', inline] = a.slice(2).split(/=(.*)/s);
      if (value.has(k)) {
        if (inline !== undefined) put(k, inline);
        else if (i + 1 < argv.length) put(k, argv[++i] ?? '');
        else return `flag needs an argument: --${k}`;
      } else if (bool.has(k)) {
        const v = inline ?? 'true';
        if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(v))
          return `invalid argument "${v}" for "--${k}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`;
        put(k, v);
      } else if (optional.has(k))
        put(k, inline ?? (k === 'wait' ? 'watcher' : k === 'dry-run' ? 'client' : 'true'));
      else return `unknown flag: --${k}`;
      continue;
    }
    const shorts = a.slice(1);
    for (let k = 0; k < shorts.length; k++) {
      const c = shorts[k] ?? '';
      if (value.has(c)) {
        if (k < shorts.length - 1) put(c, shorts.slice(k + 1).replace(/^=/, ''));
        else if (i + 1 < argv.length) put(c, argv[++i] ?? '');
        else return `flag needs an argument: '${c}' in -${c}`;
        break;
      }
      if (!bool.has(c)) return `unknown shorthand flag: '${c}' in ${a}`;
      put(c, 'true');
    }
  }
  const [min, max] = spec.args;
  if (args.length < min || args.length > max) {
    if (name === 'install' && args.length < 1)
      return '"helm install" requires at least 1 argument\n\nUsage:  helm install [NAME] [CHART] [flags]';
    if (name === 'upgrade')
      return `"helm upgrade" requires 2 arguments\n\nUsage:  helm upgrade [RELEASE] [CHART] [flags]`;
    if (name === 'status')
      return `"helm status" requires 1 argument\n\nUsage:  helm status RELEASE_NAME [flags]`;
    if (name === 'uninstall')
      return `"helm uninstall" requires at least 1 argument\n\nUsage:  helm uninstall RELEASE_NAME [...] [flags]`;
    return `"helm ${name}" accepts no arguments\n\nUsage:  helm ${name} [flags]`;
  }
  if (major === 4 && values.has('wait')) {
    const w = values.get('wait')?.at(-1) ?? '';
    if (!['watcher', 'legacy', 'hookOnly', 'true', 'false'].includes(w))
      return `invalid argument "${w}" for "--wait" flag: invalid wait input "${w}". Valid inputs are watcher, hookOnly, and legacy`;
  }
  return { command: name, args, values };
}

// ---- releases -------------------------------------------------------------------------------

export interface ReleaseRecord {
  name: string;
  info: {
    first_deployed: string;
    last_deployed: string;
    deleted?: string;
    description: string;
    status: string;
    notes?: string;
  };
  chart: {
    metadata: {
      name: string;
      version: string;
      appVersion: string;
      description?: string;
      apiVersion: 'v2';
      type?: string;
    };
  };
  config: Record<string, unknown>;
  manifest: string;
  version: number;
  namespace: string;
  apply_method?: string;
}

const encode = (r: ReleaseRecord) => gzipSync(Buffer.from(JSON.stringify(r))).toString('base64');
export const decodeRelease = (data: string): ReleaseRecord =>
  JSON.parse(
    gunzipSync(Buffer.from(Buffer.from(data, 'base64').toString('utf8'), 'base64')).toString('utf8'),
  ) as ReleaseRecord;

async function releaseSecrets(kube: Kube, namespace: string | undefined, name?: string) {
  const secrets = await kube.list('v1', 'Secret', namespace, `owner=helm${name ? `,name=${name}` : ''}`);
  return secrets
    .filter(
      (s) =>
        s.type === 'helm.sh/release.v1' &&
        typeof (s.data as Record<string, string> | undefined)?.release === 'string',
    )
    .map((s) => ({ secret: s, release: decodeRelease((s.data as Record<string, string>).release ?? '') }))
    .sort((a, b) => a.release.version - b.release.version);
}

async function saveRelease(kube: Kube, r: ReleaseRecord, major: Major) {
  const secret: KubeObj = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: `sh.helm.release.v1.${r.name}.v${r.version}`,
      namespace: r.namespace,
      labels: {
        name: r.name,
        owner: 'helm',
        status: r.info.status,
        version: String(r.version),
        ...(major === 4 ? { modifiedAt: String(Math.floor(Date.now() / 1000)) } : {}),
      },
    },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(encode(r)).toString('base64') },
  };
  const existing = await kube.get('v1', 'Secret', secret.metadata.name, r.namespace);
  if (existing)
    await kube.update({
      ...secret,
      metadata: { ...secret.metadata, resourceVersion: existing.metadata.resourceVersion },
    });
  else await kube.create(secret);
}

/** Go's time.Time String(): `2026-11-28 05:30:01.123 +0000 UTC` (trailing zeros of the fraction dropped). */
export function goTimeString(iso: string): string {
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = p(d.getUTCMilliseconds(), 3).replace(/0+$/, '');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac ? `.${frac}` : ''} +0000 UTC`;
}

// ---- charts -----------------------------------------------------------------------------------

const CHARTS = ['base', 'istiod', 'cni', 'ztunnel'] as const;
const ADDON_CHART_NAMES = Object.keys(ADDON_CHARTS) as AddonChart[];

interface ChartRef {
  chart: string;
  version?: string;
  /** Where it came from, as helm names it in errors. */
  repo?: string;
  oci?: string;
}

function chartRef(arg: string, values: Map<string, string[]>): ChartRef {
  const version = values.get('version')?.at(-1);
  if (arg.startsWith('oci://')) {
    const chart = arg.replace(/\/+$/, '').split('/').at(-1) ?? arg;
    return { chart, version, oci: arg.slice('oci://'.length) };
  }
  return { chart: arg.split('/').at(-1) ?? arg, version, repo: values.get('repo')?.at(-1) };
}

function notFoundText(ref: ChartRef): string {
  if (ref.oci)
    return `failed to perform "FetchReference" on source: ${ref.oci}:${ref.version ?? 'latest'}: not found`;
  if (ref.repo)
    return `chart "${ref.chart}" version "${ref.version ?? ''}" not found in ${ref.repo} repository`;
  return `repo ${ref.chart.split('/')[0] ?? ref.chart} not found`;
}

/** Deep-merges YAML values (maps merge, everything else replaces), as helm's -f files do. */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      typeof prev === 'object' &&
      prev !== null &&
      !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * helm's --set parser (helm v4.1.4 pkg/strvals/parser.go, ParseInto): comma-separated
 * `key=value` pairs into `target`, dotted keys as nested maps, `{a,b}` as a list, `\\` escaping
 * the next character, values typed as typedVal does (true/false/null any case, integers not
 * starting with 0, else strings). Returns helm's error text, or undefined. Not modelled: list
 * indexes (`a[0]=x`), which the twin answers with an error of its own.
 */
export function parseSet(target: Record<string, unknown>, entry: string): string | undefined {
  const chars = [...entry];
  let at = 0;
  const EOF = Symbol('eof');
  /** runesUntil: the text up to a stop character (escapes resolved), the stop, or EOF. */
  const until = (stop: string): { text: string; last: string | typeof EOF } => {
    let text = '';
    for (;;) {
      const c = chars[at++];
      if (c === undefined) return { text, last: EOF };
      if (stop.includes(c)) return { text, last: c };
      if (c === '\\') {
        const next = chars[at++];
        if (next === undefined) return { text, last: EOF };
        text += next;
      } else text += c;
    }
  };
  const typed = (v: string): unknown => {
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'null') return null;
    if (v === '0') return 0;
    if (v !== '' && v[0] !== '0' && /^[+-]?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
    return v;
  };
  const set = (data: Record<string, unknown>, k: string, v: unknown) => {
    if (k !== '') data[k] = v;
  };
  /** parser.key: one `key=value` (recursing through dots); EOF when the input ended cleanly. */
  const key = (data: Record<string, unknown>): string | typeof EOF | undefined => {
    const { text: k, last } = until('=[,.');
    if (last === EOF) return k === '' ? EOF : `key "${k}" has no value`;
    if (last === '[') return `twin: list indexes in --set (${entry}) are not modelled`;
    if (last === ',') {
      set(data, k, '');
      return `key "${k}" has no value (cannot end with ,)`;
    }
    if (last === '.') {
      const prev = data[k];
      const inner: Record<string, unknown> =
        typeof prev === 'object' && prev !== null && !Array.isArray(prev)
          ? (prev as Record<string, unknown>)
          : {};
      const e = key(inner);
      if (e === undefined && Object.keys(inner).length === 0) return `key map "${k}" has no value`;
      if (Object.keys(inner).length) set(data, k, inner);
      return e;
    }
    // '=': a list, or a value up to the next comma.
    const first = chars[at];
    if (first === undefined) {
      set(data, k, '');
      return EOF;
    }
    if (first === '{') {
      at++;
      const list: unknown[] = [];
      for (;;) {
        const { text, last: end } = until(',}');
        if (end === EOF) return "list must terminate with '}'";
        list.push(typed(text));
        if (end === '}') {
          if (chars[at] === ',') at++;
          set(data, k, list);
          return undefined;
        }
      }
    }
    const { text, last: end } = until(',');
    set(data, k, typed(text));
    return end === EOF ? EOF : undefined;
  };
  for (;;) {
    const e = key(target);
    if (e === EOF) return undefined;
    if (e !== undefined) return e;
  }
}

interface Rendered {
  chartName: string;
  chartVersion: string;
  appVersion: string;
  objects: { obj: KubeObj; template: string }[];
  config: Record<string, unknown>;
  valuesSet?: ValuesSet;
}

/** The recorded addon charts (metrics-server) a repository URL serves; URLs compare without trailing slashes. */
function addonsOfRepo(
  repo: string | undefined,
): { chart: AddonChart; version: string; inv: AddonInventory }[] {
  if (!repo) return [];
  const norm = (u: string) => u.replace(/\/+$/, '');
  return recordedAddonInventories()
    .map((r) => ({ chart: r.chart, version: r.version, inv: addonInventoryFor(r.chart, r.version) }))
    .filter((r) => norm(r.inv.source.chartRepository) === norm(repo));
}

/** `values` without image.repository and image.tag (and without `image` when that leaves it empty). */
function withoutImage(values: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(values);
  const image = out.image;
  if (typeof image === 'object' && image !== null && !Array.isArray(image)) {
    const rest = { ...(image as Record<string, unknown>) };
    delete rest.repository;
    delete rest.tag;
    if (Object.keys(rest).length) out.image = rest;
    else delete out.image;
  }
  return out;
}

/** Each summary as the object helm creates: the release namespace, helm's label and annotations. */
async function helmObjects(
  kube: Kube,
  summaries: readonly ObjectSummary[],
  release: string,
  namespace: string,
  opts: Pick<RenderOptions, 'hub' | 'images'>,
): Promise<Rendered['objects'] | string> {
  const objects: Rendered['objects'] = [];
  for (const o of summaries) {
    const rt = await kube.resourceFor(o.apiVersion, o.kind).catch(() => undefined);
    if (!rt && o.kind !== 'CustomResourceDefinition')
      return `resource mapping not found for name: "${o.name}" namespace: "${o.namespace ?? ''}" from "": no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`;
    const obj = renderObject(o, { namespace, namespaced: rt?.namespaced ?? false, ...opts });
    // The inventory was rendered with the recorded release names; helm stamps this release's.
    const labels = obj.metadata.labels ?? {};
    if (labels['app.kubernetes.io/instance'] !== undefined) labels['app.kubernetes.io/instance'] = release;
    labels['app.kubernetes.io/managed-by'] = 'Helm';
    obj.metadata.labels = labels;
    obj.metadata.annotations = {
      ...obj.metadata.annotations,
      'meta.helm.sh/release-name': release,
      'meta.helm.sh/release-namespace': namespace,
    };
    objects.push({ obj, template: o.template });
  }
  return objects;
}

/**
 * An addon chart (metrics-server) from its Helm repository: the recorded release when the release
 * name, namespace and values are the recorded ones, apart from image.repository and image.tag,
 * which rebuild the chart's image (`<repository>:<tag, or v<appVersion> when empty>`, its
 * templates/_helpers.tpl). Anything else was never rendered, and the twin says so rather than
 * guess the chart's output.
 */
async function renderAddon(
  kube: Kube,
  release: string,
  namespace: string,
  ref: ChartRef,
  config: Record<string, unknown>,
): Promise<Rendered | string> {
  const served = addonsOfRepo(ref.repo).filter((a) => a.chart === ref.chart);
  const version = ref.version ?? served.at(-1)?.version;
  const hit = served.find((a) => a.version === version);
  if (!hit) return notFoundText(ref);
  const r = hit.inv.release;
  const file = `test/twin/inventory/${addonInventoryFileName(hit.chart, hit.version)}`;
  if (release !== r.name || namespace !== r.namespace)
    return `twin: ${hit.chart} ${hit.version} is recorded as release ${r.name} in ${r.namespace} only (${file}), not ${release} in ${namespace}`;
  if (!isDeepStrictEqual(withoutImage(config), withoutImage(r.values)))
    return `twin: ${hit.chart} ${hit.version} is recorded with the values ${JSON.stringify(withoutImage(r.values))} apart from the image (${file}), not ${JSON.stringify(withoutImage(config))}`;
  const image = (config.image ?? {}) as { repository?: unknown; tag?: unknown };
  // Strings as the chart means them (a number or boolean printed plainly; Go's %s would not).
  const text = (v: unknown) =>
    typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean'
        ? String(v)
        : JSON.stringify(v);
  const repository = image.repository === undefined ? r.image.repository : text(image.repository);
  const tag = image.tag === undefined || image.tag === null ? r.image.tag : text(image.tag);
  const built = `${repository}:${tag === '' ? `v${r.appVersion}` : tag}`;
  const objects = await helmObjects(kube, r.objects, release, namespace, {
    images: { [`${r.image.kind}/${r.image.name}/${r.image.container}`]: built },
  });
  if (typeof objects === 'string') return objects;
  return { chartName: r.chartName, chartVersion: r.chartVersion, appVersion: r.appVersion, objects, config };
}

async function render(
  kube: Kube,
  release: string,
  namespace: string,
  ref: ChartRef,
  values: Map<string, string[]>,
): Promise<Rendered | string> {
  let config: Record<string, unknown> = {};
  for (const f of values.get('values') ?? []) {
    if (!existsSync(f)) return `open ${f}: no such file or directory`;
    config = merge(config, (parseYaml(readFileSync(f, 'utf8')) as Record<string, unknown> | null) ?? {});
  }
  for (const s of values.get('set') ?? []) {
    const e = parseSet(config, s);
    if (e) return `failed parsing --set data: ${e}`;
  }
  // A Helm repository of an addon chart serves that chart only.
  if (addonsOfRepo(ref.repo).length || (ADDON_CHART_NAMES as readonly string[]).includes(ref.chart))
    return renderAddon(kube, release, namespace, ref, config);
  const versions = recordedInventories().map((r) => r.version);
  const version = ref.version ?? versions.at(-1);
  if (!(CHARTS as readonly string[]).includes(ref.chart) || !version || !versions.includes(version))
    return notFoundText(ref);
  const chart = ref.chart as ReleaseInventory['chart'];
  // The homelab value set when the values files hold what the profile's do; defaults otherwise.
  const fileConfig = (values.get('values') ?? []).reduce<Record<string, unknown>>(
    (acc, f) => merge(acc, (parseYaml(readFileSync(f, 'utf8')) as Record<string, unknown> | null) ?? {}),
    {},
  );
  const homelab = Object.values(inventoryFor(version, 'homelab').releases).find((r) => r.chart === chart);
  const valuesSet: ValuesSet =
    homelab && isDeepStrictEqual(fileConfig, homelab.values) ? 'homelab' : 'defaults';
  const inv = Object.values(inventoryFor(version, valuesSet).releases).find((r) => r.chart === chart);
  if (!inv) return notFoundText(ref);
  const hub = (config.global as { hub?: string } | undefined)?.hub;
  const objects = await helmObjects(kube, inv.objects, release, namespace, hub ? { hub } : {});
  if (typeof objects === 'string') return objects;
  return {
    chartName: inv.chartName,
    chartVersion: inv.chartVersion,
    appVersion: inv.chartVersion,
    objects,
    config,
    valuesSet,
  };
}

function manifestOf(objects: Rendered['objects']): string {
  return objects
    .map(
      ({ obj, template }) =>
        `---\n# Source: ${template}\n${stringify({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), ...(obj.metadata.annotations?.['helm.sh/resource-policy'] ? { annotations: { 'helm.sh/resource-policy': obj.metadata.annotations['helm.sh/resource-policy'] } } : {}) } })}`,
    )
    .join('');
}

function objectsOfManifest(manifest: string): KubeObj[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJSON() as KubeObj | null)
    .filter((o): o is KubeObj => o !== null && typeof o === 'object' && 'kind' in o);
}

// ---- readiness --------------------------------------------------------------------------------

function notReady(o: KubeObj): string | undefined {
  const st = (o.status ?? {}) as Record<string, number | undefined>;
  const gen = o.metadata.generation ?? 0;
  const ref = `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
  if ((st.observedGeneration ?? 0) < gen)
    return `resource ${ref} not ready. status: InProgress, message: ${o.kind.toLowerCase()} generation not observed`;
  if (o.kind === 'Deployment') {
    const want = (o.spec as { replicas?: number }).replicas ?? 1;
    if ((st.readyReplicas ?? 0) < want || (st.updatedReplicas ?? 0) < want)
      return `resource ${ref} not ready. status: InProgress, message: Ready: ${st.readyReplicas ?? 0}/${want}`;
  } else if (o.kind === 'DaemonSet') {
    const want = st.desiredNumberScheduled ?? 0;
    if (
      st.observedGeneration === undefined ||
      (st.numberReady ?? 0) < want ||
      (st.updatedNumberScheduled ?? 0) < want
    )
      return `resource ${ref} not ready. status: InProgress, message: Ready: ${st.numberReady ?? 0}/${want}`;
  }
  return undefined;
}

async function waitReady(kube: Kube, objects: KubeObj[], deadline: number): Promise<string[]> {
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
  for (;;) {
    const pending: string[] = [];
    for (const w of workloads) {
      const live = await kube.get(w.apiVersion, w.kind, w.metadata.name, w.metadata.namespace);
      const why = live
        ? notReady(live)
        : `resource ${w.kind}/${w.metadata.namespace}/${w.metadata.name} not ready. status: NotFound, message: Resource not found`;
      if (why) pending.push(why);
    }
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
}

// ---- commands ---------------------------------------------------------------------------------

function ownershipError(o: KubeObj, release: string, namespace: string, live: KubeObj): string | undefined {
  const l = live.metadata.labels ?? {};
  const a = live.metadata.annotations ?? {};
  const problems: string[] = [];
  if (l['app.kubernetes.io/managed-by'] !== 'Helm')
    problems.push(
      `label validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"`,
    );
  if (a['meta.helm.sh/release-name'] === undefined)
    problems.push(
      `annotation validation error: missing key "meta.helm.sh/release-name": must be set to "${release}"`,
    );
  else if (a['meta.helm.sh/release-name'] !== release)
    problems.push(
      `annotation validation error: key "meta.helm.sh/release-name" must equal "${release}": current value is "${a['meta.helm.sh/release-name']}"`,
    );
  if (a['meta.helm.sh/release-namespace'] === undefined)
    problems.push(
      `annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "${namespace}"`,
    );
  else if (a['meta.helm.sh/release-namespace'] !== namespace)
    problems.push(
      `annotation validation error: key "meta.helm.sh/release-namespace" must equal "${namespace}": current value is "${a['meta.helm.sh/release-namespace']}"`,
    );
  if (problems.length === 0) return undefined;
  return `Unable to continue with install: ${o.kind} "${o.metadata.name}" in namespace "${o.metadata.namespace ?? ''}" exists and cannot be imported into the current release: invalid ownership metadata; ${problems.join('; ')}`;
}

async function install(p: Parsed, major: Major, io: Io, kube: Kube): Promise<number> {
  const upgrade = p.command === 'upgrade';
  const flag = (k: string) => p.values.get(k)?.at(-1);
  const on = (k: string) => ['true', '1', 't', 'TRUE', 'True'].includes(flag(k) ?? 'false');
  const [release = '', chartArg = ''] = p.args;
  const namespace = flag('namespace') ?? 'default';
  const failPrefix = upgrade ? '' : 'INSTALLATION FAILED: ';
  const fail = (msg: string) => {
    io.err(`Error: ${failPrefix}${msg}\n`);
    return 1;
  };
  const timeoutText = flag('timeout') ?? '5m0s';
  const timeoutMs = parseGoDuration(timeoutText);
  if (timeoutMs === undefined) {
    io.err(
      `Error: invalid argument "${timeoutText}" for "--timeout" flag: time: invalid duration "${timeoutText}"\n`,
    );
    return 1;
  }
  const wait = p.values.has('wait') && !['false', 'hookOnly'].includes(flag('wait') ?? '');
  const history = await releaseSecrets(kube, namespace, release);
  const last = history.at(-1)?.release;
  if (!upgrade && last && last.info.status !== 'uninstalled')
    return fail(
      major === 3
        ? 'cannot re-use a name that is still in use'
        : 'release name check failed: cannot reuse a name that is still in use',
    );
  if (upgrade && !last && !on('install')) {
    io.err(`Error: UPGRADE FAILED: "${release}" has no deployed releases\n`);
    return 1;
  }
  const ns = await kube.get('v1', 'Namespace', namespace);
  if (!ns) {
    if (on('create-namespace'))
      await kube.create({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace, labels: { name: namespace } },
      });
    else return fail(`create: failed to create: namespaces "${namespace}" not found`);
  }
  const rendered = await render(kube, release, namespace, chartRef(chartArg, p.values), p.values);
  if (typeof rendered === 'string') {
    if (/not found in|FetchReference|repo .* not found/.test(rendered)) {
      io.err(`Error: ${upgrade ? '' : 'INSTALLATION FAILED: '}${rendered}\n`);
      return 1;
    }
    return fail(rendered);
  }
  const revision = (last?.version ?? 0) + 1;
  const isUpgrade = last !== undefined && last.info.status !== 'uninstalled';
  const now = new Date().toISOString();
  const record: ReleaseRecord = {
    name: release,
    info: {
      first_deployed: last?.info.first_deployed ?? now,
      last_deployed: now,
      description: isUpgrade ? 'Upgrade complete' : 'Install complete',
      status: isUpgrade ? 'pending-upgrade' : 'pending-install',
    },
    chart: {
      metadata: {
        name: rendered.chartName,
        version: rendered.chartVersion,
        appVersion: rendered.appVersion,
        apiVersion: 'v2',
      },
    },
    config: rendered.config,
    manifest: manifestOf(rendered.objects),
    version: revision,
    namespace,
    ...(major === 4 ? { apply_method: flag('server-side') === 'false' ? 'csa' : 'ssa' } : {}),
  };
  // Ownership first, as helm checks every object before it creates any.
  const lives = new Map<KubeObj, KubeObj | undefined>();
  for (const { obj } of rendered.objects) {
    const live = await kube.get(obj.apiVersion, obj.kind, obj.metadata.name, obj.metadata.namespace);
    lives.set(obj, live);
    if (live && !on('take-ownership')) {
      const why = ownershipError(obj, release, namespace, live);
      if (why)
        return fail(
          isUpgrade
            ? why.replace('with install', 'with update')
            : `rendered manifests contain a resource that already exists. ${why}`,
        );
    }
  }
  await saveRelease(kube, record, major);
  for (const { obj } of rendered.objects) {
    const live = lives.get(obj);
    try {
      if (live)
        await kube.update({
          ...live,
          ...obj,
          metadata: { ...live.metadata, labels: obj.metadata.labels, annotations: obj.metadata.annotations },
        });
      else await kube.create(obj);
    } catch (e) {
      record.info.status = 'failed';
      record.info.description = `Release "${release}" failed: ${e instanceof Error ? e.message : String(e)}`;
      await saveRelease(kube, record, major);
      return fail(e instanceof HttpError ? `failed to create resource: ${e.message}` : String(e));
    }
    if (obj.kind === 'CustomResourceDefinition') await kube.discover(true);
  }
  if (wait) {
    const pending = await waitReady(
      kube,
      rendered.objects.map((o) => o.obj),
      Date.now() + timeoutMs,
    );
    if (pending.length) {
      record.info.status = 'failed';
      record.info.description = `Release "${release}" failed: context deadline exceeded`;
      await saveRelease(kube, record, major);
      const msg =
        major === 3 ? 'context deadline exceeded' : `${pending.join('\n')}\ncontext deadline exceeded`;
      if (upgrade && isUpgrade) io.err(`Error: UPGRADE FAILED: ${msg}\n`);
      else io.err(`Error: ${upgrade ? '' : 'INSTALLATION FAILED: '}${msg}\n`);
      return 1;
    }
  }
  record.info.status = 'deployed';
  await saveRelease(kube, record, major);
  if (isUpgrade) {
    const prev = history.at(-1);
    if (prev) {
      prev.release.info.status = 'superseded';
      await saveRelease(kube, prev.release, major);
    }
  }
  if (isUpgrade) io.out(`Release "${release}" has been upgraded. Happy Helming!\n`);
  io.out(
    `NAME: ${release}\nLAST DEPLOYED: ${new Date(now).toUTCString()}\nNAMESPACE: ${namespace}\nSTATUS: deployed\nREVISION: ${revision}\nTEST SUITE: None\n`,
  );
  return 0;
}

async function list(p: Parsed, major: Major, io: Io, kube: Kube): Promise<number> {
  const all = p.values.has('all-namespaces');
  const namespace = all ? undefined : (p.values.get('namespace')?.at(-1) ?? 'default');
  const latest = new Map<string, ReleaseRecord>();
  for (const { release } of await releaseSecrets(kube, namespace)) {
    const key = `${release.namespace}/${release.name}`;
    const prev = latest.get(key);
    if (!prev || prev.version < release.version) latest.set(key, release);
  }
  const everyStatus = major === 4 || p.values.has('all');
  const rows = [...latest.values()]
    .filter((r) => everyStatus || r.info.status === 'deployed' || r.info.status === 'failed')
    .filter((r) => r.info.status !== 'uninstalled' || p.values.has('uninstalled'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => ({
      name: r.name,
      namespace: r.namespace,
      revision: String(r.version),
      updated: goTimeString(r.info.last_deployed),
      status: r.info.status,
      chart: `${r.chart.metadata.name}-${r.chart.metadata.version}`,
      app_version: r.chart.metadata.appVersion,
    }));
  const output = p.values.get('output')?.at(-1) ?? 'table';
  if (output === 'json') io.out(`${JSON.stringify(rows)}\n`);
  else if (output === 'yaml') io.out(rows.length ? stringify(rows) : '[]\n');
  else {
    const head = ['NAME', 'NAMESPACE', 'REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION'];
    const table = [
      head,
      ...rows.map((r) => [r.name, r.namespace, r.revision, r.updated, r.status, r.chart, r.app_version]),
    ];
    const widths = head.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
    io.out(
      table
        .map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i] ?? 0) : c)).join('\t'))
        .join('\n') + '\n',
    );
  }
  return 0;
}

async function uninstall(p: Parsed, major: Major, io: Io, kube: Kube): Promise<number> {
  const namespace = p.values.get('namespace')?.at(-1) ?? 'default';
  const timeoutText = p.values.get('timeout')?.at(-1) ?? '5m0s';
  const deadline = Date.now() + (parseGoDuration(timeoutText) ?? 300_000);
  const wait = p.values.has('wait') && !['false', 'hookOnly'].includes(p.values.get('wait')?.at(-1) ?? '');
  for (const name of p.args) {
    const history = await releaseSecrets(kube, namespace, name);
    const last = history.at(-1)?.release;
    if (!last || last.info.status === 'uninstalled') {
      if (p.values.has('ignore-not-found')) continue;
      io.err(`Error: uninstall: Release not loaded: ${name}: release: not found\n`);
      return 1;
    }
    const objects = objectsOfManifest(last.manifest).reverse();
    const kept: KubeObj[] = [];
    const deleted: KubeObj[] = [];
    for (const o of objects) {
      if (o.metadata.annotations?.['helm.sh/resource-policy'] === 'keep') {
        kept.push(o);
        continue;
      }
      if (await kube.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace)) deleted.push(o);
    }
    if (wait) {
      for (;;) {
        let left = 0;
        for (const o of deleted)
          if (await kube.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace)) left++;
        if (left === 0) break;
        if (Date.now() >= deadline) {
          io.err(
            `Error: ${major === 3 ? 'uninstallation completed with 1 error(s): ' : ''}context deadline exceeded\n`,
          );
          return 1;
        }
        await sleep(200);
      }
    }
    if (p.values.has('keep-history')) {
      last.info.status = 'uninstalled';
      last.info.deleted = new Date().toISOString();
      last.info.description = 'Uninstallation complete';
      await saveRelease(kube, last, major);
    } else for (const h of history) await kube.delete('v1', 'Secret', h.secret.metadata.name, namespace);
    if (kept.length)
      io.out(
        `These resources were kept due to the resource policy:\n${kept.map((o) => `[${o.kind}] ${o.metadata.name}\n`).join('')}\n`,
      );
    io.out(`release "${name}" uninstalled\n`);
  }
  return 0;
}

async function status(p: Parsed, _major: Major, io: Io, kube: Kube): Promise<number> {
  const namespace = p.values.get('namespace')?.at(-1) ?? 'default';
  const name = p.args[0] ?? '';
  const last = (await releaseSecrets(kube, namespace, name)).at(-1)?.release;
  if (!last) {
    io.err('Error: release: not found\n');
    return 1;
  }
  if (p.values.get('output')?.at(-1) === 'json') {
    io.out(
      `${JSON.stringify({ name: last.name, info: last.info, config: last.config, version: last.version, namespace: last.namespace })}\n`,
    );
    return 0;
  }
  io.out(
    `NAME: ${last.name}\nLAST DEPLOYED: ${new Date(last.info.last_deployed).toUTCString()}\nNAMESPACE: ${last.namespace}\nSTATUS: ${last.info.status}\nREVISION: ${last.version}\n${last.info.status === 'deployed' ? 'TEST SUITE: None\n' : `DESCRIPTION: ${last.info.description}\n`}`,
  );
  return 0;
}

export function helmVersion(env: NodeJS.ProcessEnv = process.env): { short: string; major: Major } {
  const short = env.TWIN_HELM_VERSION ?? 'v4.1.4+g05fa379';
  return { short, major: short.startsWith('v3.') ? 3 : 4 };
}

export async function helmMain(argv: string[], io: Io): Promise<number> {
  const { short, major } = helmVersion();
  const p = parseHelm(argv, major);
  if (typeof p === 'string') {
    io.err(`Error: ${p}\n`);
    return 1;
  }
  if (p.command === 'version') {
    const [ver = '', commit = ''] = short.split('+g');
    io.out(
      p.values.has('short')
        ? `${short}\n`
        : `version.BuildInfo{Version:"${ver}", GitCommit:"${commit}", GitTreeState:"clean", GoVersion:"go1.25.5"}\n`,
    );
    return 0;
  }
  const kube = kubeFromEnv();
  const kubeconfig = p.values.get('kubeconfig')?.at(-1);
  if (kubeconfig && !existsSync(kubeconfig)) {
    io.err(
      `Error: ${major === 3 ? 'Kubernetes' : 'kubernetes'} cluster unreachable: stat ${path.resolve(kubeconfig)}: no such file or directory\n`,
    );
    return 1;
  }
  switch (p.command) {
    case 'install':
    case 'upgrade':
      return install(p, major, io, kube);
    case 'list':
      return list(p, major, io, kube);
    case 'uninstall':
      return uninstall(p, major, io, kube);
    case 'status':
      return status(p, major, io, kube);
  }
  return 1;
}
