/**
 * Records the twin's chart inventory: test/twin/inventory/istio-<tag>.<values>.json, the fact
 * summaries of every object the four Istio charts render, per version and value set. The twin's
 * fake `helm` creates these objects; test/twin/inventory.test.ts checks them against the harness.
 *
 * Run it by hand where the upstream mirrors exist (not in CI, which has neither the mirrors nor a
 * network); it needs linux/x86-64 for the real helm binaries:
 *
 *   cd /work/main && export PATH=$PWD/node_modules/.bin:$PATH
 *   node --import tsx scripts/twin-inventory.ts                # pinned version + newest patch per minor
 *   node --import tsx scripts/twin-inventory.ts --tags 1.28.3,1.29.6
 *   node --import tsx scripts/twin-inventory.ts --mirror <istio bare repo> --release-builder <bare repo>
 *
 * Defaults: --mirror /work/.mirror/istio+istio/repo, --release-builder
 * /work/.mirror/istio+release-builder/repo, --out test/twin/inventory. Without --tags it records
 * pins.json's Istio version and the newest stable patch of each later minor that
 * harness/istio/versions.ts knows and the mirror has a tag for (other patches and pre-releases
 * only when named). Each run rewrites the files of the tags it records; delete a file by hand
 * to drop a version.
 *
 * For each tag:
 * 1. `git archive <tag>` of manifests/charts/{base,istio-control/istio-discovery,istio-cni,ztunnel}
 *    into a temporary folder.
 * 2. Release stamping, as istio/release-builder (branch release-<minor>) does before it publishes:
 *    Chart.yaml version/appVersion = the tag; in values.yaml the development hubs become the
 *    published hub (DOCKER_HUB default of release/build.sh) and `tag: latest` the tag
 *    (pkg/build/helm.go stampChartForRelease, updateValues). Git holds unstamped charts
 *    (gcr.io/istio-testing, latest, 1.0.0), which no user installs.
 * 3. `helm template <release> <chart> --namespace <ns> --kube-version <k8s> [--values ...] [--set ...]`
 *    with the real Helm 4 of test/helpers/real-helm.ts, in an isolated HOME with outbound proxies
 *    pointed at a closed loopback port; Helm 3 renders too, and the file says whether it agreed.
 *    Value sets: `defaults` (no values) and `homelab` (the embedded profile, loaded by
 *    harness/profile/load.ts for that version: its release names, namespace, values files, inline
 *    values and the plan's own --set entries, exactly as harness/plan.ts passes them to helm).
 * 4. summarizeManifests (test/twin/inventory/summarize.ts), validated by schema.ts, formatted with
 *    the repository's prettier config.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { format, resolveConfig } from 'prettier';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ISTIO_MINORS } from '../harness/istio/versions.ts';
import { valuesFilesFor } from '../harness/plan.ts';
import { EMBEDDED_PROFILE, loadProfile } from '../harness/profile/load.ts';
import { REAL_HELM, realHelm } from '../test/helpers/real-helm.ts';
import { CHART_PATHS, inventoryFileName } from '../test/twin/inventory/index.ts';
import { Inventory, type ReleaseInventory, type ValuesSet } from '../test/twin/inventory/schema.ts';
import { commonLabels, summarizeManifests, withoutLabels } from '../test/twin/inventory/summarize.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Args {
  mirror: string;
  releaseBuilder: string;
  out: string;
  tags?: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    mirror: '/work/.mirror/istio+istio/repo',
    releaseBuilder: '/work/.mirror/istio+release-builder/repo',
    out: path.join(ROOT, 'test', 'twin', 'inventory'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag}: a value is needed`);
    if (flag === '--mirror') a.mirror = value;
    else if (flag === '--release-builder') a.releaseBuilder = value;
    else if (flag === '--out') a.out = path.resolve(value);
    else if (flag === '--tags') a.tags = value.split(',').filter(Boolean);
    else throw new Error(`unknown argument ${flag}`);
    i++;
  }
  return a;
}

async function git(repo: string, args: string[]): Promise<string> {
  return (await execa('git', ['-C', repo, ...args])).stdout;
}

const STABLE = /^(\d+)\.(\d+)\.(\d+)$/;

/**
 * pins.json's version plus the newest stable patch of each later minor that versions.ts knows.
 * (Newer patches of the pinned minor are left out to keep the recorded files few; name them with
 * --tags.)
 */
async function defaultTags(mirror: string): Promise<string[]> {
  const pinned = (
    JSON.parse(readFileSync(path.join(ROOT, 'pins.json'), 'utf8')) as { istio: { version: string } }
  ).istio.version;
  const pm = STABLE.exec(pinned);
  if (!pm) throw new Error(`pins.json istio.version ${pinned} is not MAJOR.MINOR.PATCH`);
  const newest = new Map<string, number>();
  for (const t of (await git(mirror, ['tag', '--list'])).split('\n')) {
    const m = STABLE.exec(t.trim());
    if (!m || m[1] !== pm[1] || Number(m[2]) <= Number(pm[2])) continue;
    const minor = `${m[1]}.${m[2]}`;
    if (!(minor in ISTIO_MINORS)) {
      console.warn(`skipping ${t}: minor ${minor} is not in harness/istio/versions.ts`);
      continue;
    }
    newest.set(minor, Math.max(newest.get(minor) ?? -1, Number(m[3])));
  }
  const tags = new Set([pinned]);
  for (const [minor, patch] of [...newest].sort(
    ([a], [b]) => Number(a.split('.')[1]) - Number(b.split('.')[1]),
  ))
    tags.add(`${minor}.${patch}`);
  return [...tags];
}

interface Stamp {
  branch: string;
  commit: string;
  hub: string;
  replacedHubs: string[];
  tagPatterns: string[];
  quotedTagPatterns: string[];
}

/** The stamping rules of istio/release-builder's release-<minor> branch. */
async function stampRules(releaseBuilder: string, tag: string): Promise<Stamp> {
  const m = /^(\d+\.\d+)\./.exec(tag);
  const branch = `release-${m?.[1] ?? '?'}`;
  const commit = await git(releaseBuilder, ['rev-parse', `${branch}^{commit}`]);
  const helmGo = await git(releaseBuilder, ['show', `${branch}:pkg/build/helm.go`]);
  const buildSh = await git(releaseBuilder, ['show', `${branch}:release/build.sh`]);
  const hub = /^DOCKER_HUB=\$\{DOCKER_HUB:-([^}]+)\}/m.exec(buildSh)?.[1];
  const hubsList = /\bhubs\s*=\s*\[\]string\{([^}]*)\}/.exec(helmGo)?.[1];
  const block = (name: string) =>
    new RegExp(`\\b${name}\\s*=\\s*\\[\\]\\*regexp\\.Regexp\\{([^}]*)\\}`).exec(helmGo)?.[1];
  const patterns = (b: string | undefined) =>
    [...(b ?? '').matchAll(/regexp\.MustCompile\(`([^`]+)`\)/g)].map((x) => x[1] ?? '');
  const tagPatterns = patterns(block('tagRegexes'));
  const quotedTagPatterns = patterns(block('quotedTagRegexes'));
  if (!hub || hubsList === undefined || tagPatterns.length === 0)
    throw new Error(
      `istio/release-builder ${branch}: could not read the stamping rules (DOCKER_HUB, hubs, tagRegexes)`,
    );
  const replacedHubs = [...hubsList.matchAll(/"([^"]+)"/g)].map((x) => x[1] ?? '');
  return { branch, commit, hub, replacedHubs, tagPatterns, quotedTagPatterns };
}

/** pkg/build/helm.go stampChartForRelease on one chart folder. */
function stampChart(dir: string, version: string, s: Stamp): { name: string; version: string } {
  const chartFile = path.join(dir, 'Chart.yaml');
  const chart = parseYaml(readFileSync(chartFile, 'utf8')) as Record<string, unknown>;
  chart.version = version;
  chart.appVersion = version;
  writeFileSync(chartFile, stringifyYaml(chart));
  const valuesFile = path.join(dir, 'values.yaml');
  let values = readFileSync(valuesFile, 'utf8');
  for (const h of s.replacedHubs) {
    values = values.replaceAll(`hub: ${h}`, `hub: ${s.hub}`).replaceAll(`"hub": "${h}"`, `"hub": "${s.hub}"`);
  }
  for (const p of s.tagPatterns) values = values.replace(new RegExp(p, 'g'), `tag: ${version}`);
  for (const p of s.quotedTagPatterns) values = values.replace(new RegExp(p, 'g'), `"tag": "${version}"`);
  writeFileSync(valuesFile, values);
  return { name: String(chart.name), version };
}

interface Helm {
  bin: string;
  version: string;
}

function helmEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_DATA_HOME: path.join(home, 'data'),
    KUBECONFIG: path.join(home, 'no-kubeconfig'),
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '',
  };
}

async function helmTemplate(helm: Helm, home: string, args: string[]): Promise<string> {
  const r = await execa(helm.bin, ['template', ...args], {
    env: helmEnv(home),
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  if (r.exitCode !== 0) throw new Error(`helm ${helm.version} template ${args.join(' ')}:\n${r.stderr}`);
  if (r.stderr.trim()) console.warn(`helm ${helm.version} template ${args[0] ?? ''}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface PlannedRelease {
  name: string;
  chart: ReleaseInventory['chart'];
  valuesFiles: string[];
  /** Paths as recorded: repository-relative, or a description of inline values. */
  recordedValuesFiles: string[];
  values: Record<string, unknown>;
  set: string[];
}

function planReleases(
  tag: string,
  set: ValuesSet,
  work: string,
): { namespace: string; kubeVersion: string; releases: PlannedRelease[] } {
  const profile = loadProfile(EMBEDDED_PROFILE, { istioVersion: tag });
  const releases = profile.releases.map((r): PlannedRelease => {
    if (set === 'defaults')
      return { name: r.name, chart: r.chart, valuesFiles: [], recordedValuesFiles: [], values: {}, set: [] };
    const v = valuesFilesFor(r, work);
    if (v.inline) {
      mkdirSync(path.dirname(v.inline.path), { recursive: true });
      writeFileSync(v.inline.path, v.inline.content);
    }
    return {
      name: r.name,
      chart: r.chart,
      valuesFiles: v.files,
      recordedValuesFiles: v.files.map((f) =>
        f === v.inline?.path
          ? `(inline values of release ${r.name} in ${path.relative(ROOT, profile.source)})`
          : path.relative(ROOT, f),
      ),
      values: r.effectiveValues,
      set: r.planSet,
    };
  });
  return { namespace: profile.doc.istio.namespace, kubeVersion: profile.kubernetesVersion, releases };
}

/** JSON as `prettier --check .` wants it, with the repository's config wherever --out points. */
async function formatJson(file: string, value: unknown): Promise<string> {
  const config = (await resolveConfig(path.join(ROOT, 'test', 'twin', 'inventory', 'x.json'))) ?? {};
  return format(JSON.stringify(value), { ...config, filepath: file, parser: 'json' });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tags = args.tags ?? (await defaultTags(args.mirror));
  const pins = [...REAL_HELM].sort((a, b) => b.major - a.major);
  const helms: Helm[] = [];
  for (const pin of pins) {
    const bin = await realHelm(pin);
    const version = (
      await execa(bin, ['version', '--short'], { env: helmEnv(os.tmpdir()), extendEnv: false })
    ).stdout.trim();
    helms.push({ bin, version });
  }
  const [primary, ...others] = helms;
  if (!primary) throw new Error('no real helm pinned in test/helpers/real-helm.ts');
  mkdirSync(args.out, { recursive: true });
  console.log(
    `tags: ${tags.join(', ')}; helm ${primary.version} (checked against ${others.map((h) => h.version).join(', ')})`,
  );

  for (const tag of tags) {
    const commit = await git(args.mirror, ['rev-parse', `${tag}^{commit}`]);
    const date = await git(args.mirror, ['log', '-1', '--format=%cI', commit]);
    const stamp = await stampRules(args.releaseBuilder, tag);
    const work = mkdtempSync(path.join(os.tmpdir(), 'twin-inventory-'));
    try {
      const chartPaths = Object.values(CHART_PATHS);
      const archive = await execa(
        'git',
        ['-C', args.mirror, 'archive', '--format=tar', commit, ...chartPaths],
        {
          encoding: 'buffer',
        },
      );
      await execa('tar', ['-x', '-C', work], { input: archive.stdout });
      const stamped = new Map<string, { name: string; version: string }>();
      for (const [chart, p] of Object.entries(CHART_PATHS))
        stamped.set(chart, stampChart(path.join(work, p), tag, stamp));

      for (const set of ['defaults', 'homelab'] as const) {
        const plan = planReleases(tag, set, path.join(work, 'run'));
        const releases: Record<string, ReleaseInventory> = {};
        const agrees = new Set(others.map((h) => h.version));
        for (const r of plan.releases) {
          const chartPath = CHART_PATHS[r.chart];
          const argv = [
            r.name,
            path.join(work, chartPath),
            '--namespace',
            plan.namespace,
            '--kube-version',
            plan.kubeVersion,
            '--include-crds',
            ...r.valuesFiles.flatMap((f) => ['--values', f]),
            ...r.set.flatMap((s) => ['--set', s]),
          ];
          const home = mkdtempSync(path.join(os.tmpdir(), 'twin-inventory-helm-'));
          try {
            const objects = summarizeManifests(await helmTemplate(primary, home, argv));
            for (const h of others) {
              const theirs = summarizeManifests(await helmTemplate(h, home, argv));
              if (JSON.stringify(theirs) !== JSON.stringify(objects)) {
                agrees.delete(h.version);
                console.warn(
                  `${tag} ${set} ${r.name}: helm ${h.version} renders different summaries than ${primary.version}`,
                );
              }
            }
            const common = commonLabels(objects);
            const chartMeta = stamped.get(r.chart);
            releases[r.name] = {
              chart: r.chart,
              chartPath,
              chartName: chartMeta?.name ?? r.chart,
              chartVersion: chartMeta?.version ?? tag,
              valuesFiles: r.recordedValuesFiles,
              values: r.values,
              set: r.set,
              commonLabels: common,
              objects: withoutLabels(objects, common),
            };
          } finally {
            rmSync(home, { recursive: true, force: true });
          }
        }
        const inventory = Inventory.parse({
          source: {
            repository: 'istio/istio',
            tag,
            commit,
            date,
            charts: chartPaths,
            helm: primary.version,
            helmAgrees: [...agrees],
            values: set,
            namespace: plan.namespace,
            kubeVersion: plan.kubeVersion,
            stamp: {
              repository: 'istio/release-builder',
              branch: stamp.branch,
              commit: stamp.commit,
              hub: stamp.hub,
              replacedHubs: stamp.replacedHubs,
              tagPatterns: [...stamp.tagPatterns, ...stamp.quotedTagPatterns],
              version: tag,
            },
            generatedBy: 'scripts/twin-inventory.ts',
          },
          releases,
        });
        const file = path.join(args.out, inventoryFileName(tag, set));
        const text = await formatJson(file, inventory);
        writeFileSync(file, text);
        const count = Object.values(releases).reduce((n, r) => n + r.objects.length, 0);
        console.log(`${path.relative(ROOT, file)}: ${count} objects, ${Buffer.byteLength(text)} bytes`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

await main();
