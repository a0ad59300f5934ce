import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { clip, UserInputError } from '../errors.ts';
import { readUserFile, USER_FILE_MAX_BYTES } from '../files.ts';
import { ambientSwitch } from '../istio/ambient-values.ts';
import { checkIstioVersion } from '../istio/versions.ts';
import {
  checkChartRepository,
  hubReason,
  planSetsHub,
  describeRetiredReference,
  hubOverride,
  scanValues,
  type RetiredHostReference,
} from '../istio/hosts.ts';
import { resolveTimeouts, type TimeoutTable } from '../timeouts.ts';
import type { ChartName, ProfileDoc, ReleaseSpec } from './schema.ts';

export const EMBEDDED_PROFILE = fileURLToPath(
  new URL('../../profiles/homelab/profile.yaml', import.meta.url),
);

/**
 * Namespaces a profile may not mesh or use as the plaintext control: Kubernetes' own (kube-system,
 * kube-public, kube-node-lease) and kind's storage provisioner (local-path-storage), the list
 * Istio's injector never touches (istio/istio@1.28.3 pkg/kube/inject/initializer.go
 * IgnoredNamespaces). The run labels these namespaces and runs probe pods in them.
 */
export const SYSTEM_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'local-path-storage',
];

/**
 * Namespaces istio-cni is told not to enrol in ambient: the cni release's `excludeNamespaces`
 * (`cni.excludeNamespaces` wins, as the chart copies `.cni` over its values), default
 * [kube-system] (istio/istio@1.28.3 manifests/charts/istio-cni/values.yaml,
 * templates/zzy_descope_legacy.yaml; the CNI plugin skips those pods, cni/pkg/plugin/plugin.go).
 * Before 1.30 the node agent still enrols an ambient-labelled pod there on a later update
 * (1.28.3 cni/pkg/nodeagent/informers.go reconcilePod; 1.30 added the check): meshing them is
 * refused either way, since the result would depend on the order of events.
 */
export function cniExcludedNamespaces(values: Record<string, unknown>): string[] {
  const cni = values.cni;
  const list = (isPlainObject(cni) ? cni.excludeNamespaces : undefined) ??
    values.excludeNamespaces ?? ['kube-system'];
  return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : [];
}

export interface ResolvedRelease extends ReleaseSpec {
  /** Absolute path of the values file, if any. */
  valuesPath?: string;
  /** valuesFile merged with inline values (for checks and the report; helm gets both). */
  effectiveValues: Record<string, unknown>;
  /**
   * `--set` entries the plan adds after the user's values, e.g. `global.hub=docker.io/istio` for
   * Istio 1.30+ charts that would otherwise pull from a retired registry (istio/hosts.ts).
   */
  planSet: string[];
}

export interface Profile {
  doc: ProfileDoc;
  /** Absolute path of the profile file. */
  source: string;
  embedded: boolean;
  releases: ResolvedRelease[];
  kindConfigPath: string;
  kindConfig: Record<string, unknown>;
  /** e.g. "1.34.0", from the node image tag. */
  kubernetesVersion: string;
  timeouts: TimeoutTable;
  /** Problems the user should fix, printed by plan, run and doctor and listed in the report. */
  warnings: string[];
  /** What the tool decided for the user (e.g. an image hub it sets), printed and reported. */
  notices: string[];
  /** Every field of the profile and its values files that names a retired Istio host. */
  retiredHosts: RetiredHostReference[];
}

export interface LoadOptions {
  /** --istio-version: overrides istio.version. */
  istioVersion?: string;
  env?: NodeJS.ProcessEnv;
}

/** A value from the profile as an error echoes it: a string as is, anything else as JSON; bounded. */
function shown(found: unknown): string {
  if (typeof found === 'string') return clip(found);
  let text: string | undefined;
  try {
    text = JSON.stringify(found);
  } catch {
    text = undefined; // e.g. a value that contains itself
  }
  return clip(text ?? String(found));
}

export function bad(
  file: string,
  field: string,
  expected: string,
  found: unknown,
  fix?: string,
): UserInputError {
  return new UserInputError(`invalid profile ${file}: ${field}`, {
    expected,
    seen: shown(found),
    ...(fix === undefined ? {} : { fix }),
  });
}

/**
 * Reads a profile, values file or kind config: a regular file of at most USER_FILE_MAX_BYTES
 * (files.ts), parsed as YAML. `yaml11`: read as Helm reads values files (sigs.k8s.io/yaml over
 * go-yaml v2, YAML 1.1: `yes`, `on` and `y` are booleans); profiles and kind configs are YAML 1.2.
 * A parse error echoes only the parser's first line, bounded (never the document).
 */
export function readYamlFile(file: string, what: string, yaml11 = false): unknown {
  const text = readUserFile(file, what, USER_FILE_MAX_BYTES);
  try {
    return parseYaml(text, yaml11 ? { version: '1.1', merge: true } : {});
  } catch (e) {
    const detail = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new UserInputError(`${what} is not valid YAML: ${file}`, {
      expected: 'a YAML document',
      seen: clip(detail || 'parse error'),
    });
  }
}

export function valueAt(root: unknown, p: PropertyKey[]): unknown {
  let cur = root;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** The path of the first value that contains itself (a YAML alias inside its own anchor), if any. */
function selfReference(root: unknown): string | undefined {
  const stack = new Set<object>();
  const walk = (v: unknown, at: string): string | undefined => {
    if (v === null || typeof v !== 'object') return undefined;
    if (stack.has(v)) return at || '(root)';
    stack.add(v);
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [`${at}[${i}]`, x])
      : Object.entries(v).map(([k, x]) => [at ? `${at}.${k}` : k, x]);
    for (const [p, x] of entries) {
      const hit = walk(x, p);
      if (hit !== undefined) return hit;
    }
    stack.delete(v);
    return undefined;
  };
  return walk(root, '');
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const REQUIRED_CHARTS: readonly ChartName[] = ['base', 'istiod', 'cni', 'ztunnel'];

/**
 * The profile from its validated document: the checks across fields, the files it names, the
 * timeouts and what the plan decides. Pure of zod (load.ts validates; quick.ts may skip that for the
 * embedded profile). `flagVersion`: --istio-version, already checked.
 */
export function completeProfile(
  source: string,
  doc: ProfileDoc,
  options: LoadOptions = {},
  flagVersion?: ReturnType<typeof checkIstioVersion>,
): Profile {
  const dir = path.dirname(source);
  const warnings: string[] = [];
  const version =
    flagVersion ?? checkIstioVersion(doc.istio.version, { field: 'istio.version', file: source });
  if (version.warning !== undefined) warnings.push(version.warning);

  // Releases: each chart and each name once, distinct waves, in an order upstream installs.
  const seen = new Map<ChartName, number>();
  const names = new Map<string, number>();
  doc.istio.releases.forEach((r, i) => {
    const prev = seen.get(r.chart);
    if (prev !== undefined)
      throw bad(
        source,
        `istio.releases[${i}].chart`,
        `each chart once (already at istio.releases[${prev}])`,
        r.chart,
      );
    seen.set(r.chart, i);
    const same = names.get(r.name);
    if (same !== undefined)
      throw bad(
        source,
        `istio.releases[${i}].name`,
        `a release name used once (already at istio.releases[${same}]); Helm keeps one release per name and namespace`,
        r.name,
      );
    names.set(r.name, i);
  });
  for (const chart of REQUIRED_CHARTS) {
    if (!seen.has(chart))
      throw bad(
        source,
        'istio.releases',
        `a release for each chart: ${REQUIRED_CHARTS.join(', ')}`,
        doc.istio.releases.map((r) => r.chart).join(', '),
        `add a release with chart: ${chart}`,
      );
  }
  const waves = new Map<number, number>();
  doc.istio.releases.forEach((r, i) => {
    const other = waves.get(r.syncWave);
    if (other !== undefined)
      throw bad(
        source,
        `istio.releases[${i}].syncWave`,
        `a wave of its own (shared with istio.releases[${other}], ${doc.istio.releases[other]?.name ?? ''}): releases in one wave have no install order`,
        r.syncWave,
      );
    waves.set(r.syncWave, i);
  });
  const at = (chart: ChartName) => seen.get(chart) ?? 0;
  const wave = (chart: ChartName) => doc.istio.releases[at(chart)]?.syncWave ?? 0;
  const label = (chart: ChartName) =>
    `the ${chart} release (${doc.istio.releases[at(chart)]?.name ?? chart}, wave ${wave(chart)})`;
  const ordered = [...doc.istio.releases].sort((a, b) => a.syncWave - b.syncWave);
  // base holds the CRDs and the validating webhook the other charts' objects need (istio.io
  // ambient Helm install: base → istiod → cni → ztunnel; istio/istio@1.28.3
  // tests/integration/helm/util.go InstallIstio installs in the same order).
  if (ordered[0]?.chart !== 'base')
    throw bad(
      source,
      `istio.releases[${at('base')}].syncWave`,
      'the base chart (CRDs, validating webhook) in the lowest wave',
      ordered.map((r) => `${r.name}:${r.syncWave}`).join(', '),
    );
  // ztunnel is Ready only once istiod sent its first config and the istio-cni node agent accepted
  // its connection (istio/ztunnel@1.28.3 src/app.rs: readiness waits for the "state manager" task,
  // dropped on the first xDS update; src/inpod/workloadmanager.rs: not ready until connected to
  // the node agent), so helm --wait on ztunnel before istiod or cni never ends. istiod and cni may
  // come in either order (older Istio docs installed cni first).
  for (const before of ['istiod', 'cni'] as const) {
    if (wave('ztunnel') < wave(before))
      throw bad(
        source,
        `istio.releases[${at('ztunnel')}].syncWave`,
        `a wave after ${label('istiod')} and ${label('cni')}: ztunnel becomes Ready only with config from istiod and a connection to the istio-cni node agent`,
        wave('ztunnel'),
        'order the waves base → istiod → cni → ztunnel, as Istio installs them',
      );
  }

  const fileValuesOf = new Map<string, Record<string, unknown>>();
  const releases: ResolvedRelease[] = ordered.map((r) => {
    let fileValues: Record<string, unknown> = {};
    let valuesPath: string | undefined;
    if (r.valuesFile !== undefined) {
      valuesPath = path.resolve(dir, r.valuesFile);
      const v = readYamlFile(valuesPath, `values file of release ${r.name}`, true);
      if (v !== null && v !== undefined && !isPlainObject(v))
        throw bad(valuesPath, '(root)', 'a YAML mapping of Helm values', v);
      fileValues = (v as Record<string, unknown> | null) ?? {};
      fileValuesOf.set(r.name, fileValues);
      const loop = selfReference(fileValues);
      if (loop !== undefined)
        throw bad(
          valuesPath,
          loop,
          'Helm values without a YAML alias that contains itself',
          'a self-referencing alias (&name … *name)',
        );
    }
    const inlineLoop = r.values === undefined ? undefined : selfReference(r.values);
    if (inlineLoop !== undefined)
      throw bad(
        source,
        `istio.releases (${r.name}).values.${inlineLoop}`,
        'Helm values without a YAML alias that contains itself',
        'a self-referencing alias (&name … *name)',
      );
    const effectiveValues = deepMerge(fileValues, r.values ?? {});
    if (r.chart === 'istiod' || r.chart === 'cni') {
      const ambient = ambientSwitch(r.chart, effectiveValues);
      if (!ambient.on)
        throw bad(
          valuesPath ?? source,
          `values of release ${r.name} (chart ${r.chart}): ${r.chart === 'cni' ? 'ambient.enabled' : 'env.PILOT_ENABLE_AMBIENT'}`,
          r.chart === 'cni'
            ? 'ambient switched on: profile: ambient, ambient.enabled: true or cni.ambient.enabled: true'
            : 'ambient switched on: profile: ambient, env.PILOT_ENABLE_AMBIENT: "true" or pilot.env.PILOT_ENABLE_AMBIENT: "true"',
          ambient.seen,
          `add "profile: ambient" to ${valuesPath ?? `istio.releases (${r.name}).values`}`,
        );
    }
    const platform = valueAt(effectiveValues, ['global', 'platform']) ?? effectiveValues.platform;
    if (platform === 'kind') {
      throw bad(
        valuesPath ?? source,
        `values of release ${r.name}: global.platform`,
        'no platform for kind (the charts have none; rendering fails with "unknown platform kind")',
        platform,
        'remove global.platform; kind needs no platform value',
      );
    }
    const hub = hubOverride(r.chart, doc.istio.version, effectiveValues);
    return {
      ...r,
      ...(valuesPath === undefined ? {} : { valuesPath }),
      effectiveValues,
      planSet: hub === undefined ? [] : [hub],
    };
  });

  // Istio's retired chart and image hosts (December 2026): warn on each field that names one;
  // refuse a version that was never published there, since nothing could install.
  const retiredHosts: RetiredHostReference[] = [];
  const repo = checkChartRepository(
    source,
    'istio.chartRepository',
    doc.istio.chartRepository,
    doc.istio.version,
  );
  if (repo) retiredHosts.push(repo);
  doc.istio.releases.forEach((r, i) => {
    const valuesPath = releases.find((x) => x.name === r.name)?.valuesPath;
    if (valuesPath !== undefined)
      retiredHosts.push(...scanValues(valuesPath, fileValuesOf.get(r.name) ?? {}, doc.istio.version));
    if (r.values !== undefined)
      retiredHosts.push(...scanValues(source, r.values, doc.istio.version, `istio.releases[${i}].values`));
  });
  for (const ref of retiredHosts) {
    // A values-file hub that the release's inline values override is not what Helm uses.
    const release = releases.find((r) => r.valuesPath === ref.file);
    const overridden =
      release !== undefined &&
      ref.path.length > 0 &&
      valueAt(release.effectiveValues, ref.path) !== ref.value;
    if (ref.notPublished && !overridden)
      throw bad(
        ref.file,
        ref.field,
        `a host that publishes Istio ${doc.istio.version}: ${ref.replacement}`,
        ref.value,
        `Istio ${doc.istio.version} was never published on ${ref.retired}; use ${ref.replacement}`,
      );
    warnings.push(
      `${describeRetiredReference(ref, displayPath(ref.file))}${overridden ? ` (overridden by istio.releases (${release.name}).values, so not used)` : ''}`,
    );
  }
  const notices: string[] = [];
  const hubSet = releases.filter((r) => r.planSet.length > 0);
  if (hubSet.length > 0)
    notices.push(
      `${hubSet.map((r) => r.name).join(', ')}: the plan sets ${hubSet[0]?.planSet[0] ?? ''}: ${hubReason(doc.istio.version)} (set global.hub in the values to choose another)`,
    );
  else if (planSetsHub(doc.istio.version))
    notices.push(
      `every release whose chart renders images sets global.hub, so the plan leaves the image hub as given`,
    );

  // Kubernetes version from the node image; Istio's support window.
  const k8s = /:v(\d+)\.(\d+)\.(\d+)@/.exec(doc.cluster.kind.nodeImage);
  const kubernetesVersion = k8s ? `${k8s[1]}.${k8s[2]}.${k8s[3]}` : 'unknown';
  const istioMinor = version.minor.minor;
  const supported = version.minor.kubernetes;
  const k8sMinor = Number(k8s?.[2]);
  if (k8s?.[1] !== '1' || !supported.includes(k8sMinor)) {
    throw bad(
      source,
      'cluster.kind.nodeImage',
      `a Kubernetes version Istio ${istioMinor} supports (1.${supported[0]}-1.${supported[supported.length - 1]})`,
      doc.cluster.kind.nodeImage,
      'pick a kindest/node image of a supported minor, pinned by digest',
    );
  }

  const kindConfigPath = path.resolve(dir, doc.cluster.kind.config);
  const kindConfig = readYamlFile(kindConfigPath, 'kind cluster config');
  if (
    !isPlainObject(kindConfig) ||
    kindConfig.kind !== 'Cluster' ||
    kindConfig.apiVersion !== 'kind.x-k8s.io/v1alpha4'
  )
    throw bad(kindConfigPath, '(root)', 'kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4', kindConfig);
  const nodes = Array.isArray(kindConfig.nodes) ? kindConfig.nodes : [{ role: 'control-plane' }];
  if (!nodes.some((n) => isPlainObject(n) && (n.role ?? 'control-plane') === 'control-plane'))
    throw bad(kindConfigPath, 'nodes', 'at least one control-plane node', nodes);

  // Namespaces: each meshed one once; none that Istio or Kubernetes keeps for itself.
  const meshed = doc.mesh.meshedNamespaces;
  const ns = new Set(meshed);
  const cniRelease = releases.find((r) => r.chart === 'cni');
  const excluded = cniExcludedNamespaces(cniRelease?.effectiveValues ?? {});
  meshed.forEach((n, i) => {
    const first = meshed.indexOf(n);
    if (first !== i)
      throw bad(
        source,
        `mesh.meshedNamespaces[${i}]`,
        `each namespace once (already at mesh.meshedNamespaces[${first}])`,
        n,
      );
    if (n === doc.istio.namespace)
      throw bad(source, `mesh.meshedNamespaces[${i}]`, `not the Istio namespace (${doc.istio.namespace})`, n);
    if (excluded.includes(n))
      throw bad(
        source,
        `mesh.meshedNamespaces[${i}]`,
        `a namespace istio-cni enrolls: not one of its excludeNamespaces (${excluded.join(', ')}), where the CNI plugin never redirects pods and, before Istio 1.30, the node agent may still enrol them on a later update`,
        n,
        `mesh another namespace${cniRelease?.valuesPath === undefined ? '' : `, or change excludeNamespaces in ${cniRelease.valuesPath}`}`,
      );
    if (SYSTEM_NAMESPACES.includes(n))
      throw bad(
        source,
        `mesh.meshedNamespaces[${i}]`,
        `not a system namespace (${SYSTEM_NAMESPACES.join(', ')}): the run labels meshed namespaces and runs probe pods in them`,
        n,
      );
  });
  const control = doc.mesh.controlNamespace;
  if (ns.has(control))
    throw bad(
      source,
      'mesh.controlNamespace',
      `a namespace that is not meshed (it is mesh.meshedNamespaces[${meshed.indexOf(control)}])`,
      control,
    );
  if (control === doc.istio.namespace || SYSTEM_NAMESPACES.includes(control))
    throw bad(
      source,
      'mesh.controlNamespace',
      `a namespace of its own: not the Istio namespace (${doc.istio.namespace}) nor a system namespace (${SYSTEM_NAMESPACES.join(', ')}); the run labels it and runs plaintext probe pods in it`,
      control,
    );

  doc.mesh.intent.forEach((edge, i) => {
    for (const n of [edge.from, ...edge.to])
      if (!ns.has(n))
        throw bad(
          source,
          `mesh.intent[${i}]`,
          `namespaces from mesh.meshedNamespaces (${[...ns].join(', ')})`,
          n,
        );
  });

  const timeouts = resolveTimeouts(doc.timeouts, options.env);
  return {
    doc,
    source,
    embedded: source === EMBEDDED_PROFILE,
    releases,
    kindConfigPath,
    kindConfig,
    kubernetesVersion,
    timeouts,
    warnings,
    notices,
    retiredHosts,
  };
}

/** A path as a user reads it: relative to the working folder when below it, else absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Number of nodes in the kind config (1 when `nodes` is absent, as kind does). */
export function kindNodeCount(profile: Profile): number {
  const nodes = profile.kindConfig.nodes;
  return Array.isArray(nodes) ? nodes.length : 1;
}
