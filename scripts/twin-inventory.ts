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
 *   node --import tsx scripts/twin-inventory.ts --only metrics-server   # one chart only (or --only istio)
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
 *
 * Addon charts (test/twin/inventory/<chart>-<version>.json; ADDON_CHARTS in inventory/index.ts):
 * metrics-server, from --metrics-server-mirror (default /work/.mirror/kubernetes-sigs+metrics-server/repo)
 * at the chart's release tag (metrics-server-helm-chart-<version>), folder charts/metrics-server. The
 * release name, namespace, version and --set entries are those of the plan step addons.metrics-server
 * (harness/plan.ts builds it with installArgv; inventory/plan-step.ts takes it apart), so nothing is
 * copied here. No release stamping: chart-releaser publishes the folder as it is at the tag. See
 * recordAddon.
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
import { isolatedHelmEnv, REAL_HELM, realHelm } from '../test/helpers/real-helm.ts';
import {
  ADDON_CHARTS,
  addonInventoryFileName,
  CHART_PATHS,
  inventoryFileName,
  type AddonChart,
} from '../test/twin/inventory/index.ts';
import { plannedHelmInstall } from '../test/twin/inventory/plan-step.ts';
import {
  AddonInventory,
  Inventory,
  type ObjectSummary,
  type ReleaseInventory,
  type ValuesSet,
} from '../test/twin/inventory/schema.ts';
import { commonLabels, summarizeManifests, withoutLabels } from '../test/twin/inventory/summarize.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What a run records: the Istio charts, and each addon chart. */
const RECORDABLE = ['istio', ...(Object.keys(ADDON_CHARTS) as AddonChart[])] as const;

interface Args {
  mirror: string;
  releaseBuilder: string;
  /** Bare git mirrors of the addon charts' repositories. */
  addonMirrors: Record<AddonChart, string>;
  out: string;
  tags?: string[];
  only: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    mirror: '/work/.mirror/istio+istio/repo',
    releaseBuilder: '/work/.mirror/istio+release-builder/repo',
    addonMirrors: { 'metrics-server': '/work/.mirror/kubernetes-sigs+metrics-server/repo' },
    out: path.join(ROOT, 'test', 'twin', 'inventory'),
    only: [...RECORDABLE],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag}: a value is needed`);
    if (flag === '--mirror') a.mirror = value;
    else if (flag === '--release-builder') a.releaseBuilder = value;
    else if (flag === '--metrics-server-mirror') a.addonMirrors['metrics-server'] = value;
    else if (flag === '--out') a.out = path.resolve(value);
    else if (flag === '--tags') a.tags = value.split(',').filter(Boolean);
    else if (flag === '--only') {
      a.only = value.split(',').filter(Boolean);
      const unknown = a.only.filter((x) => !(RECORDABLE as readonly string[]).includes(x));
      if (unknown.length) throw new Error(`--only ${unknown.join(',')}: not one of ${RECORDABLE.join(', ')}`);
    } else throw new Error(`unknown argument ${flag}`);
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

/** The real helm, isolated (real-helm.ts), with no kubeconfig to read. */
function helmEnv(home: string): Record<string, string> {
  return { ...isolatedHelmEnv(home), KUBECONFIG: path.join(home, 'no-kubeconfig') };
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

async function recordIstio(args: Args, primary: Helm, others: Helm[]): Promise<void> {
  const tags = args.tags ?? (await defaultTags(args.mirror));
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

/**
 * The values helm makes of `--set` entries, from the real binary: a chart with no values whose one
 * template prints `.Values` as JSON. This is what a release stores as its config.
 */
async function helmSetValues(helm: Helm, work: string, set: string[]): Promise<Record<string, unknown>> {
  const chart = path.join(work, 'values-probe');
  mkdirSync(path.join(chart, 'templates'), { recursive: true });
  writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: values-probe\nversion: 0.0.0\n');
  writeFileSync(path.join(chart, 'templates', 'values.yaml'), '{{ toJson .Values }}\n');
  const home = mkdtempSync(path.join(os.tmpdir(), 'twin-inventory-helm-'));
  try {
    const out = await helmTemplate(helm, home, ['probe', chart, ...set.flatMap((s) => ['--set', s])]);
    const json = out.split('\n').find((l) => l.startsWith('{'));
    if (!json) throw new Error(`values probe: no JSON in helm's output:\n${out}`);
    return JSON.parse(json) as Record<string, unknown>;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** `<repository>:<tag, or v<appVersion> when empty>`, the metrics-server chart's image helper. */
function chartImage(
  values: Record<string, unknown>,
  defaults: { repository: string; tag: string },
  app: string,
) {
  const image = (values.image ?? {}) as { repository?: unknown; tag?: unknown };
  const repository = typeof image.repository === 'string' ? image.repository : defaults.repository;
  const tag = typeof image.tag === 'string' ? image.tag : defaults.tag;
  return `${repository}:${tag === '' ? `v${app}` : tag}`;
}

/**
 * Records an addon chart (metrics-server) as the plan installs it: the plan step's command
 * (test/twin/inventory/plan-step.ts, built by harness/plan.ts through installArgv) gives the
 * release, namespace, chart, version and --set entries; the chart comes from the upstream
 * repository's release tag (`git archive`); `helm template` renders it with exactly those entries.
 * The chart's image helper is checked against two renders (the plan's values and the defaults) so
 * the twin can rebuild the image from other image values.
 */
async function recordAddon(args: Args, chart: AddonChart, primary: Helm, others: Helm[]): Promise<void> {
  const spec = ADDON_CHARTS[chart];
  const planned = plannedHelmInstall(spec.planStep);
  if (planned.chart !== chart)
    throw new Error(`${spec.planStep} installs chart ${planned.chart}, not ${chart}`);
  if (planned.valuesFiles.length)
    throw new Error(`${spec.planStep} passes values files; only --set entries are recorded`);
  const tag = spec.tag(planned.version);
  const mirror = args.addonMirrors[chart];
  const commit = await git(mirror, ['rev-parse', `${tag}^{commit}`]);
  const date = await git(mirror, ['log', '-1', '--format=%cI', commit]);
  const kubeVersion = loadProfile(EMBEDDED_PROFILE).kubernetesVersion;
  console.log(
    `${chart} ${planned.version} (${spec.repository} ${tag}); helm ${primary.version} (checked against ${others.map((h) => h.version).join(', ')})`,
  );
  const work = mkdtempSync(path.join(os.tmpdir(), 'twin-inventory-'));
  try {
    const archive = await execa('git', ['-C', mirror, 'archive', '--format=tar', commit, spec.chartPath], {
      encoding: 'buffer',
    });
    await execa('tar', ['-x', '-C', work], { input: archive.stdout });
    const chartDir = path.join(work, spec.chartPath);
    const meta = parseYaml(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const chartName = String(meta.name);
    const chartVersion = String(meta.version);
    const appVersion = String(meta.appVersion);
    if (chartName !== chart || chartVersion !== planned.version)
      throw new Error(
        `${tag}: Chart.yaml says ${chartName} ${chartVersion}, the plan ${chart} ${planned.version}`,
      );
    const defaults = (
      parseYaml(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as {
        image: { repository: string; tag: string };
      }
    ).image;

    const base = [planned.release, chartDir, '--namespace', planned.namespace, '--kube-version', kubeVersion];
    const argv = [...base, ...planned.set.flatMap((s) => ['--set', s])];
    const home = mkdtempSync(path.join(os.tmpdir(), 'twin-inventory-helm-'));
    const agrees = new Set(others.map((h) => h.version));
    let objects: ObjectSummary[];
    let defaultObjects: ObjectSummary[];
    try {
      objects = summarizeManifests(await helmTemplate(primary, home, argv));
      defaultObjects = summarizeManifests(await helmTemplate(primary, home, base));
      for (const h of others) {
        const theirs = summarizeManifests(await helmTemplate(h, home, argv));
        if (JSON.stringify(theirs) !== JSON.stringify(objects)) {
          agrees.delete(h.version);
          console.warn(
            `${chart} ${planned.version}: helm ${h.version} renders different summaries than ${primary.version}`,
          );
        }
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    const values = await helmSetValues(primary, work, planned.set);

    // The image: one workload container carries the chart's image, in both renders.
    const imageOf = (objs: ObjectSummary[], want: string) =>
      objs.flatMap((o) =>
        (o.workload?.containers ?? [])
          .filter((c) => c.image === want)
          .map((c) => ({ kind: o.kind, name: o.name, container: c.name })),
      );
    const inPlan = imageOf(objects, chartImage(values, defaults, appVersion));
    const defaulted = imageOf(defaultObjects, chartImage({}, defaults, appVersion));
    if (inPlan.length !== 1 || JSON.stringify(inPlan) !== JSON.stringify(defaulted))
      throw new Error(
        `${chart} ${planned.version}: the image helper does not match the renders (plan: ${JSON.stringify(inPlan)}, defaults: ${JSON.stringify(defaulted)})`,
      );
    const image = {
      ...(inPlan[0] as { kind: string; name: string; container: string }),
      repository: defaults.repository,
      tag: defaults.tag,
    };

    const common = commonLabels(objects);
    const inventory = AddonInventory.parse({
      source: {
        repository: spec.repository,
        tag,
        commit,
        date,
        chart: spec.chartPath,
        chartRepository: planned.repo,
        helm: primary.version,
        helmAgrees: [...agrees],
        kubeVersion,
        planStep: spec.planStep,
        generatedBy: 'scripts/twin-inventory.ts',
      },
      release: {
        name: planned.release,
        namespace: planned.namespace,
        chartName,
        chartVersion,
        appVersion,
        set: planned.set,
        values,
        image,
        commonLabels: common,
        objects: withoutLabels(objects, common),
      },
    });
    mkdirSync(args.out, { recursive: true });
    const file = path.join(args.out, addonInventoryFileName(chart, planned.version));
    const text = await formatJson(file, inventory);
    writeFileSync(file, text);
    console.log(`${path.relative(ROOT, file)}: ${objects.length} objects, ${Buffer.byteLength(text)} bytes`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
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
  if (args.only.includes('istio')) await recordIstio(args, primary, others);
  for (const chart of Object.keys(ADDON_CHARTS) as AddonChart[])
    if (args.only.includes(chart)) await recordAddon(args, chart, primary, others);
}

await main();
