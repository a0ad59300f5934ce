/**
 * `ambient-conformance upgrade plan`: the offline checks of an Istio ambient upgrade A → B
 * (harness/upgrade/plan.ts), printed as Markdown or JSON. Loaded by cli/main.ts only when the
 * command runs. Exit 0 when the path is sound, 1 when a check fails, 2 on bad input.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { clip, UserInputError } from '../harness/errors.ts';
import { readUserFile, USER_FILE_MAX_BYTES } from '../harness/files.ts';
import { istioVersionProblem } from '../harness/istio/versions.ts';
import { PINS } from '../harness/pins.ts';
import { displayPath, type Profile } from '../harness/profile/core.ts';
import { loadProfileQuick } from '../harness/profile/quick.ts';
import { resolveTimeouts } from '../harness/timeouts.ts';
import type { GitopsApp } from '../harness/upgrade/gitops.ts';
import { choosePath, type Chart } from '../harness/upgrade/hops.ts';
import type { PlanProfile } from '../harness/upgrade/plan.ts';
import type { RenderRequest } from '../harness/upgrade/recorded.ts';
import { compareVersions, parseVersion } from '../harness/upgrade/version.ts';

export interface UpgradePlanFlags {
  from?: string;
  to?: string;
  via?: string[];
  direct?: boolean;
  profile?: string;
  gitops?: string;
  json?: boolean;
  offline?: boolean;
  date?: string;
}

/** Most files a --gitops folder may hold (a repository checkout, not a disk). */
const GITOPS_MAX_FILES = 5000;

function checkVersion(flag: string, value: string | undefined): string {
  if (value === undefined)
    throw new UserInputError(`${flag} is required`, {
      expected: 'an Istio version such as 1.31.1',
      seen: 'nothing',
    });
  const problem = istioVersionProblem(value);
  if (problem !== undefined)
    throw new UserInputError(
      `${flag} ${JSON.stringify(clip(value, 80))} is not an Istio version${problem.known ? '' : ' this tool knows'}`,
      {
        expected: problem.expected,
        seen: problem.seen,
        ...(problem.fix === undefined ? {} : { fix: problem.fix }),
      },
    );
  return value;
}

/** The run date: --date (YYYY-MM-DD) or today (UTC). */
function runDate(flag: string | undefined): string {
  if (flag === undefined) return new Date().toISOString().slice(0, 10);
  const t = /^\d{4}-\d{2}-\d{2}$/.test(flag) ? Date.parse(`${flag}T00:00:00Z`) : NaN;
  const valid = !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === flag;
  if (!valid)
    throw new UserInputError(`--date ${JSON.stringify(clip(flag, 40))} is not a date`, {
      expected: 'a calendar date YYYY-MM-DD, e.g. 2026-11-30',
      seen: clip(flag, 40),
    });
  return flag;
}

/** The versions, checked: each a known Istio version, --from before --to, --via in between. */
export function checkPathFlags(
  flags: UpgradePlanFlags,
  profileVersion: string,
): { from: string; to: string; via?: string[] } {
  const to = checkVersion('--to', flags.to);
  const from = checkVersion('--from', flags.from ?? profileVersion);
  if (parseVersion(from).major !== parseVersion(to).major)
    throw new UserInputError(`--from ${from} and --to ${to} are of different major versions`, {
      expected: 'an upgrade within Istio 1.x',
      seen: `${from} → ${to}`,
    });
  if (compareVersions(from, to) >= 0)
    throw new UserInputError(
      `--from ${from}${flags.from === undefined ? ' (the profile’s istio.version)' : ''} is not older than --to ${to}`,
      {
        expected: '--from the installed version, --to a newer one (a downgrade is not planned)',
        seen: `${from} → ${to}`,
        fix: compareVersions(from, to) > 0 ? `swap them: --from ${to} --to ${from}` : 'name a newer --to',
      },
    );
  if (flags.via !== undefined && flags.direct)
    throw new UserInputError('--via and --direct exclude each other', {
      expected: 'stops with --via, or one hop with --direct',
      seen: 'both',
    });
  if (flags.via === undefined) return { from, to };
  const via = flags.via.map((v) => checkVersion('--via', v));
  let prev = from;
  for (const v of via) {
    if (compareVersions(prev, v) >= 0 || compareVersions(v, to) >= 0)
      throw new UserInputError(`--via ${via.join(',')}: ${v} is not between ${prev} and ${to}`, {
        expected: `versions in increasing order, each newer than --from ${from} and older than --to ${to}`,
        seen: via.join(', '),
      });
    prev = v;
  }
  return { from, to, via };
}

/** Files of a --gitops folder (YAML and JSON), relative paths → text. */
export function readGitopsFolder(dir: string): { root: string; files: Map<string, string> } {
  const root = path.resolve(dir);
  if (dir === '' || !existsSync(root))
    throw new UserInputError(`--gitops ${dir === '' ? '(empty)' : dir}: no such folder`, {
      expected: 'a folder with Argo CD Application manifests (a checkout of the GitOps repository)',
      seen: dir === '' ? 'an empty value' : 'nothing at that path',
    });
  if (!statSync(root).isDirectory())
    throw new UserInputError(`--gitops ${dir}: not a folder`, {
      expected: 'a folder with Argo CD Application manifests',
      seen: 'a file',
      fix: `pass its folder: --gitops ${path.dirname(dir)}`,
    });
  const files = new Map<string, string>();
  const walk = (d: string, depth: number) => {
    if (depth > 20) return;
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p, depth + 1);
      else if (entry.isFile() && /\.(ya?ml|json)$/i.test(entry.name)) {
        if (files.size >= GITOPS_MAX_FILES)
          throw new UserInputError(`--gitops ${dir}: more than ${GITOPS_MAX_FILES} YAML and JSON files`, {
            expected: 'the folder of the Istio Applications, not a whole disk',
            seen: `over ${GITOPS_MAX_FILES} files`,
          });
        files.set(path.relative(root, p), readUserFile(p, 'GitOps manifest', USER_FILE_MAX_BYTES));
      }
    }
  };
  walk(root, 0);
  return { root, files };
}

function planProfile(profile: Profile): PlanProfile {
  return {
    name: profile.doc.metadata.name,
    file: displayPath(profile.source),
    chartRepository: profile.doc.istio.chartRepository,
    nodeImage: profile.doc.cluster.kind.nodeImage,
    meshedNamespaces: profile.doc.mesh.meshedNamespaces,
    releases: profile.releases.map((r) => ({
      name: r.name,
      chart: r.chart,
      values: r.effectiveValues,
      ...(r.valuesPath === undefined ? {} : { valuesFile: displayPath(r.valuesPath) }),
    })),
  };
}

/** Whether helm is on PATH (the plan never downloads it). */
async function helmOnPath(timeoutMs: number): Promise<string | undefined> {
  const { resolveTool } = await import('../harness/tools.ts');
  const helm = await resolveTool('helm', { timeoutMs });
  return helm.source === 'download' ? undefined : helm.path;
}

export async function upgradePlanCommand(flags: UpgradePlanFlags): Promise<number> {
  const date = runDate(flags.date);
  // The versions first (naming the flag), before the profile is read.
  if (flags.to !== undefined) checkVersion('--to', flags.to);
  if (flags.from !== undefined) checkVersion('--from', flags.from);
  const profile = await loadProfileQuick(
    flags.profile,
    flags.from === undefined ? {} : { istioVersion: flags.from },
  );
  const { from, to, via } = checkPathFlags(flags, profile.doc.istio.version);

  let gitops: { dir: string; apps: GitopsApp[] } | undefined;
  if (flags.gitops !== undefined) {
    const { root, files } = readGitopsFolder(flags.gitops);
    const { parseGitops } = await import('../harness/upgrade/gitops.ts');
    const apps = parseGitops({
      dir: flags.gitops,
      files,
      readValuesFile: (rel) => {
        const p = path.resolve(root, rel);
        if (!p.startsWith(`${root}${path.sep}`) || !existsSync(p)) return undefined;
        return readUserFile(p, 'Helm values file', USER_FILE_MAX_BYTES);
      },
    });
    gitops = { dir: displayPath(root), apps };
  }

  const choice = choosePath(from, to, { ...(via ? { via } : {}), ...(flags.direct ? { direct: true } : {}) });
  const plan = planProfile(profile);
  const timeouts = resolveTimeouts(profile.doc.timeouts);
  const { ChartFactsStore } = await import('../harness/upgrade/chart-facts.ts');
  const helm = flags.offline ? undefined : await helmOnPath(timeouts.preflight);
  const facts = new ChartFactsStore({
    offline: flags.offline === true,
    repository: profile.doc.istio.chartRepository,
    ...(helm === undefined ? {} : { helm }),
    kubeVersion: profile.kubernetesVersion,
    timeoutMs: timeouts.helmInstall,
  });
  const versions = choice.path.slice(1);
  const charts = new Set<Chart>([
    ...plan.releases.map((r) => r.chart),
    ...(gitops?.apps ?? []).map((a) => a.chart),
  ]);
  const renders: { request: RenderRequest; version: string }[] = [];
  for (const app of gitops?.apps ?? [])
    if (app.ignoreDifferences.length > 0)
      for (const v of choice.path)
        renders.push({
          request: {
            chart: app.chart,
            release: app.releaseName,
            namespace: app.namespace,
            values: app.values,
          },
          version: v,
        });
  await facts.prefetch(
    versions.flatMap((version) => [...charts].map((chart) => ({ chart, version }))),
    renders,
  );

  const [{ buildPlanReport }, { renderJson, renderMarkdown }] = await Promise.all([
    import('../harness/upgrade/plan.ts'),
    import('../harness/upgrade/report.ts'),
  ]);
  const jq = gitops ? await (await import('../harness/upgrade/ignore.ts')).loadJq() : undefined;
  const report = buildPlanReport({
    from,
    to,
    ...(via ? { via } : {}),
    ...(flags.direct ? { direct: true } : {}),
    runDate: date,
    profile: plan,
    pinnedKind: PINS.kind.version,
    ...(gitops ? { gitops } : {}),
    facts,
    ...(jq ? { jq } : {}),
  });
  process.stdout.write(flags.json ? renderJson(report) : renderMarkdown(report));
  return report.exitCode;
}

export interface UpgradeMatrixFlags {
  json?: boolean;
  cells?: string[];
  profileFor?: string;
  date?: string;
}

/**
 * `upgrade matrix`: the version matrix cells (harness/upgrade/matrix.ts) as JSON for the workflow's
 * `strategy.matrix`, or as a table; `--profile-for <cell>` prints the embedded profile for that
 * cell (to be written next to it, profiles/homelab/).
 */
export async function upgradeMatrixCommand(flags: UpgradeMatrixFlags): Promise<number> {
  const { versionMatrix, profileForCell } = await import('../harness/upgrade/matrix.ts');
  const all = versionMatrix(runDate(flags.date));
  const unknown = (flags.cells ?? []).filter((id) => !all.some((c) => c.id === id));
  if (unknown.length > 0)
    throw new UserInputError(
      `--cells: ${clip(unknown.join(', '), 200)} ${unknown.length > 1 ? 'are not cells' : 'is not a cell'} of the matrix`,
      {
        expected: `cells of ${all.map((c) => c.id).join(', ')}`,
        seen: clip(unknown.join(', '), 200),
      },
    );
  const cells = flags.cells && flags.cells.length > 0 ? all.filter((c) => flags.cells?.includes(c.id)) : all;
  if (flags.profileFor !== undefined) {
    const cell = cells.find((c) => c.id === flags.profileFor);
    if (!cell)
      throw new UserInputError(
        `--profile-for ${JSON.stringify(clip(flags.profileFor, 80))} is not a cell of the matrix`,
        {
          expected: `one of ${cells.map((c) => c.id).join(', ')}`,
          seen: clip(flags.profileFor, 80),
        },
      );
    const { EMBEDDED_PROFILE } = await import('../harness/profile/core.ts');
    process.stdout.write(await profileForCell(readUserFile(EMBEDDED_PROFILE, 'profile'), cell));
    return 0;
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ include: cells })}\n`);
    return 0;
  }
  for (const c of cells)
    process.stdout.write(
      `${c.id}: kind ${c.kind}, ${c.nodeImage}${c.unverified ? ` (unverified: ${c.unverified})` : ''}; --only ${c.only}${c.hub ? `; global.hub=${c.hub}` : ''}; expects ${c.expectations.map((e) => `${e.name}=${e.value}`).join(', ')}\n`,
    );
  return 0;
}
