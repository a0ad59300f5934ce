import { ISTIO_MINORS } from '../istio/versions.ts';
import {
  checkChartRepository,
  planSetsHub,
  REPLACEMENT,
  scanValues,
  SAFE_HUB,
  type RetiredHostReference,
} from '../istio/hosts.ts';
import { BEHAVIOUR_CHANGES, changesLost, describeSince, firstPatchWith, hasChange } from './behaviour.ts';
import { unknownKeys, type KeyInventory } from './chart-keys.ts';
import { syncOption, type GitopsApp } from './gitops.ts';
import { choosePath, CHART_ORDER, describePath, type Chart, type PathChoice } from './hops.ts';
import { jqCompileError, type Jq } from './ignore.ts';
import { KIND_RELEASES, imageForMinor, kindReleaseOf, parseNodeImage } from './kind-images.ts';
import { maskedChanges, type MaskedChange } from './masking.ts';
import type { RenderRequest } from './recorded.ts';
import {
  daysBetween,
  endOfLifeOn,
  KNOWN_BAD,
  knownBadState,
  MINOR_RELEASES,
  patchEvidence,
  RELEASE_TABLE_AS_OF,
} from './releases.ts';
import { compareVersions, minorDistance, minorKey, parseVersion } from './version.ts';

/**
 * `upgrade plan`: every offline check of an Istio ambient upgrade A → B, as data. Pure: the CLI
 * (cli/upgrade.ts) loads the profile, the Argo CD Applications and the chart facts (recorded, or
 * fetched with Helm and cached) and passes them in; the report renders it (report.ts).
 */

export type Status = 'pass' | 'warn' | 'fail' | 'not-run';

export interface Evidence {
  /** One line a person reads. */
  text: string;
  /** Where the fact comes from (a file at a tag, a page, a table row). */
  source?: string;
  /** Severity of this line alone, when it is not the check's. */
  status?: Status;
}

export type CheckId =
  | 'hops'
  | 'kubernetes'
  | 'releases'
  | 'hosts'
  | 'values'
  | 'behaviour'
  | 'gitops-waves'
  | 'gitops-staging'
  | 'gitops-ignore';

export interface CheckResult {
  id: CheckId;
  title: string;
  status: Status;
  /** One sentence: the verdict and why. */
  summary: string;
  evidence: Evidence[];
}

/** Facts about the charts, looked up by the CLI before planning. */
export interface ChartFacts {
  keys(chart: Chart, version: string): { inventory: KeyInventory; source: string } | { missing: string };
  render(
    request: RenderRequest,
    version: string,
  ): { objects: Record<string, unknown>[]; source: string } | { missing: string };
}

/** What the plan needs of a profile (harness/profile/core.ts Profile carries all of it). */
export interface PlanProfile {
  name: string;
  /** The profile file as shown to the user. */
  file: string;
  chartRepository: string;
  nodeImage: string;
  meshedNamespaces: string[];
  releases: { name: string; chart: Chart; values: Record<string, unknown>; valuesFile?: string }[];
}

export interface PlanInputs {
  from: string;
  to: string;
  via?: string[];
  direct?: boolean;
  /** ISO date of the run (end of life, retirement). */
  runDate: string;
  profile: PlanProfile;
  /** The kind release the tool runs (pins.json kind.version). */
  pinnedKind: string;
  /** `skipped`: files and folders of the --gitops folder the CLI did not read, and why. */
  gitops?: { dir: string; apps: GitopsApp[]; skipped?: { path: string; why: string }[] };
  facts: ChartFacts;
  /** jq for ignoreDifferences; required when gitops is given. */
  jq?: Jq;
}

export interface PlanStep {
  hop: number;
  chart: Chart;
  from: string;
  to: string;
  /** The Application to bump, in GitOps mode. */
  application?: string;
}

export interface UpgradePlanReport {
  schema: 'ambient-conformance/upgrade-plan/v1';
  from: string;
  to: string;
  runDate: string;
  releaseTable: { asOf: string; ageDays: number };
  profile: string;
  gitops?: string;
  path: string[];
  pathChosen: PathChoice['chosen'];
  legalPath: string[];
  steps: PlanStep[];
  checks: CheckResult[];
  verdict: 'sound' | 'fails';
  exitCode: 0 | 1;
}

const TITLES: Record<CheckId, string> = {
  hops: 'Hops and version skew',
  kubernetes: 'Kubernetes and kind node image',
  releases: 'Releases (published, end of life, known-bad)',
  hosts: 'Chart repositories and image hubs',
  values: 'Values keys the charts read',
  behaviour: 'Behaviour changes crossing the path',
  'gitops-waves': 'GitOps: sync-wave order',
  'gitops-staging': 'GitOps: one Application per step',
  'gitops-ignore': 'GitOps: ignoreDifferences hiding chart changes',
};

const RANK: Record<Status, number> = { pass: 0, 'not-run': 1, warn: 2, fail: 3 };

function worst(statuses: Status[]): Status {
  return statuses.reduce<Status>((w, s) => (RANK[s] > RANK[w] ? s : w), 'pass');
}

function result(id: CheckId, status: Status, summary: string, evidence: Evidence[]): CheckResult {
  return { id, title: TITLES[id], status, summary, evidence };
}

/** Versions the charts are at after each hop (A excluded). */
function targets(path: readonly string[]): string[] {
  return path.slice(1);
}

// ---------------------------------------------------------------------------------------------
// 1. Hops

export function checkHops(choice: PathChoice): CheckResult {
  const evidence: Evidence[] = [];
  const how =
    choice.chosen === 'legal'
      ? 'one minor per hop, each stop at the newest known patch of its minor'
      : choice.chosen === 'via'
        ? 'stops given with --via'
        : 'one hop, as --direct asks';
  evidence.push({ text: `path: ${describePath(choice.path)} (${how})` });
  choice.hops.forEach((hop, i) => {
    evidence.push({
      text: `hop ${i + 1}: ${hop.from} → ${hop.to}: ${hop.steps.map((s) => s.chart).join(' → ')}`,
      source:
        'istio.io docs/ambient/upgrade/helm (base, istiod, CNI, ztunnel); istio/istio@1.30.3 tests/integration/helm/upgrade/util.go',
    });
    for (const s of hop.skew)
      evidence.push({
        status: 'fail',
        text: `after ${s.after.chart} ${s.after.to}: ${s.problem} (base ${s.state.base}, istiod ${s.state.istiod}, cni ${s.state.cni}, ztunnel ${s.state.ztunnel})`,
        source:
          'istio.io docs/ambient/upgrade/helm ("The ztunnel at version 1.x is compatible with the control plane at version 1.x+1 and 1.x.", the same for the CNI); docs/releases/supported-releases ("the data plane cannot be ahead of control plane")',
      });
  });
  const bad = choice.hops.filter((h) => h.skew.length > 0);
  if (bad.length > 0) {
    evidence.push({ status: 'fail', text: `legal path: ${describePath(choice.legal)}` });
    return result(
      'hops',
      'fail',
      `${bad.map((h) => `${h.from} → ${h.to}`).join(', ')} ${bad.length === 1 ? 'skips' : 'skip'} a minor: the data plane would be more than one minor behind istiod; take ${describePath(choice.legal)}`,
      evidence,
    );
  }
  return result(
    'hops',
    'pass',
    `${choice.hops.length} hop${choice.hops.length === 1 ? '' : 's'}; at every step the data plane is at most one minor behind istiod and never ahead`,
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------
// 2. Kubernetes

export function checkKubernetes(path: readonly string[], nodeImage: string, pinnedKind: string): CheckResult {
  const evidence: Evidence[] = [];
  const image = parseNodeImage(nodeImage);
  if (!image)
    return result(
      'kubernetes',
      'fail',
      `node image ${nodeImage} is not pinned as kindest/node:v<version>@sha256:<digest>`,
      [{ text: `node image: ${nodeImage}`, status: 'fail' }],
    );
  const minor = image.kubernetesMinor;
  const statuses: Status[] = [];
  for (const v of path) {
    const row = ISTIO_MINORS[minorKey(v)];
    const window = row ? `1.${row.kubernetes[0]}-1.${row.kubernetes.at(-1)}` : 'unknown';
    const ok = row?.kubernetes.includes(minor) === true;
    statuses.push(ok ? 'pass' : 'fail');
    evidence.push({
      status: ok ? 'pass' : 'fail',
      text: `Istio ${v} supports Kubernetes ${window}: ${image.kubernetes} ${ok ? 'is inside' : 'is outside'}`,
      source: 'istio/istio.io data/compatibility/supportStatus.yml k8sVersions (harness/istio/versions.ts)',
    });
  }
  const built = kindReleaseOf(nodeImage);
  if (!built) {
    statuses.push('fail');
    evidence.push({
      status: 'fail',
      text: `${nodeImage}: no pinned kind release lists this digest for Kubernetes ${image.kubernetes}`,
      source:
        'kind release notes (kubernetes-sigs/cluster-api test/infrastructure/kind/mapper.go), harness/upgrade/kind-images.ts',
    });
  } else {
    const same = built.release.version === pinnedKind;
    statuses.push(same ? 'pass' : 'fail');
    evidence.push({
      status: same ? 'pass' : 'fail',
      text: `${nodeImage.replace(/@sha256:(.{12}).*/, '@sha256:$1…')} was built by kind ${built.release.version}${same ? `, the kind release the tool runs (pins.json)` : `, but the tool runs kind ${pinnedKind} (pins.json): kind supports an image only with the release that built it`}`,
      source: `kind ${built.release.version} release notes; kubernetes-sigs/kind site/content/docs/design/node-image.md`,
    });
    if (built.release.unverified !== undefined) {
      statuses.push('warn');
      evidence.push({
        status: 'warn',
        text: `this relies on an unverified row of the kind table: ${built.release.unverified}`,
        source: 'harness/upgrade/kind-images.ts',
      });
    }
  }
  // What would work for every version on the path.
  const common = path.reduce<number[]>(
    (acc, v) => acc.filter((m) => ISTIO_MINORS[minorKey(v)]?.kubernetes.includes(m) === true),
    ISTIO_MINORS[minorKey(path[0] ?? '')]?.kubernetes.slice() ?? [],
  );
  if (common.length > 0) {
    const options = common.map((m) => {
      const pinned = imageForMinor(m, pinnedKind);
      const any = imageForMinor(m);
      const mark = (r: { unverified?: string }) => (r.unverified === undefined ? '' : ', unverified row');
      return pinned
        ? `1.${m} (kind ${pinnedKind}: ${pinned.image.replace(/@.*/, '')}${mark(pinned.release)})`
        : any
          ? `1.${m} (needs kind ${any.release.version}: ${any.image.replace(/@.*/, '')}${mark(any.release)})`
          : `1.${m} (no pinned kind release has an image)`;
    });
    const unverified = KIND_RELEASES.filter(
      (r) => r.unverified !== undefined && options.some((o) => o.includes(`kind ${r.version}:`)),
    );
    evidence.push({
      text: `Kubernetes minors every version on the path supports: ${options.join(', ')}${unverified.map((r) => `; unverified row: ${r.unverified ?? ''}`).join('')}`,
    });
  } else {
    statuses.push('fail');
    evidence.push({ status: 'fail', text: 'no Kubernetes minor is supported by every version on the path' });
  }
  const status = worst(statuses);
  const kindFor35 = KIND_RELEASES.find((r) =>
    r.images.some((i) => parseNodeImage(i)?.kubernetesMinor === 35),
  );
  if (minor >= 35 && kindFor35)
    evidence.push({
      text: `Kubernetes 1.35 and later need kind ${kindFor35.version} or newer (kind v0.30.0 has images up to 1.34)`,
    });
  return result(
    'kubernetes',
    status,
    status === 'pass'
      ? `Kubernetes ${image.kubernetes} is supported by every version on the path, and the image is the digest kind ${pinnedKind} was released with`
      : `the node image does not hold for the whole path: ${evidence
          .filter((e) => e.status === 'fail')
          .map((e) => e.text)
          .join('; ')}`,
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------
// 3. Releases

/**
 * When a published version came out, as far as the table knows: the date of its release note, the
 * minor's x.y.0 date for x.y.0, and for a later tagged patch that same date as a lower bound
 * (`exact: false`: it came out on it or later).
 */
function releasedOn(
  version: ReturnType<typeof parseVersion>,
  ev: ReturnType<typeof patchEvidence>,
): { date: string; exact: boolean } | undefined {
  if (ev.kind === 'notes') return { date: ev.date, exact: true };
  const row = MINOR_RELEASES[minorKey(version)];
  if (ev.kind !== 'tag' || !row) return undefined;
  return { date: row.released, exact: version.patch === 0 };
}

export function checkReleases(path: readonly string[], runDate: string): CheckResult {
  const evidence: Evidence[] = [];
  const statuses: Status[] = [];
  const age = daysBetween(RELEASE_TABLE_AS_OF, runDate);
  evidence.push({
    text: `release table as of ${RELEASE_TABLE_AS_OF} (${age} days before the run date ${runDate}); a newer patch or end-of-life date may exist`,
    source: 'harness/upgrade/releases.ts',
    ...(age > 120 ? { status: 'warn' as const } : {}),
  });
  if (age > 120) statuses.push('warn');
  path.forEach((v, i) => {
    const version = parseVersion(v);
    const role = i === 0 ? 'installed (A)' : i === path.length - 1 ? 'target (B)' : `stop ${i}`;
    const target = i === path.length - 1;
    const ev = patchEvidence(version);
    if (ev.kind === 'pre-release') {
      if (i > 0) statuses.push('fail');
      evidence.push({
        status: i > 0 ? 'fail' : 'warn',
        text: `${v} (${role}) is a pre-release, not a published release`,
      });
    } else if (ev.kind === 'unknown-newer') {
      if (i > 0) statuses.push('warn');
      evidence.push({
        status: 'warn',
        text: `${v} (${role}) is newer than the newest ${minorKey(version)} patch the table knows (${minorKey(version)}.${ev.newest}, as of ${RELEASE_TABLE_AS_OF}): not confirmed as published`,
      });
    } else if (ev.kind === 'unknown-minor') {
      statuses.push('fail');
      evidence.push({
        status: 'fail',
        text: `${v} (${role}): minor ${minorKey(version)} is not in the release table`,
      });
    } else {
      const out = releasedOn(version, ev);
      if (out !== undefined && runDate < out.date) {
        // Not out yet on the run date: a stop or target cannot be installed; an installed version
        // that is not out yet means --from or --date is wrong.
        const s: Status = i > 0 ? 'fail' : 'warn';
        statuses.push(s);
        evidence.push({
          status: s,
          text: `${v} (${role}) is not published on ${runDate}: ${out.exact ? `released ${out.date}` : `${minorKey(version)}.0 came out ${out.date}`} (${ev.source})`,
        });
        return;
      }
      evidence.push({
        text: `${v} (${role}) is published: ${ev.kind === 'tag' ? ev.source : `${ev.source} (${ev.date}; release notes only, its charts are not in the istio/istio mirror)`}`,
      });
    }
    if (i > 0) {
      const eol = endOfLifeOn(version, runDate);
      const row = MINOR_RELEASES[minorKey(version)];
      if (eol.state === 'past') {
        // B past end of life fails; a stop past it is normal on a path out of an old minor, and
        // still a warning the verdict counts (the check is WARN, not PASS).
        const s: Status = target ? 'fail' : 'warn';
        statuses.push(s);
        evidence.push({
          status: s,
          text: `${minorKey(version)} reached end of life on ${eol.date}${eol.derived ? ' (derived from the support policy)' : ''}${target ? ': not a target' : ': acceptable as a stop on the way, not as a place to stay'}`,
          source: row?.endOfLife.source,
        });
      } else if (eol.state === 'expected-now') {
        statuses.push('warn');
        evidence.push({
          status: 'warn',
          text: `${minorKey(version)}: end of life expected ${eol.expected}, which the run date has reached; it may be unsupported already`,
          source: row?.endOfLife.source,
        });
      } else if (target) {
        evidence.push({
          text: `${minorKey(version)} is supported on ${runDate}${eol.state === 'supported' && eol.until ? ` (until ${eol.until})` : ''}`,
          ...(row ? { source: row.endOfLife.source } : {}),
        });
      }
      for (const b of KNOWN_BAD) {
        const st = knownBadState(b, version);
        if (st.state === 'clean') continue;
        if (st.state === 'unknown') {
          statuses.push('warn');
          evidence.push({
            status: 'warn',
            text: `${v}: the table does not say whether ${minorKey(version)} has ${b.id} (${b.summary}); check that minor's release notes`,
            source: b.source,
          });
          continue;
        }
        const s: Status = target ? 'fail' : 'warn';
        statuses.push(s);
        evidence.push({
          status: s,
          text: `${v} has ${b.id}: ${b.summary} (${b.impact})${st.fixedIn === undefined ? `; no ${minorKey(version)} patch fixes it` : `; fixed in ${minorKey(version)}.${st.fixedIn}`}`,
          source: b.source,
        });
      }
    } else {
      const eol = endOfLifeOn(version, runDate);
      if (eol.state === 'past')
        evidence.push({ text: `${minorKey(version)} (installed) has been unsupported since ${eol.date}` });
    }
  });
  const status = worst(statuses);
  const to = path.at(-1) ?? '';
  return result(
    'releases',
    status,
    status === 'pass'
      ? `${to} is published, supported on ${runDate} and has no known-bad entry; no stop is past end of life or known-bad`
      : status === 'warn'
        ? `${to} is usable, with warnings: ${evidence
            .filter((e) => e.status === 'warn')
            .map((e) => e.text)
            .join('; ')}`
        : `${evidence
            .filter((e) => e.status === 'fail')
            .map((e) => e.text)
            .join('; ')}`,
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------
// 4. Hosts

interface HostFinding {
  where: string;
  ref: RetiredHostReference;
  /** Versions on the path the host serves, and those it never published. */
  published: string[];
  notPublished: string[];
}

/**
 * The run date from which the plan takes the retired hosts as gone: Istio retires them "in
 * December 2026" without a day (harness/istio/hosts.ts RETIREMENT), so from the first day of that
 * month a reference to them fails, and before it warns (../shared/reference
 * istio-upgrades-and-gitops.md UPG-OFF-08: "fail … for run date ≥ 2026-12-01; warn before").
 */
export const HOSTS_RETIRED_FROM = '2026-12-01';

function retiredOn(runDate: string): boolean {
  return runDate >= HOSTS_RETIRED_FROM;
}

function retirementText(runDate: string): string {
  return retiredOn(runDate)
    ? `which Istio retires in December 2026: taken as switched off on the run date ${runDate} (from ${HOSTS_RETIRED_FROM})`
    : 'which Istio retires in December 2026';
}

function hostEvidence(f: HostFinding, runDate: string): Evidence {
  const field = f.ref.field === '' ? 'repository' : f.ref.field;
  const never =
    f.notPublished.length > 0
      ? `; Istio ${f.notPublished.join(', ')} ${f.notPublished.length > 1 ? 'were' : 'was'} never published there`
      : '';
  return {
    status: f.notPublished.length > 0 || retiredOn(runDate) ? 'fail' : 'warn',
    text: `${f.where}: ${field} ${f.ref.value} is on ${f.ref.retired}, ${retirementText(runDate)}${never}; use ${f.ref.replacement}`,
    source: 'istio.io blog "An update on our move to AWS" (2026-08-21); harness/istio/hosts.ts',
  };
}

/** Whether values set an image hub (top-level `hub` or `global.hub`). */
function setsHub(values: Record<string, unknown>): boolean {
  const g = values.global;
  const hub = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  return hub(values.hub) || (g !== null && typeof g === 'object' && hub((g as Record<string, unknown>).hub));
}

/** Argo CD writes OCI repositories without the scheme: give hosts.ts a URL it can classify. */
function argoRepo(repoURL: string): string {
  return /^[a-z]+:\/\//i.test(repoURL) ? repoURL : `oci://${repoURL}`;
}

export function checkHosts(
  path: readonly string[],
  profile: PlanProfile,
  apps: readonly GitopsApp[] | undefined,
  runDate: string,
): CheckResult {
  const findings = new Map<string, HostFinding>();
  const note = (where: string, ref: RetiredHostReference, version: string) => {
    const key = `${where}\u0000${ref.field}\u0000${ref.value}`;
    const f = findings.get(key) ?? { where, ref, published: [], notPublished: [] };
    (ref.notPublished ? f.notPublished : f.published).push(version);
    findings.set(key, f);
  };
  const notes: Evidence[] = [];
  const seen = new Set<string>();
  const push = (e: Evidence) => {
    if (seen.has(e.text)) return;
    seen.add(e.text);
    notes.push(e);
  };
  for (const v of targets(path)) {
    const repo = checkChartRepository(profile.file, 'istio.chartRepository', profile.chartRepository, v);
    if (repo) note(`profile ${profile.file}: istio.chartRepository`, { ...repo, field: '' }, v);
    for (const r of profile.releases)
      for (const ref of scanValues(r.valuesFile ?? profile.file, r.values, v))
        note(`profile release ${r.name}${r.valuesFile ? ` (${r.valuesFile})` : ''}`, ref, v);
    for (const app of apps ?? []) {
      const ref = checkChartRepository(app.file, 'repoURL', argoRepo(app.repoURL), v);
      if (ref) note(`Application ${app.name} (${app.file}) repoURL`, { ...ref, field: '' }, v);
      for (const h of scanValues(app.file, app.values, v)) note(`Application ${app.name} values`, h, v);
    }
    if (planSetsHub(v) && minorKey(v) === '1.30') {
      const unset = profile.releases
        .filter((r) => r.chart !== 'base' && !setsHub(r.values))
        .map((r) => r.name);
      if (unset.length > 0)
        push({
          text: `Istio ${v}: the published charts default the hub to registry.istio.io/release (retired December 2026); the plan sets global.hub=${SAFE_HUB} for ${unset.join(', ')} in its own runs`,
          source:
            'istio/release-builder@release-1.30 release/build.sh DOCKER_HUB; harness/istio/hosts.ts hubOverride',
        });
      const bare = (apps ?? []).filter((a) => a.chart !== 'base' && !setsHub(a.values)).map((a) => a.name);
      if (bare.length > 0)
        push({
          status: retiredOn(runDate) ? 'fail' : 'warn',
          text: `Istio ${v}: ${bare.join(', ')} set no hub, so their images would come from the chart default registry.istio.io/release (${retiredOn(runDate) ? `retired December 2026, taken as switched off on ${runDate}` : 'retired December 2026'}); add global.hub: ${REPLACEMENT.image} to their values before the 1.30 hop`,
          source: 'istio/release-builder@release-1.30 release/build.sh DOCKER_HUB',
        });
    }
  }
  const evidence = [...[...findings.values()].map((f) => hostEvidence(f, runDate)), ...notes];
  const status = worst(evidence.map((e) => e.status ?? 'pass'));
  if (evidence.length === 0)
    evidence.push({ text: `every chart repository and hub in use publishes ${targets(path).join(', ')}` });
  const never = [...findings.values()].filter((f) => f.notPublished.length > 0);
  const gone = retiredOn(runDate)
    ? [
        ...[...findings.values()]
          .filter((f) => f.notPublished.length === 0)
          .map((f) => f.where.replace(/ \(.*\)/, '')),
        ...notes
          .filter((e) => e.status === 'fail')
          .map((e) => `the ${(e.text.split(':')[0] ?? '').replace(/^Istio /, '')} chart default hub`),
      ]
    : [];
  const failParts: string[] = [];
  if (never.length > 0)
    failParts.push(
      `${never.length} reference${never.length > 1 ? 's point' : ' points'} at a host that never published ${[...new Set(never.flatMap((f) => f.notPublished))].join(', ')}: ${never.map((f) => f.where.replace(/ \(.*\)/, '')).join(', ')}`,
    );
  if (gone.length > 0)
    failParts.push(
      `${gone.length} reference${gone.length > 1 ? 's point' : ' points'} at a host retired by the run date ${runDate} (Istio switches them off in December 2026; judged from ${HOSTS_RETIRED_FROM}): ${gone.join(', ')}`,
    );
  return result(
    'hosts',
    status,
    status === 'fail'
      ? failParts.join('; ')
      : status === 'warn'
        ? 'every version on the path is published where the profile and Applications point, but some of those hosts retire in December 2026 or a 1.30 hop needs a hub'
        : 'every chart repository and image hub publishes every version on the path',
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------
// 5. Values

interface ValuesSource {
  label: string;
  chart: Chart;
  values: Record<string, unknown>;
  /** Value files the plan did not read (Applications; gitops.ts). */
  unresolved?: GitopsApp['unresolvedValueFiles'];
  ignoreMissingValueFiles?: boolean;
  /** `helm.values` ignored because `helm.valuesObject` is set. */
  valuesIgnored?: boolean;
}

/** Lines about value files the plan did not read, and `values` Argo CD ignores. */
function valueFileEvidence(s: ValuesSource): Evidence[] {
  const out: Evidence[] = [];
  for (const u of s.unresolved ?? []) {
    if (u.reason === 'missing' && s.ignoreMissingValueFiles === true)
      out.push({
        text: `${s.label}: valueFiles ${u.file}: ${u.why}; skipped, as Argo CD skips it (helm.ignoreMissingValueFiles: true)`,
        source: 'argoproj/argo-cd@v3.5.1 reposerver/repository/repository.go getResolvedValueFiles',
      });
    else if (u.reason === 'missing')
      out.push({
        status: 'fail',
        text: `${s.label}: valueFiles ${u.file}: ${u.why}; Argo CD cannot render the Application (helm template is given a --values file that does not exist) unless helm.ignoreMissingValueFiles is true`,
        source: 'argoproj/argo-cd@v3.5.1 reposerver/repository/repository.go getResolvedValueFiles',
      });
    else
      out.push({
        status: 'not-run',
        text: `${s.label}: valueFiles ${u.file}: ${u.why}; the keys it sets are not checked`,
      });
  }
  if (s.valuesIgnored === true)
    out.push({
      status: 'warn',
      text: `${s.label}: helm.values is ignored: helm.valuesObject is set, and Argo CD passes valuesObject instead of values`,
      source:
        'argoproj/argo-cd@v3.5.1 pkg/apis/application/v1alpha1/values.go ValuesYAML; docs/user-guide/helm.md ("valuesObject trumps values")',
    });
  return out;
}

export function checkValues(
  path: readonly string[],
  sources: readonly ValuesSource[],
  facts: ChartFacts,
): CheckResult {
  const evidence: Evidence[] = [];
  const statuses: Status[] = [];
  const missingVersions = new Set<string>();
  const missing = new Map<string, string[]>();
  for (const v of targets(path)) {
    for (const s of sources) {
      const keyCount = countKeys(s.values);
      if (keyCount === 0) continue;
      const f = facts.keys(s.chart, v);
      if ('missing' in f) {
        missingVersions.add(v);
        const key = `${v}: ${f.missing}`;
        missing.set(key, [...(missing.get(key) ?? []), s.label]);
        continue;
      }
      const unknown = unknownKeys(s.values, f.inventory);
      if (unknown.length === 0) {
        evidence.push({
          text: `${s.label} at ${v}: all ${keyCount} keys are read by the ${s.chart} chart`,
          source: f.source,
        });
        continue;
      }
      statuses.push('fail');
      for (const u of unknown)
        evidence.push({
          status: 'fail',
          text: `${s.label} at ${v}: ${u.key}: ${u.why}${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ''}; Helm ignores it without a word`,
          source: f.source,
        });
    }
  }
  for (const [why, labels] of missing)
    evidence.push({ status: 'not-run', text: `not checked at ${why} (${labels.join('; ')})` });
  const fileLines = sources.flatMap(valueFileEvidence);
  evidence.push(...fileLines);
  if (sources.every((s) => countKeys(s.values) === 0) && fileLines.length === 0)
    return result('values', 'pass', 'no values are set, so there is no key to check', [
      { text: 'every release uses the chart defaults' },
    ]);
  const failed = statuses.includes('fail');
  const fileFail = fileLines.filter((e) => e.status === 'fail');
  const fileWarn = fileLines.filter((e) => e.status === 'warn');
  const fileNotRun = fileLines.filter((e) => e.status === 'not-run');
  const status: Status = worst([
    failed ? 'fail' : 'pass',
    ...fileLines.map((e) => e.status ?? 'pass'),
    missingVersions.size > 0 ? 'not-run' : 'pass',
  ]);
  const parts: string[] = [];
  if (failed)
    parts.push(
      `some values keys are read by no template of the target chart: ${evidence
        .filter((e) => e.status === 'fail' && !fileFail.includes(e))
        .map((e) => e.text.split(':').slice(0, 2).join(':'))
        .join('; ')}`,
    );
  if (fileFail.length > 0)
    parts.push(
      `a value file is missing, so Argo CD cannot render ${fileFail.map((e) => e.text.split(':')[0]).join(', ')}`,
    );
  if (fileWarn.length > 0)
    parts.push(`Argo CD ignores helm.values of ${fileWarn.map((e) => e.text.split(':')[0]).join(', ')}`);
  if (fileNotRun.length > 0)
    parts.push(
      `values of ${[...new Set(fileNotRun.map((e) => e.text.split(':')[0]))].join(', ')} come partly from files the plan cannot read`,
    );
  if (missingVersions.size > 0) {
    const list = [...missingVersions];
    const checked = targets(path).filter((v) => !missingVersions.has(v));
    parts.push(
      `could not run for ${list.join(', ')}: no key inventory of ${list.length > 1 ? 'their' : 'its'} charts (recorded for the istio/istio mirror's tags; on a machine with Helm and the network the plan fetches the charts)${checked.length > 0 ? `; checked at ${checked.join(', ')} only` : ''}`,
    );
  }
  return result(
    'values',
    status,
    parts.length > 0
      ? parts.join('; ')
      : `every values key is read by the charts at every version on the path`,
    evidence,
  );
}

function countKeys(values: unknown): number {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return 0;
  return Object.values(values as Record<string, unknown>).reduce<number>(
    (n, v: unknown) =>
      n +
      (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
        ? countKeys(v)
        : 1),
    0,
  );
}

// ---------------------------------------------------------------------------------------------
// 6. Behaviour

/** excludeNamespaces of a cni release's values (the chart copies `cni.*` over the top level). */
export function cniExcluded(values: Record<string, unknown>): string[] {
  const cni = values.cni;
  const list = (cni !== null && typeof cni === 'object'
    ? (cni as Record<string, unknown>).excludeNamespaces
    : undefined) ??
    values.excludeNamespaces ?? ['kube-system'];
  return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : [];
}

export function checkBehaviour(
  path: readonly string[],
  meshed: readonly string[],
  cniValues: readonly { label: string; values: Record<string, unknown> }[],
): CheckResult {
  const from = path[0] ?? '';
  const to = path.at(-1) ?? '';
  const after = path.slice(1);
  // Crossed: A lacks it and a version after A has it (B, or only a stop: the 1.30 default hub).
  const crossing = BEHAVIOUR_CHANGES.filter((c) => !hasChange(from, c) && after.some((v) => hasChange(v, c)));
  const evidence: Evidence[] = crossing.map((c) => {
    const atB = hasChange(to, c);
    const stops = after.filter((v) => hasChange(v, c));
    return {
      text: `${c.component} (since ${describeSince(c, from)}): ${c.summary}. ${c.effect}${c.compatibility ? ` (compatibilityVersion=${c.compatibility} keeps the old default)` : ''}${atB ? '' : ` (at ${stops.join(', ')} only; ${to} lacks it)`}`,
      source: c.source,
    };
  });
  let status: Status = 'pass';
  // Lost: a hop to a patch older than its minor's backport gives up a change the previous
  // version had (1.28.5 → 1.29.0 and the XDS debug authentication). A minor that never has the
  // change (the 1.30 default hub in 1.31) is not a loss: the line above says where it applies.
  const lostHops: string[] = [];
  for (let i = 1; i < path.length; i++) {
    const prev = path[i - 1] ?? '';
    const next = path[i] ?? '';
    const firsts: string[] = [];
    const ids: string[] = [];
    for (const c of changesLost(prev, next)) {
      const first = firstPatchWith(c, next);
      if (first === undefined) continue;
      firsts.push(first);
      ids.push(c.id);
      evidence.push({
        status: 'warn',
        text: `${prev} → ${next} loses a change ${prev} has: ${c.summary} (${minorKey(next)} has it only from ${first}; since ${describeSince(c, prev)}). Take ${first} or newer for that stop`,
        source: c.source,
      });
    }
    if (ids.length > 0) {
      status = worst([status, 'warn']);
      const newest = firsts.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
      lostHops.push(
        `${prev} → ${next} loses ${ids.join(', ')} (${minorKey(next)} has ${ids.length > 1 ? 'them' : 'it'} from ${newest})`,
      );
    }
  }
  if (hasChange(to, 'cni-agent-exclude-namespaces') && !hasChange(from, 'cni-agent-exclude-namespaces')) {
    const excludeChange = BEHAVIOUR_CHANGES.find((b) => b.id === 'cni-agent-exclude-namespaces');
    for (const c of cniValues) {
      const excluded = cniExcluded(c.values);
      const hit = meshed.filter((n) => excluded.includes(n));
      if (hit.length > 0) {
        status = 'fail';
        evidence.push({
          status: 'fail',
          text: `${c.label}: excludeNamespaces (${excluded.join(', ')}) lists the meshed namespace${hit.length > 1 ? 's' : ''} ${hit.join(', ')}: from ${(excludeChange && firstPatchWith(excludeChange, to)) ?? '1.30.0'} the CNI agent un-enrolls ${hit.length > 1 ? 'their' : 'its'} pods at the CNI upgrade`,
          source: 'istio/istio@1.30.0 releasenotes/notes/59295.yaml',
        });
      }
    }
  }
  const compat = [
    ...new Set(crossing.filter((c) => c.compatibility !== undefined).map((c) => c.compatibility)),
  ];
  if (compat.length > 0)
    evidence.push({
      text: `to keep ${minorKey(from)}'s defaults for a while, set compatibilityVersion: ${minorKey(from)} on istiod and the CNI at ${to} (charts ship files/profile-compatibility-version-<minor>.yaml)`,
      source: 'istio/istio@1.30.3 manifests/charts/*/files/profile-compatibility-version-1.28.yaml',
    });
  return result(
    'behaviour',
    status,
    status === 'fail'
      ? 'a meshed namespace is in the CNI’s excludeNamespaces: its pods leave the mesh when the CNI reaches 1.30'
      : status === 'warn'
        ? `${crossing.length} behaviour change${crossing.length === 1 ? '' : 's'} between ${from} and ${to}, and a hop lands on a patch older than its minor's backport: ${lostHops.join('; ')}`
        : `${crossing.length} behaviour change${crossing.length === 1 ? '' : 's'} between ${from} and ${to}; none breaks this setup by itself`,
    evidence,
  );
}

// ---------------------------------------------------------------------------------------------
// 7. GitOps

function inChartOrder(apps: readonly GitopsApp[]): GitopsApp[] {
  return [...apps].sort((a, b) => CHART_ORDER.indexOf(a.chart) - CHART_ORDER.indexOf(b.chart));
}

export function checkWaves(
  apps: readonly GitopsApp[],
  skipped: readonly { path: string; why: string }[] = [],
): CheckResult {
  const evidence: Evidence[] = [];
  const SHOWN_SKIPPED = 20;
  for (const sk of skipped.slice(0, SHOWN_SKIPPED))
    evidence.push({ text: `--gitops: skipped ${sk.path}: ${sk.why}` });
  if (skipped.length > SHOWN_SKIPPED)
    evidence.push({
      text: `--gitops: skipped ${skipped.length - SHOWN_SKIPPED} more symbolic links or deep folders`,
    });
  const present = CHART_ORDER.map((c) => apps.find((a) => a.chart === c)).filter(
    (a): a is GitopsApp => a !== undefined,
  );
  for (const a of present) evidence.push({ text: `${a.name} (${a.chart}, ${a.file}): wave ${a.wave}` });
  const missing = CHART_ORDER.filter((c) => !apps.some((a) => a.chart === c));
  let status: Status = 'pass';
  for (let i = 1; i < present.length; i++) {
    const prev = present[i - 1] as GitopsApp;
    const cur = present[i] as GitopsApp;
    if (cur.wave <= prev.wave) {
      status = 'fail';
      evidence.push({
        status: 'fail',
        text: `${cur.name} (${cur.chart}, wave ${cur.wave}) is not after ${prev.name} (${prev.chart}, wave ${prev.wave})`,
        source: 'istio.io docs/ambient/upgrade/helm: base, then istiod, then the CNI, then ztunnel',
      });
    }
  }
  if (missing.length > 0) {
    status = worst([status, 'warn']);
    evidence.push({
      status: 'warn',
      text: `no Application deploys ${missing.join(', ')}: the plan cannot order or stage ${missing.length > 1 ? 'them' : 'it'}`,
    });
  }
  evidence.push({
    text: 'waves order resources within one sync; across Applications they order children of an app-of-apps, which by default does not wait for a child’s health',
    source:
      'argoproj/argo-cd@v3.5.1 docs/user-guide/sync-waves.md; docs/operator-manual/health.md (Application health)',
  });
  return result(
    'gitops-waves',
    status,
    status === 'fail'
      ? 'the sync waves do not order base < istiod < cni < ztunnel'
      : status === 'warn'
        ? 'the waves that exist are in order, but an Istio chart has no Application'
        : 'the sync waves order base < istiod < cni < ztunnel',
    evidence,
  );
}

const EXACT = /^\d+\.\d+\.\d+(?:-(?:alpha|beta|rc)\.\d+)?$/;

export function checkStaging(choice: PathChoice, apps: readonly GitopsApp[]): CheckResult {
  const from = choice.path[0] ?? '';
  const evidence: Evidence[] = [];
  const statuses: Status[] = [];
  const nonExact = apps.filter((a) => !EXACT.test(a.targetRevision));
  for (const a of nonExact) {
    statuses.push('warn');
    evidence.push({
      status: 'warn',
      text: `${a.name}: targetRevision ${JSON.stringify(a.targetRevision)} is not an exact version; Argo CD resolves it to the newest matching chart, so a hop is not one reviewed commit`,
      source: 'argoproj/argo-cd@v3.5.1 docs/user-guide/helm.md (targetRevision may be a semver range)',
    });
  }
  const exact = inChartOrder(apps).filter((a) => EXACT.test(a.targetRevision));
  for (const a of exact)
    evidence.push({ text: `${a.name} (${a.chart}): targetRevision ${a.targetRevision}` });
  // The manifests are the installed state the plan stages from: one older than --from means
  // --from (or the folder) is wrong, which is not a bump and must not read as one.
  const behind = exact.filter((a) => compareVersions(a.targetRevision, from) < 0);
  if (behind.length > 0) {
    statuses.push('fail');
    const pins = [...new Set(behind.map((a) => a.targetRevision))];
    evidence.push({
      status: 'fail',
      text: `the manifests disagree with --from ${from}: ${behind.map((a) => `${a.name} pins ${a.targetRevision}`).join(', ')}, older than --from; either the installed version is ${pins.join(' or ')} (plan with --from ${pins[0] ?? ''}), or the folder is not what is deployed`,
    });
  }
  const bumped = exact.filter((a) => compareVersions(a.targetRevision, from) > 0);
  const firstHop = choice.hops[0];
  if (bumped.length === 0) {
    if (behind.length === 0)
      evidence.push({
        text: `no Application is bumped yet: the plan below bumps one Application per commit and waits for it to be Synced and Healthy`,
      });
  } else if (bumped.length > 1) {
    statuses.push('fail');
    evidence.push({
      status: 'fail',
      text: `${bumped.map((a) => `${a.name} → ${a.targetRevision}`).join(', ')} change in one step: Argo CD syncs them without waiting for istiod before the CNI and ztunnel (istio/istio#53843: all charts bumped at once, new pods failed with "no ztunnel connection")`,
      source:
        'istio.io docs/ambient/upgrade/helm (istiod before istio-cni and ztunnel, one minor apart); istio/istio#53843',
    });
  } else {
    const a = bumped[0] as GitopsApp;
    const expected = firstHop?.steps[0];
    const skipsMinor = minorDistance(parseVersion(from), parseVersion(a.targetRevision)) > 1;
    if (skipsMinor) {
      statuses.push('fail');
      evidence.push({
        status: 'fail',
        text: `${a.name} → ${a.targetRevision} skips a minor from ${from}; legal path: ${describePath(choice.legal)}`,
      });
    } else if (expected && a.chart !== expected.chart) {
      statuses.push('fail');
      evidence.push({
        status: 'fail',
        text: `${a.name} (${a.chart}) is bumped first, but a hop starts with ${expected.chart}${a.chart === 'cni' || a.chart === 'ztunnel' ? ': the data plane would be ahead of istiod' : ''}`,
      });
    } else {
      evidence.push({ text: `${a.name} → ${a.targetRevision} is the first step of the first hop` });
    }
  }
  const status = worst(statuses);
  const fails = evidence.filter((e) => e.status === 'fail');
  return result(
    'gitops-staging',
    status,
    status === 'fail'
      ? behind.length > 0 && fails.length === 1
        ? `the manifests disagree with --from ${from}: ${behind.length === exact.length ? 'every' : 'an'} Application pins an older version (${[...new Set(behind.map((a) => a.targetRevision))].join(', ')}), so there is nothing to stage from ${from}`
        : `the Applications as given do not stage the upgrade one Application at a time: ${fails
            .map((e) => e.text.split(':')[0])
            .join('; ')}`
      : status === 'warn'
        ? 'the Applications can be staged, but a targetRevision is not exact'
        : `each hop bumps one Application at a time, in chart order (${choice.hops.length * 4} commits in all)`,
    evidence,
  );
}

export function checkIgnore(
  choice: PathChoice,
  apps: readonly GitopsApp[],
  facts: ChartFacts,
  jq: Jq,
): CheckResult {
  const evidence: Evidence[] = [];
  const statuses: Status[] = [];
  const notRun = new Map<string, string[]>();
  const hopsNotRun = new Set<string>();
  const reasons = new Set<string>();
  for (const app of inChartOrder(apps)) {
    if (app.ignoreDifferences.length === 0) continue;
    const respect = syncOption(app, 'RespectIgnoreDifferences');
    for (const rule of app.ignoreDifferences) {
      for (const expr of rule.jqPathExpressions) {
        const err = jqCompileError(jq, expr);
        if (err !== undefined) {
          statuses.push('fail');
          evidence.push({
            status: 'fail',
            text: `${app.name}: jqPathExpression ${JSON.stringify(expr)} does not compile as del(${expr}): ${err}; Argo CD cannot build the normalizer`,
            source: 'argoproj/argo-cd@v3.5.1 util/argo/normalizers/diff_normalizer.go NewIgnoreNormalizer',
          });
        }
      }
      if (rule.managedFieldsManagers.length > 0)
        evidence.push({
          status: 'not-run',
          text: `${app.name}: managedFieldsManagers ${rule.managedFieldsManagers.join(', ')} on ${rule.kind}: hides whatever those managers own in the live objects; not evaluated offline (needs live managedFields)`,
          source: 'argoproj/argo-cd@v3.5.1 util/argo/managedfields/managed_fields.go',
        });
    }
    const request: RenderRequest = {
      chart: app.chart,
      release: app.releaseName,
      namespace: app.namespace,
      values: app.values,
    };
    for (const hop of choice.hops) {
      const before = facts.render(request, hop.from);
      const after = facts.render(request, hop.to);
      if ('missing' in before || 'missing' in after) {
        const why = ['missing' in before ? hop.from : undefined, 'missing' in after ? hop.to : undefined]
          .filter(Boolean)
          .join(' and ');
        hopsNotRun.add(`${hop.from} → ${hop.to}`);
        const key = `${hop.from} → ${hop.to}: no render of ${why}`;
        notRun.set(key, [...(notRun.get(key) ?? []), app.name]);
        continue;
      }
      const r = maskedChanges(jq, app.ignoreDifferences, before.objects, after.objects);
      for (const s of r.skipped)
        evidence.push({ text: `${app.name}: a patch failed and was skipped (as Argo CD skips it): ${s}` });
      if (r.masked.length === 0) {
        evidence.push({
          text: `${app.name} ${hop.from} → ${hop.to}: no change of the ${r.compared} objects is hidden by its rules`,
          source: after.source,
        });
        continue;
      }
      const s: Status = respect ? 'fail' : 'warn';
      statuses.push(s);
      for (const m of groupMasked(r.masked))
        evidence.push({
          status: s,
          text: `${app.name} ${hop.from} → ${hop.to}: ${m.object} ${m.path}: ${show(m.before)} → ${show(m.after)} is hidden by ${m.hiddenBy.join(', ') || 'the rules together'}${respect ? '; with RespectIgnoreDifferences=true the sync keeps the live value, so it is never applied' : '; the sync applies it, but the diff never shows it'}`,
          source:
            'argoproj/argo-cd@v3.5.1 controller/sync.go normalizeTargetResources; util/argo/normalizers/diff_normalizer.go',
        });
    }
  }
  for (const [what, names] of notRun)
    evidence.push({ status: 'not-run', text: `${what} (${names.join(', ')}): not evaluated` });
  // Versions without a render of an Application that has rules, in path order (the summary names exactly these).
  const unrendered: string[] = [];
  for (const app of apps.filter((a) => a.ignoreDifferences.length > 0))
    for (const v of choice.path) {
      const r = facts.render(
        { chart: app.chart, release: app.releaseName, namespace: app.namespace, values: app.values },
        v,
      );
      if (!('missing' in r)) continue;
      reasons.add(r.missing.replace(/^no render of \S+ /, 'no render at '));
      if (!unrendered.includes(v)) unrendered.push(v);
    }
  unrendered.sort(compareVersions);
  for (const why of reasons) evidence.push({ status: 'not-run', text: why });
  if (apps.every((a) => a.ignoreDifferences.length === 0))
    return result('gitops-ignore', 'pass', 'no Application has ignoreDifferences', [
      { text: 'nothing to evaluate' },
    ]);
  const failed = worst(statuses);
  const status: Status = failed !== 'pass' ? failed : hopsNotRun.size > 0 ? 'not-run' : 'pass';
  return result(
    'gitops-ignore',
    status,
    status === 'fail'
      ? 'ignoreDifferences hide changes the new charts make, and RespectIgnoreDifferences=true keeps them from ever being applied'
      : status === 'warn'
        ? 'ignoreDifferences hide changes the new charts make from the diff'
        : status === 'not-run'
          ? `could not run for ${unrendered.join(', ')}: no render of ${unrendered.length > 1 ? 'their' : 'its'} charts, so ${hopsNotRun.size === choice.hops.length ? 'no hop' : `${hopsNotRun.size} of ${choice.hops.length} hops`} could be evaluated (renders are recorded for the istio/istio mirror's tags; on a machine with Helm and the network the plan renders them)`
          : 'no rule hides a change the charts make on the path',
    evidence,
  );
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  const t = JSON.stringify(v);
  return t.length > 80 ? `${t.slice(0, 77)}…` : t;
}

/** Masked changes, one line per object and path. */
function groupMasked(list: readonly MaskedChange[]): MaskedChange[] {
  return list.slice(0, 50);
}

// ---------------------------------------------------------------------------------------------

/** Every check, in the issue's order, and the verdict. */
export function buildPlanReport(inputs: PlanInputs): UpgradePlanReport {
  const choice = choosePath(inputs.from, inputs.to, {
    ...(inputs.via ? { via: inputs.via } : {}),
    ...(inputs.direct ? { direct: true } : {}),
  });
  const apps = inputs.gitops?.apps;
  const checks: CheckResult[] = [
    checkHops(choice),
    checkKubernetes(choice.path, inputs.profile.nodeImage, inputs.pinnedKind),
    checkReleases(choice.path, inputs.runDate),
    checkHosts(choice.path, inputs.profile, apps, inputs.runDate),
    checkValues(
      choice.path,
      [
        ...inputs.profile.releases.map((r) => ({
          label: `profile release ${r.name}${r.valuesFile ? ` (${r.valuesFile})` : ''}`,
          chart: r.chart,
          values: r.values,
        })),
        ...(apps ?? []).map((a) => ({
          label: `Application ${a.name}${a.valuesFrom.length ? ` (${a.valuesFrom.join(', ')})` : ''}`,
          chart: a.chart,
          values: a.values,
          unresolved: a.unresolvedValueFiles,
          ignoreMissingValueFiles: a.ignoreMissingValueFiles,
          ...(a.valuesIgnored ? { valuesIgnored: true } : {}),
        })),
      ],
      inputs.facts,
    ),
    checkBehaviour(choice.path, inputs.profile.meshedNamespaces, [
      ...inputs.profile.releases
        .filter((r) => r.chart === 'cni')
        .map((r) => ({ label: `profile release ${r.name}`, values: r.values })),
      ...(apps ?? [])
        .filter((a) => a.chart === 'cni')
        .map((a) => ({ label: `Application ${a.name}`, values: a.values })),
    ]),
  ];
  if (apps) {
    if (!inputs.jq) throw new Error('buildPlanReport: jq is required with gitops');
    checks.push(
      checkWaves(apps, inputs.gitops?.skipped ?? []),
      checkStaging(choice, apps),
      checkIgnore(choice, apps, inputs.facts, inputs.jq),
    );
  }
  const steps: PlanStep[] = choice.hops.flatMap((hop, i) =>
    hop.steps.map((s) => {
      const app = apps?.find((a) => a.chart === s.chart);
      return {
        hop: i + 1,
        chart: s.chart,
        from: s.from,
        to: s.to,
        ...(app ? { application: app.name } : {}),
      };
    }),
  );
  const failed = checks.some((c) => c.status === 'fail');
  return {
    schema: 'ambient-conformance/upgrade-plan/v1',
    from: inputs.from,
    to: inputs.to,
    runDate: inputs.runDate,
    releaseTable: { asOf: RELEASE_TABLE_AS_OF, ageDays: daysBetween(RELEASE_TABLE_AS_OF, inputs.runDate) },
    profile: inputs.profile.file,
    ...(inputs.gitops ? { gitops: inputs.gitops.dir } : {}),
    path: choice.path,
    pathChosen: choice.chosen,
    legalPath: choice.legal,
    steps,
    checks,
    verdict: failed ? 'fails' : 'sound',
    exitCode: failed ? 1 : 0,
  };
}
