/**
 * `ambient-conformance upgrade plan`: the offline checks of an Istio ambient upgrade A → B
 * (harness/upgrade/plan.ts), printed as Markdown or JSON. Loaded by cli/main.ts only when the
 * command runs. Exit 0 when the path is sound, 1 when a check fails, 2 on bad input.
 */
import { existsSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { clip, UserInputError } from '../harness/errors.ts';
import { readUserFile, USER_FILE_MAX_BYTES } from '../harness/files.ts';
import { istioVersionProblem } from '../harness/istio/versions.ts';
import { PINS } from '../harness/pins.ts';
import { displayPath, type Profile } from '../harness/profile/core.ts';
import { loadProfileQuick } from '../harness/profile/quick.ts';
import { resolveTimeouts } from '../harness/timeouts.ts';
import type { GitopsApp } from '../harness/upgrade/gitops.ts';
import type { Jq } from '../harness/upgrade/ignore.ts';
import { choosePath, type Chart } from '../harness/upgrade/hops.ts';
import type { PlanProfile } from '../harness/upgrade/plan.ts';
import type { RenderRequest } from '../harness/upgrade/recorded.ts';
import { MINOR_RELEASES } from '../harness/upgrade/releases.ts';
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

/** Longest version this tool reads, and most digits in one of its numbers (Istio's are two). */
const VERSION_MAX_CHARS = 40;
const VERSION_NUMBER_MAX_DIGITS = 4;

function checkVersion(flag: string, value: string | undefined): string {
  if (value === undefined)
    throw new UserInputError(`${flag} is required`, {
      expected: 'an Istio version such as 1.31.1',
      seen: 'nothing',
    });
  const long = value.length > VERSION_MAX_CHARS;
  const bigNumber = /^\d+\.\d+\.\d+/.test(value)
    ? (/^(\d+)\.(\d+)\.(\d+)/.exec(value) ?? []).slice(1).find((n) => n.length > VERSION_NUMBER_MAX_DIGITS)
    : undefined;
  if (long || bigNumber !== undefined)
    throw new UserInputError(`${flag} ${JSON.stringify(clip(value, 80))} is not an Istio version`, {
      expected: `an Istio version such as 1.31.1: at most ${VERSION_MAX_CHARS} characters, each number at most ${VERSION_NUMBER_MAX_DIGITS} digits`,
      seen: long
        ? `${value.length} characters`
        : `a number of ${bigNumber?.length ?? 0} digits (${clip(bigNumber ?? '', 20)})`,
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

/**
 * The earliest run date the plan judges: the oldest release date in the release table (1.28.0).
 * Before it, no version the table knows was published, so no verdict would mean anything.
 */
export const EARLIEST_RUN_DATE = Object.values(MINOR_RELEASES)
  .map((r) => r.released)
  .sort()[0] as string;

/** The run date: --date (YYYY-MM-DD, not before EARLIEST_RUN_DATE) or today (UTC). */
export function runDate(flag: string | undefined): string {
  if (flag === undefined) return new Date().toISOString().slice(0, 10);
  const t = /^\d{4}-\d{2}-\d{2}$/.test(flag) ? Date.parse(`${flag}T00:00:00Z`) : NaN;
  const valid = !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === flag;
  if (!valid)
    throw new UserInputError(`--date ${JSON.stringify(clip(flag, 40))} is not a date`, {
      expected: 'a calendar date YYYY-MM-DD, e.g. 2026-11-30',
      seen: flag === '' ? 'an empty value' : clip(flag, 40),
    });
  if (flag < EARLIEST_RUN_DATE)
    throw new UserInputError(`--date ${flag} is before the release table`, {
      expected: `a date on or after ${EARLIEST_RUN_DATE}, the first release date in the table (Istio 1.28.0; harness/upgrade/releases.ts)`,
      seen: flag,
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
  const shownVia = clip(via.join(', '));
  const dup = via.find((v, i) => via.indexOf(v) !== i);
  if (dup !== undefined)
    throw new UserInputError(`--via ${clip(dup, 80)} is given twice`, {
      expected: 'each stop once, in increasing order',
      seen: shownVia,
    });
  let prev = from;
  for (const v of via) {
    if (compareVersions(prev, v) >= 0 || compareVersions(v, to) >= 0)
      throw new UserInputError(`--via ${clip(via.join(','))}: ${v} is not between ${prev} and ${to}`, {
        expected: `versions in increasing order, each newer than --from ${from} and older than --to ${to}`,
        seen: shownVia,
      });
    prev = v;
  }
  return { from, to, via };
}

/** Deepest folder a --gitops walk enters (below the folder given). */
const GITOPS_MAX_DEPTH = 20;

/**
 * Kernel and device trees, refused as a --gitops folder and never walked into (the trees
 * harness/files.ts refuses to write to, for the same reason: nothing there is a manifest).
 */
const SPECIAL_TREES = ['/proc', '/sys', '/dev'];

function underTree(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/** A --gitops file or folder the walk did not read, and why (reported in the plan's evidence). */
export interface SkippedEntry {
  path: string;
  why: string;
}

/**
 * Files of a --gitops folder (YAML and JSON), relative paths → text, and what the walk skipped
 * (symbolic links, folders deeper than GITOPS_MAX_DEPTH). Refuses (exit 2) a folder that is
 * missing, not a folder, the filesystem root or a kernel tree, or holds a folder it cannot read.
 */
export function readGitopsFolder(dir: string): {
  root: string;
  files: Map<string, string>;
  skipped: SkippedEntry[];
} {
  const shown = dir === '' ? '(empty)' : clip(dir);
  const root = path.resolve(dir);
  if (dir === '' || !existsSync(root))
    throw new UserInputError(`--gitops ${shown}: no such folder`, {
      expected: 'a folder with Argo CD Application manifests (a checkout of the GitOps repository)',
      seen: dir === '' ? 'an empty value' : 'nothing at that path',
    });
  const unreadable = (folder: string, e: unknown) =>
    new UserInputError(`--gitops ${shown}: the folder ${clip(folder)} cannot be read`, {
      expected: 'a folder this user can list, with every folder under it readable',
      seen: (e as NodeJS.ErrnoException).code ?? String(e),
      fix: 'fix its permissions, or pass the folder of the Istio Applications only',
    });
  let real = root;
  try {
    if (!statSync(root).isDirectory())
      throw new UserInputError(`--gitops ${shown}: not a folder`, {
        expected: 'a folder with Argo CD Application manifests',
        seen: 'a file',
        fix: `pass its folder: --gitops ${clip(path.dirname(dir))}`,
      });
    real = realpathSync(root);
  } catch (e) {
    if (e instanceof UserInputError) throw e;
    throw unreadable(root, e);
  }
  const tree = SPECIAL_TREES.find((t) => underTree(real, t) || underTree(root, t));
  if (tree !== undefined || real === '/')
    throw new UserInputError(`--gitops ${shown}: not a folder of manifests`, {
      expected: 'the folder of the Istio Applications (a checkout of the GitOps repository)',
      seen:
        real === '/'
          ? 'the root of the filesystem'
          : `${clip(real)}, under ${tree ?? ''} (a kernel or device tree)`,
    });
  const files = new Map<string, string>();
  const skipped: SkippedEntry[] = [];
  const walk = (d: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      throw unreadable(d, e);
    }
    for (const entry of entries.sort((x, y) => x.name.localeCompare(y.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = path.join(d, entry.name);
      const rel = path.relative(root, p);
      if (entry.isSymbolicLink()) {
        if (/\.(ya?ml|json)$/i.test(entry.name) || statKind(p) === 'folder')
          skipped.push({ path: rel, why: 'a symbolic link (not followed)' });
      } else if (entry.isDirectory()) {
        if (depth >= GITOPS_MAX_DEPTH)
          skipped.push({ path: rel, why: `a folder deeper than ${GITOPS_MAX_DEPTH} levels (not read)` });
        else walk(p, depth + 1);
      } else if (entry.isFile() && /\.(ya?ml|json)$/i.test(entry.name)) {
        if (files.size >= GITOPS_MAX_FILES)
          throw new UserInputError(`--gitops ${shown}: more than ${GITOPS_MAX_FILES} YAML and JSON files`, {
            expected: 'the folder of the Istio Applications, not a whole disk',
            seen: `over ${GITOPS_MAX_FILES} files`,
          });
        files.set(rel, readUserFile(p, 'GitOps manifest', USER_FILE_MAX_BYTES));
      }
    }
  };
  walk(root, 0);
  return { root, files, skipped };
}

function statKind(p: string): 'folder' | 'other' {
  try {
    return statSync(p).isDirectory() ? 'folder' : 'other';
  } catch {
    return 'other';
  }
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

  let gitops: { dir: string; apps: GitopsApp[]; skipped: SkippedEntry[] } | undefined;
  let jq: Jq | undefined;
  if (flags.gitops !== undefined) {
    const { root, files, skipped } = readGitopsFolder(flags.gitops);
    const { parseGitops } = await import('../harness/upgrade/gitops.ts');
    const apps = parseGitops({
      dir: clip(flags.gitops),
      files,
      readValuesFile: (rel) => {
        const p = path.resolve(root, rel);
        if (!p.startsWith(`${root}${path.sep}`) || !existsSync(p)) return undefined;
        return readUserFile(p, 'Helm values file', USER_FILE_MAX_BYTES);
      },
    });
    gitops = { dir: displayPath(root), apps, skipped };
    // Every jqPathExpression must compile before anything is evaluated (Argo CD refuses the
    // Application's normalizer otherwise): one message naming the rule, not one per version.
    const ignore = await import('../harness/upgrade/ignore.ts');
    jq = await ignore.loadJq();
    for (const app of apps)
      app.ignoreDifferences.forEach((rule, i) =>
        rule.jqPathExpressions.forEach((expr, j) => {
          const err = ignore.jqCompileError(jq as Jq, expr);
          if (err !== undefined)
            throw new UserInputError(
              `--gitops ${clip(flags.gitops ?? '')}: ${app.file}: Application ${app.name}: spec.ignoreDifferences[${i}].jqPathExpressions[${j}] does not compile`,
              {
                expected: 'a jq path expression Argo CD can run as del(<expression>), e.g. .spec.replicas',
                seen: `${clip(JSON.stringify(expr))}: ${clip(err)}`,
              },
            );
        }),
      );
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
