import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { UserInputError } from '../errors.ts';
import { ambientSwitch } from '../istio/ambient-values.ts';
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
import { ProfileSchema, type ChartName, type ProfileDoc, type ReleaseSpec } from './schema.ts';

export const EMBEDDED_PROFILE = fileURLToPath(
  new URL('../../profiles/homelab/profile.yaml', import.meta.url),
);

/**
 * Kubernetes minors each Istio minor supports (istio.io supportStatus.yml; Istio 1.28: 1.30-1.34).
 * An Istio minor missing here is allowed with a warning, so a profile can try the next release.
 */
export const SUPPORTED_KUBERNETES: Record<string, readonly number[]> = {
  '1.28': [30, 31, 32, 33, 34],
};

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

function bad(file: string, field: string, expected: string, found: unknown, fix?: string): UserInputError {
  return new UserInputError(`invalid profile ${file}: ${field}`, {
    expected,
    seen: typeof found === 'string' ? found : JSON.stringify(found),
    ...(fix === undefined ? {} : { fix }),
  });
}

/**
 * `yaml11`: read as Helm reads values files (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1: `yes`,
 * `on` and `y` are booleans); profiles and kind configs are YAML 1.2.
 */
function readYamlFile(file: string, what: string, yaml11 = false): unknown {
  if (!existsSync(file)) {
    throw new UserInputError(`${what} not found: ${file}`, {
      expected: 'an existing, readable file',
      seen: 'no such file',
      fix: 'check the path; relative paths are resolved from the profile file’s folder',
    });
  }
  try {
    return parseYaml(readFileSync(file, 'utf8'), yaml11 ? { version: '1.1', merge: true } : {});
  } catch (e) {
    const detail = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new UserInputError(`${what} is not valid YAML: ${file}`, {
      expected: 'a YAML document',
      seen: detail ?? 'parse error',
    });
  }
}

function valueAt(root: unknown, p: PropertyKey[]): unknown {
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

function formatPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function firstIssue(file: string, raw: unknown, error: z.ZodError): UserInputError {
  const issue = error.issues[0];
  if (!issue) return bad(file, '(root)', 'a valid profile', raw);
  const where = issue.path.length ? formatPath(issue.path) : '(root)';
  let expected = issue.message;
  if (issue.code === 'invalid_type') expected = `a value of type ${issue.expected}`;
  else if (issue.code === 'invalid_value')
    expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  let found: unknown = valueAt(raw, issue.path);
  if (issue.code === 'unrecognized_keys') {
    expected = `only known fields (${where})`;
    found = `unknown field(s): ${issue.keys.join(', ')}`;
  } else if (found === undefined) {
    found = 'nothing (field missing)';
  }
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  return bad(file, `${where}${more}`, expected, found);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const REQUIRED_CHARTS: readonly ChartName[] = ['base', 'istiod', 'cni', 'ztunnel'];

export function loadProfile(file: string | undefined, options: LoadOptions = {}): Profile {
  const source = path.resolve(file ?? EMBEDDED_PROFILE);
  const raw = readYamlFile(source, 'profile');
  if (options.istioVersion !== undefined && isPlainObject(raw) && isPlainObject(raw.istio)) {
    raw.istio.version = options.istioVersion;
  }
  const parsed = ProfileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw firstIssue(source, raw, parsed.error);
  const doc = parsed.data;
  const dir = path.dirname(source);
  const warnings: string[] = [];

  // Releases: each chart once, distinct waves, base first.
  const seen = new Map<ChartName, number>();
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
  const waves = new Map<number, string>();
  for (const r of doc.istio.releases) {
    const other = waves.get(r.syncWave);
    if (other !== undefined)
      throw bad(
        source,
        `istio.releases (${r.name}).syncWave`,
        `a wave of its own (shared with ${other})`,
        r.syncWave,
      );
    waves.set(r.syncWave, r.name);
  }
  const ordered = [...doc.istio.releases].sort((a, b) => a.syncWave - b.syncWave);
  if (ordered[0]?.chart !== 'base')
    throw bad(
      source,
      'istio.releases[].syncWave',
      'the base chart (CRDs, validating webhook) in the lowest wave',
      ordered.map((r) => `${r.name}:${r.syncWave}`).join(', '),
    );

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
  const istioMinor = doc.istio.version.split('.').slice(0, 2).join('.');
  const supported = SUPPORTED_KUBERNETES[istioMinor];
  const k8sMinor = Number(k8s?.[2]);
  if (supported === undefined) {
    warnings.push(
      `Istio ${istioMinor} has no Kubernetes support window in this tool; make sure Kubernetes ${kubernetesVersion} is supported`,
    );
  } else if (!supported.includes(k8sMinor)) {
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

  const ns = new Set(doc.mesh.meshedNamespaces);
  if (ns.has(doc.mesh.controlNamespace))
    throw bad(source, 'mesh.controlNamespace', 'a namespace that is not meshed', doc.mesh.controlNamespace);
  if (ns.has(doc.istio.namespace))
    throw bad(
      source,
      'mesh.meshedNamespaces',
      `not the Istio namespace (${doc.istio.namespace})`,
      doc.istio.namespace,
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
