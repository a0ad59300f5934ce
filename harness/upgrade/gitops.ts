import { parseAllDocuments, type Document } from 'yaml';
import { clip, errorText, UserInputError } from '../errors.ts';
import { checkShape } from '../reachability/manifests.ts';
import { CHART_ORDER, type Chart } from './hops.ts';

/**
 * Argo CD Applications that deploy Istio's charts, as the upgrade plan reads them. Pure: the CLI
 * reads the files (cli/upgrade.ts) and passes their text.
 *
 * Facts (argoproj/argo-cd@v3.5.1):
 * - A Helm chart source is `spec.source` or one of `spec.sources` with `chart`, `repoURL` (for OCI
 *   the host/path without `oci://`) and `targetRevision`; `helm.releaseName` defaults to the
 *   Application's name; values come from, lowest precedence first, `valueFiles`, then `values` (a
 *   YAML string) or `valuesObject`, then `parameters` (docs/user-guide/helm.md "Helm Value
 *   Precedence"). `values` and `valuesObject` are not merged: when `valuesObject` is set, `values`
 *   is ignored ("valuesObject trumps values - therefore values will be ignored"; the repo server
 *   passes ApplicationSourceHelm.ValuesYAML(), pkg/apis/application/v1alpha1/values.go, which
 *   returns valuesObject when it is set and `values` only otherwise).
 *   `$<ref>/path` in valueFiles names a file of the source with `ref: <ref>` (multiple sources).
 * - A value file that does not exist makes the render fail (`helm template` gets a --values path
 *   that is not there) unless `helm.ignoreMissingValueFiles` is true, when it is skipped
 *   (reposerver/repository/repository.go getResolvedValueFiles).
 * - Sync waves: annotation `argocd.argoproj.io/sync-wave`, an integer as a string, default 0
 *   (docs/user-guide/sync-waves.md).
 * - ignoreDifferences: `group` (API group without version, "" for core, globs allowed), `kind`,
 *   optional `name`/`namespace`, `jsonPointers`, `jqPathExpressions`, `managedFieldsManagers`
 *   (pkg/apis/application/v1alpha1/types.go ResourceIgnoreDifferences; docs/user-guide/diffing.md).
 * - syncOptions `RespectIgnoreDifferences=true` copies the live value of ignored fields into what
 *   a sync applies (controller/sync.go normalizeTargetResources).
 */

/** The Istio chart names in Istio's Helm repository. */
const ISTIO_CHARTS: ReadonlySet<string> = new Set(CHART_ORDER);

export interface IgnoreRule {
  group: string;
  kind: string;
  name?: string;
  namespace?: string;
  jsonPointers: string[];
  jqPathExpressions: string[];
  managedFieldsManagers: string[];
}

export interface GitopsApp {
  /** File (relative to the --gitops folder) and document index. */
  file: string;
  doc: number;
  name: string;
  chart: Chart;
  repoURL: string;
  targetRevision: string;
  /** Sync wave (0 when not annotated). */
  wave: number;
  releaseName: string;
  namespace: string;
  /** The Helm values Argo CD passes, merged in its precedence order. */
  values: Record<string, unknown>;
  /** Where each part of `values` came from ("valuesObject", a values file path, …). */
  valuesFrom: string[];
  /**
   * valueFiles the plan did not read: `missing`, a `$ref/path` whose file is not in the --gitops
   * folder (Argo CD fails to render unless ignoreMissingValueFiles); `unreadable`, one the plan
   * cannot reach (a path inside the chart, a URL, an unknown `$ref`, a glob).
   */
  unresolvedValueFiles: { file: string; reason: 'missing' | 'unreadable'; why: string }[];
  /** `helm.ignoreMissingValueFiles`: Argo CD skips a value file that does not exist. */
  ignoreMissingValueFiles: boolean;
  /** `helm.values` given but ignored because `helm.valuesObject` is set (Argo CD does the same). */
  valuesIgnored?: boolean;
  ignoreDifferences: IgnoreRule[];
  syncOptions: string[];
}

export interface GitopsInput {
  /** The folder as given (for messages). */
  dir: string;
  /** Files found: path relative to `dir` → text. */
  files: ReadonlyMap<string, string>;
  /** Reads `$ref/path` value files: path relative to `dir` → text, or undefined when absent. */
  readValuesFile: (relative: string) => string | undefined;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObj(prev) && isObj(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

/** `a.b.c=value` as Helm's --set nests it (keys only matter here; lists and escapes are kept as text). */
function setParameter(
  values: Record<string, unknown>,
  name: string,
  value: unknown,
): Record<string, unknown> {
  const keys = name.split('.');
  const leaf: Record<string, unknown> = {};
  let cur = leaf;
  keys.forEach((k, i) => {
    if (i === keys.length - 1) cur[k] = value;
    else {
      const next: Record<string, unknown> = {};
      cur[k] = next;
      cur = next;
    }
  });
  return deepMerge(values, leaf);
}

function bad(
  input: GitopsInput,
  file: string,
  field: string,
  expected: string,
  seen: unknown,
): UserInputError {
  return new UserInputError(`--gitops ${input.dir}: ${file}: ${field}`, {
    expected,
    seen: typeof seen === 'string' ? clip(seen) : clip(JSON.stringify(seen) ?? String(seen)),
  });
}

/** A YAML parser error as one line, without the trailing colon that introduces its excerpt. */
function parseErrorLine(message: string | undefined): string {
  return (message ?? 'parse error').split('\n')[0]?.replace(/:\s*$/, '') || 'parse error';
}

/**
 * A parsed document as plain values: refuses (exit 2, naming `file` and `field`) a document the
 * YAML reader will not expand (an alias bomb: "Excessive alias count"), one whose alias contains
 * itself, and one nested deeper than any manifest (reachability/manifests.ts checkShape).
 */
function toPlain(input: GitopsInput, file: string, field: string, expected: string, doc: Document): unknown {
  let v: unknown;
  try {
    v = doc.toJS();
  } catch (e) {
    throw bad(input, file, field, `${expected}, whose aliases expand to a bounded document`, errorText(e));
  }
  try {
    checkShape(v, `--gitops ${input.dir}: ${file}: ${field}`);
  } catch (e) {
    if (e instanceof UserInputError) throw bad(input, file, field, expected, e.message.replace(/^.*: /, ''));
    throw e;
  }
  return v;
}

function parseYamlValues(
  input: GitopsInput,
  file: string,
  field: string,
  text: string,
): Record<string, unknown> {
  const docs = parseAllDocuments(text, { version: '1.1', merge: true });
  const first = Array.isArray(docs) ? docs[0] : docs;
  if (!first) return {};
  if (first.errors.length > 0)
    throw bad(input, file, field, 'Helm values in YAML', parseErrorLine(first.errors[0]?.message));
  const v = toPlain(input, file, field, 'Helm values in YAML', first);
  if (v === null || v === undefined) return {};
  if (!isObj(v)) throw bad(input, file, field, 'a YAML mapping of Helm values', v);
  return v;
}

function parseIgnore(input: GitopsInput, file: string, at: string, raw: unknown): IgnoreRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw bad(input, file, at, 'a list of ignoreDifferences rules', raw);
  return raw.map((r, i) => {
    const where = `${at}[${i}]`;
    if (!isObj(r))
      throw bad(
        input,
        file,
        where,
        'a rule: {group, kind, jsonPointers | jqPathExpressions | managedFieldsManagers}',
        r,
      );
    if (typeof r.kind !== 'string' || r.kind === '')
      throw bad(
        input,
        file,
        `${where}.kind`,
        'a kind (Argo CD requires it; "*" matches every kind)',
        r.kind ?? 'nothing',
      );
    const strings = (k: string): string[] => {
      const v = r[k];
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw bad(input, file, `${where}.${k}`, 'a list of strings', v);
      return v as string[];
    };
    const rule: IgnoreRule = {
      group: typeof r.group === 'string' ? r.group : '',
      kind: r.kind,
      jsonPointers: strings('jsonPointers'),
      jqPathExpressions: strings('jqPathExpressions'),
      managedFieldsManagers: strings('managedFieldsManagers'),
    };
    if (typeof r.name === 'string' && r.name !== '') rule.name = r.name;
    if (typeof r.namespace === 'string' && r.namespace !== '') rule.namespace = r.namespace;
    return rule;
  });
}

/**
 * The Istio Applications in the files. Refuses (exit 2) what Argo CD would refuse or what makes the
 * folder useless to the plan: YAML that does not parse, an Application without a source, a
 * sync-wave that is not an integer, a rule without kind, two Applications for one chart, and a
 * folder with no Application deploying an Istio chart.
 */
export function parseGitops(input: GitopsInput): GitopsApp[] {
  const apps: GitopsApp[] = [];
  for (const [file, text] of [...input.files].sort(([a], [b]) => a.localeCompare(b))) {
    const docs = parseAllDocuments(text, { merge: true });
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((d, i) => {
      if (d.errors.length > 0)
        throw bad(
          input,
          file,
          `document ${i + 1}`,
          'YAML (Kubernetes manifests)',
          parseErrorLine(d.errors[0]?.message),
        );
      const obj = toPlain(input, file, `document ${i + 1}`, 'YAML (Kubernetes manifests)', d);
      if (
        !isObj(obj) ||
        obj.kind !== 'Application' ||
        typeof obj.apiVersion !== 'string' ||
        !obj.apiVersion.startsWith('argoproj.io/')
      )
        return;
      const app = parseApplication(input, file, i, obj);
      if (app) apps.push(app);
    });
  }
  if (apps.length === 0)
    throw new UserInputError(`--gitops ${input.dir}: no Argo CD Application deploys an Istio chart`, {
      expected: `Application manifests (apiVersion argoproj.io/v1alpha1) whose Helm source has chart ${CHART_ORDER.join(', ')}`,
      seen:
        input.files.size === 0
          ? 'no .yaml, .yml or .json file'
          : `${input.files.size} file(s), none with such an Application`,
    });
  for (const chart of CHART_ORDER) {
    const same = apps.filter((a) => a.chart === chart);
    if (same.length > 1)
      throw new UserInputError(`--gitops ${input.dir}: two Applications deploy the ${chart} chart`, {
        expected: 'one Application per Istio chart',
        seen: same.map((a) => `${a.name} (${a.file})`).join(', '),
      });
  }
  return apps;
}

function parseApplication(
  input: GitopsInput,
  file: string,
  doc: number,
  obj: Record<string, unknown>,
): GitopsApp | undefined {
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const at = `Application ${name || `(document ${doc + 1})`}`;
  const spec = obj.spec;
  if (!isObj(spec)) throw bad(input, file, `${at}: spec`, 'an Application spec', spec ?? 'nothing');
  const sources: unknown[] = Array.isArray(spec.sources)
    ? spec.sources
    : spec.source === undefined
      ? []
      : [spec.source];
  if (sources.length === 0)
    throw bad(input, file, `${at}: spec.source`, 'spec.source or spec.sources', 'neither');
  const chartSource = sources.find(
    (s) => isObj(s) && typeof s.chart === 'string' && ISTIO_CHARTS.has(s.chart),
  );
  if (!isObj(chartSource)) return undefined; // another chart or a plain manifests app
  const chart = chartSource.chart as Chart;
  const annotations = isObj(meta.annotations) ? meta.annotations : {};
  const waveRaw = annotations['argocd.argoproj.io/sync-wave'];
  let wave = 0;
  if (waveRaw !== undefined) {
    const text = typeof waveRaw === 'string' || typeof waveRaw === 'number' ? String(waveRaw).trim() : '';
    if (!/^-?\d+$/.test(text))
      throw bad(
        input,
        file,
        `${at}: metadata.annotations["argocd.argoproj.io/sync-wave"]`,
        'an integer as a string, e.g. "-44"',
        waveRaw,
      );
    wave = Number(text);
  }
  const refs = new Map<string, Record<string, unknown>>();
  for (const s of sources) if (isObj(s) && typeof s.ref === 'string') refs.set(s.ref, s);
  const helm = isObj(chartSource.helm) ? chartSource.helm : {};
  let values: Record<string, unknown> = {};
  const valuesFrom: string[] = [];
  const unresolved: GitopsApp['unresolvedValueFiles'] = [];
  const valueFiles = Array.isArray(helm.valueFiles) ? helm.valueFiles : [];
  for (const vf of valueFiles) {
    if (typeof vf !== 'string') throw bad(input, file, `${at}: helm.valueFiles`, 'a list of paths', vf);
    const m = /^\$([^/]+)\/(.+)$/.exec(vf);
    const why = unreadableWhy(vf, m, refs);
    if (why !== undefined) {
      unresolved.push({ file: vf, reason: 'unreadable', why });
      continue;
    }
    const text = input.readValuesFile(m?.[2] ?? '');
    if (text === undefined) {
      unresolved.push({ file: vf, reason: 'missing', why: `no file ${m?.[2] ?? vf} in ${input.dir}` });
      continue;
    }
    values = deepMerge(values, parseYamlValues(input, m?.[2] ?? vf, '(root)', text));
    valuesFrom.push(m?.[2] ?? vf);
  }
  // Argo CD passes valuesObject when it is set, and `values` only when it is not (ValuesYAML).
  const hasValuesString = typeof helm.values === 'string' && helm.values.trim() !== '';
  let valuesIgnored = false;
  if (isObj(helm.valuesObject)) {
    values = deepMerge(values, helm.valuesObject);
    valuesFrom.push('helm.valuesObject');
    valuesIgnored = hasValuesString;
  } else if (hasValuesString) {
    values = deepMerge(values, parseYamlValues(input, file, `${at}: helm.values`, helm.values as string));
    valuesFrom.push('helm.values');
  }
  if (Array.isArray(helm.parameters)) {
    for (const p of helm.parameters)
      if (isObj(p) && typeof p.name === 'string') values = setParameter(values, p.name, p.value);
    valuesFrom.push('helm.parameters');
  }
  const destination = isObj(spec.destination) ? spec.destination : {};
  const syncPolicy = isObj(spec.syncPolicy) ? spec.syncPolicy : {};
  const syncOptions = Array.isArray(syncPolicy.syncOptions)
    ? syncPolicy.syncOptions.filter((s): s is string => typeof s === 'string')
    : [];
  const targetRevision =
    typeof chartSource.targetRevision === 'string' || typeof chartSource.targetRevision === 'number'
      ? String(chartSource.targetRevision)
      : '';
  if (targetRevision !== '' && !isChartRevision(targetRevision))
    throw bad(
      input,
      file,
      `${at}: targetRevision`,
      'a chart version (1.31.1) or a semver range Argo CD resolves (1.31.*, ~1.31.0, >=1.30.0 <1.32.0)',
      targetRevision,
    );
  return {
    file,
    doc,
    name,
    chart,
    repoURL: typeof chartSource.repoURL === 'string' ? chartSource.repoURL : '',
    targetRevision,
    wave,
    releaseName: typeof helm.releaseName === 'string' && helm.releaseName !== '' ? helm.releaseName : name,
    namespace: typeof destination.namespace === 'string' ? destination.namespace : '',
    values,
    valuesFrom,
    unresolvedValueFiles: unresolved,
    ignoreMissingValueFiles: helm.ignoreMissingValueFiles === true,
    ...(valuesIgnored ? { valuesIgnored: true } : {}),
    ignoreDifferences: parseIgnore(input, file, `${at}: spec.ignoreDifferences`, spec.ignoreDifferences),
    syncOptions,
  };
}

/**
 * Why the plan cannot read a value file, or undefined when it is a `$ref/path` of a ref source,
 * read from the --gitops folder (the folder is taken to be that ref's checkout).
 */
function unreadableWhy(
  vf: string,
  m: RegExpExecArray | null,
  refs: ReadonlyMap<string, unknown>,
): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(vf)) return 'a URL, not fetched by the plan';
  if (!m) return 'a path inside the chart (relative to the chart source), not read by the plan';
  if (!refs.has(m[1] ?? '')) return `no source of the Application has ref: ${m[1] ?? ''}`;
  if (/[*?[]/.test(m[2] ?? '')) return 'a glob pattern, not expanded by the plan';
  return undefined;
}

/** One version of a constraint: 1, 1.31, 1.31.1, with x, X or * as wildcards, pre-release and build. */
const RANGE_VERSION = String.raw`v?(?:\d+|[xX*])(?:\.(?:\d+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?`;
const RANGE_TERM = new RegExp(String.raw`^(?:!=|>=|=>|<=|=<|~>|[=<>~^])?\s*${RANGE_VERSION}$`);
const RANGE_HYPHEN = new RegExp(String.raw`^${RANGE_VERSION}\s+-\s+${RANGE_VERSION}$`);

/**
 * Whether a Helm targetRevision is a version or a semver constraint as Argo CD resolves it
 * (Masterminds/semver NewConstraint: `||` alternatives of terms separated by commas or spaces,
 * each an optional operator and a version with wildcards, or a hyphen range `1.30 - 1.31`).
 */
export function isChartRevision(text: string): boolean {
  if (text.length > 200) return false;
  return text.split('||').every((alt) => {
    const t = alt.trim();
    if (t === '') return false;
    if (RANGE_HYPHEN.test(t)) return true;
    const terms = t
      .replace(/(!=|>=|=>|<=|=<|~>|[=<>~^])\s+/g, '$1')
      .split(/\s*,\s*|\s+/)
      .filter(Boolean);
    return terms.length > 0 && terms.every((x) => RANGE_TERM.test(x));
  });
}

/** Whether a sync option is on (`RespectIgnoreDifferences=true`). */
export function syncOption(app: GitopsApp, name: string): boolean {
  return app.syncOptions.some((o) => o.replace(/\s+/g, '') === `${name}=true`);
}
