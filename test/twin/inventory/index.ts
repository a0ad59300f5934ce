import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AddonInventory,
  Inventory,
  type ObjectSummary,
  type PolicyRule,
  type ReleaseInventory,
  type ValuesSet,
} from './schema.ts';

export * from './schema.ts';

/**
 * The twin's chart inventory: what each Istio chart release creates, per Istio version and value
 * set, recorded from the real charts by scripts/twin-inventory.ts (its header says how to re-record).
 *
 *   inventoryFor('1.28.3', 'homelab').releases.istiod.objects  // Deployment istiod, Service istiod, ...
 *
 * Value sets: `defaults` (each chart with no values) and `homelab` (profiles/homelab: release
 * names, values files and the plan's --set entries, as harness/plan.ts passes them to helm). Both
 * use the homelab release names and namespace (istio-base, istiod, istio-cni, ztunnel in
 * istio-system).
 *
 * Objects are listed in the order `helm template` printed them, which is Helm's install order
 * (helm v4.1.4 pkg/release/v1/util/kind_sorter.go InstallOrder: ServiceAccount, ConfigMap, CRD, ClusterRole, ...,
 * Service, Deployment, HPA, webhooks). No chart renders hooks or tests.
 *
 * What `helm install` adds that `helm template` does not show, for the fake helm to add itself
 * (helm v4.1.4 and v3.17.2 pkg/action/validate.go setMetadataVisitor): on every object the label
 * `app.kubernetes.io/managed-by: Helm` (the charts already set it) and the annotations
 * `meta.helm.sh/release-name` and `meta.helm.sh/release-namespace`; and the release Secret
 * `sh.helm.release.v1.<release>.v<revision>` (type helm.sh/release.v1) in the release namespace.
 * At run time istiod fills in the webhooks' caBundle and sets istiod-default-validator's
 * failurePolicy to Fail; the inventory shows them as rendered (no caBundle, Ignore).
 */

export const INVENTORY_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The chart folders in istio/istio, by the profile's chart names. */
export const CHART_PATHS: Readonly<Record<ReleaseInventory['chart'], string>> = {
  base: 'manifests/charts/base',
  istiod: 'manifests/charts/istio-control/istio-discovery',
  cni: 'manifests/charts/istio-cni',
  ztunnel: 'manifests/charts/ztunnel',
};

export function inventoryFileName(version: string, values: ValuesSet): string {
  return `istio-${version}.${values}.json`;
}

const FILE_RE = /^istio-(.+)\.(defaults|homelab)\.json$/;

/** The recorded (version, value set) pairs, oldest version first. */
export function recordedInventories(
  dir = INVENTORY_DIR,
): { version: string; values: ValuesSet; file: string }[] {
  const out: { version: string; values: ValuesSet; file: string }[] = [];
  for (const f of readdirSync(dir)) {
    const m = FILE_RE.exec(f);
    if (m?.[1] && (m[2] === 'defaults' || m[2] === 'homelab'))
      out.push({ version: m[1], values: m[2], file: path.join(dir, f) });
  }
  const key = (v: string) => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? p.padStart(6, '0') : p));
  return out.sort((a, b) => {
    const [ka, kb] = [key(a.version).join('.'), key(b.version).join('.')];
    return ka < kb ? -1 : ka > kb ? 1 : a.values.localeCompare(b.values);
  });
}

const cache = new Map<string, Inventory>();

/**
 * The recorded inventory of Istio `version` under value set `values`, validated against the
 * schema, with each object's labels complete (a copy: callers may change it). Throws, naming the recorded versions, when there is none.
 */
export function inventoryFor(version: string, values: ValuesSet): Inventory {
  const file = path.join(INVENTORY_DIR, inventoryFileName(version, values));
  const hit = cache.get(file);
  if (hit) return structuredClone(hit);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    const known = recordedInventories()
      .map((r) => `${r.version} (${r.values})`)
      .join(', ');
    throw new Error(
      `no chart inventory for Istio ${version} with ${values} values (recorded: ${known || 'none'}); record it with scripts/twin-inventory.ts`,
    );
  }
  const inv = Inventory.parse(JSON.parse(text));
  for (const r of Object.values(inv.releases))
    r.objects = r.objects.map((o) => ({ ...o, labels: { ...r.commonLabels, ...o.labels } }));
  cache.set(file, inv);
  return structuredClone(inv);
}

/** The release of `inv` made from `chart` (base, istiod, cni, ztunnel), with its name. */
export function releaseOf(
  inv: Inventory,
  chart: ReleaseInventory['chart'],
): { name: string; release: ReleaseInventory } {
  const hit = Object.entries(inv.releases).find(([, r]) => r.chart === chart);
  if (!hit)
    throw new Error(`inventory ${inv.source.tag} (${inv.source.values}) has no release of chart ${chart}`);
  return { name: hit[0], release: hit[1] };
}

/** Every object of the inventory, each with the release that creates it. */
export function allObjects(inv: Inventory): (ObjectSummary & { release: string })[] {
  return Object.entries(inv.releases).flatMap(([release, r]) => r.objects.map((o) => ({ ...o, release })));
}

/** The one object of a kind and name (and namespace, when given) across all releases, or undefined. */
export function findObject(
  inv: Inventory,
  kind: string,
  name: string,
  namespace?: string,
): (ObjectSummary & { release: string }) | undefined {
  const hits = allObjects(inv).filter(
    (o) => o.kind === kind && o.name === name && (namespace === undefined || o.namespace === namespace),
  );
  if (hits.length > 1)
    throw new Error(`${kind} ${name}: ${hits.length} objects in ${inv.source.tag} (${inv.source.values})`);
  return hits[0];
}

/** An RBAC rule line (schema.ts PolicyRule) as its fields; the core group comes back as "". */
export function parseRule(rule: PolicyRule): {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
} {
  const parts = new Map<string, string[]>();
  for (const part of rule.split(' ')) {
    const eq = part.indexOf('=');
    const list = part.slice(eq + 1);
    const key = part.slice(0, eq);
    const items = list === '' ? [] : list.split(',');
    parts.set(key, key === 'groups' ? items.map((x) => (x === 'core' ? '' : x)) : items);
  }
  const get = (k: string) => parts.get(k);
  const out: ReturnType<typeof parseRule> = { verbs: get('verbs') ?? [] };
  if (get('groups')) out.apiGroups = get('groups');
  if (get('resources')) out.resources = get('resources');
  if (get('names')) out.resourceNames = get('names');
  if (get('urls')) out.nonResourceURLs = get('urls');
  return out;
}

// ---- charts besides Istio's (harness/plan.ts addons.*) ------------------------------------------

/**
 * The addon charts the plan installs, by chart name: the upstream git repository and chart folder
 * the inventory is recorded from, and how a chart version is tagged there.
 *
 *   addonInventoryFor('metrics-server', '3.13.1').release.objects  // ServiceAccount, ..., APIService
 *
 * Each is recorded with the plan step's own release name, namespace and --set entries only
 * (scripts/twin-inventory.ts), so the file holds what a run installs and nothing else.
 */
export const ADDON_CHARTS = {
  'metrics-server': {
    repository: 'kubernetes-sigs/metrics-server',
    chartPath: 'charts/metrics-server',
    /** chart-releaser's tags: `metrics-server-helm-chart-3.13.1` (the app's own tags are `v0.8.1`). */
    tag: (version: string) => `metrics-server-helm-chart-${version}`,
    planStep: 'addons.metrics-server',
  },
} as const;
export type AddonChart = keyof typeof ADDON_CHARTS;

export function addonInventoryFileName(chart: AddonChart, version: string): string {
  return `${chart}-${version}.json`;
}

const ADDON_FILE_RE = new RegExp(
  `^(${Object.keys(ADDON_CHARTS)
    .map((c) => c.replace(/[.-]/g, '\\$&'))
    .join('|')})-(\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?)\\.json$`,
);

/** The recorded addon chart versions, by chart then version. */
export function recordedAddonInventories(
  dir = INVENTORY_DIR,
): { chart: AddonChart; version: string; file: string }[] {
  const out: { chart: AddonChart; version: string; file: string }[] = [];
  for (const f of readdirSync(dir)) {
    const m = ADDON_FILE_RE.exec(f);
    if (m?.[1] && m[2]) out.push({ chart: m[1] as AddonChart, version: m[2], file: path.join(dir, f) });
  }
  return out.sort((a, b) => a.chart.localeCompare(b.chart) || compareVersions(a.version, b.version));
}

function compareVersions(a: string, b: string): number {
  const key = (v: string) =>
    v
      .split(/[.-]/)
      .map((p) => (/^\d+$/.test(p) ? p.padStart(6, '0') : p))
      .join('.');
  const [ka, kb] = [key(a), key(b)];
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const addonCache = new Map<string, AddonInventory>();

/**
 * The recorded inventory of addon `chart` at `version`, validated, with each object's labels
 * complete (a copy). Throws, naming the recorded versions, when there is none.
 */
export function addonInventoryFor(chart: AddonChart, version: string): AddonInventory {
  const file = path.join(INVENTORY_DIR, addonInventoryFileName(chart, version));
  const hit = addonCache.get(file);
  if (hit) return structuredClone(hit);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    const known = recordedAddonInventories()
      .filter((r) => r.chart === chart)
      .map((r) => r.version)
      .join(', ');
    throw new Error(
      `no chart inventory for ${chart} ${version} (recorded: ${known || 'none'}); record it with scripts/twin-inventory.ts`,
    );
  }
  const inv = AddonInventory.parse(JSON.parse(text));
  const r = inv.release;
  r.objects = r.objects.map((o) => ({ ...o, labels: { ...r.commonLabels, ...o.labels } }));
  addonCache.set(file, inv);
  return structuredClone(inv);
}
