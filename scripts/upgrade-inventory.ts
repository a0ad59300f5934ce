/**
 * Records the facts `upgrade plan` reads offline (harness/upgrade/recorded/, see recorded.ts):
 *
 * 1. chart-keys.json: for every stable tag of the minors harness/istio/versions.ts knows that the
 *    istio/istio mirror has, the values keys each of the four charts reads (chart-keys.ts
 *    inventoryOf on the chart folder at that tag; values.yaml's `_internal_defaults_do_not_set`
 *    for suggestions). Identical inventories are stored once.
 * 2. renders-<tag>.json.gz: for pins.json's Istio version and the newest tag of each later minor
 *    (and --render-tags), the objects `helm template` renders for each Istio Application of
 *    profiles/homelab/argocd, with that Application's release name, namespace and values, the
 *    way Argo CD renders a Helm source (no --is-upgrade; --include-crds), with the real Helm 4 of
 *    test/helpers/real-helm.ts, offline (outbound proxies at a closed loopback port). The charts
 *    are stamped as istio/release-builder publishes them (release-<minor> branch: Chart.yaml
 *    version/appVersion = the tag, values.yaml hub = DOCKER_HUB of release/build.sh, tag = the
 *    tag; pkg/build/helm.go stampChartForRelease), the same rules scripts/twin-inventory.ts
 *    applies.
 *
 * 3. gojq-cases.json: the cases of gojq v0.12.19's own test suite (cli/test.yaml) about paths and
 *    deletion (del, delpaths, paths, path, getpath, the optional operator, iterators, indexing,
 *    select) that take one query and print values; harness/upgrade/ignore.test.ts runs them
 *    through the jq Argo CD's rules are evaluated with here, so a difference between that jq and
 *    gojq (which Argo CD v3.5.1 runs) shows as a failing or listed case.
 *
 * Run by hand where the mirrors exist (CI has neither the mirrors nor a network); linux/x86-64:
 *
 *   cd /work/main && export PATH=$PWD/node_modules/.bin:$PATH
 *   node --import tsx scripts/upgrade-inventory.ts
 *   node --import tsx scripts/upgrade-inventory.ts --mirror <istio bare repo> --release-builder <bare repo>
 *   node --import tsx scripts/upgrade-inventory.ts --only keys      # chart-keys.json alone (no Helm)
 *
 * --only takes a comma-separated subset of keys, renders, gojq (default: all three).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { format, resolveConfig } from 'prettier';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { ISTIO_MINORS } from '../harness/istio/versions.ts';
import { PINS } from '../harness/pins.ts';
import { readTree } from '../harness/upgrade/chart-facts.ts';
import { inventoryOf, type KeyInventory } from '../harness/upgrade/chart-keys.ts';
import { parseGitops } from '../harness/upgrade/gitops.ts';
import { CHART_ORDER, type Chart } from '../harness/upgrade/hops.ts';
import {
  RECORDED_DIR,
  renderKey,
  rendersFileName,
  type RecordedKeys,
  type RecordedRenders,
} from '../harness/upgrade/recorded.ts';
import { compareVersions } from '../harness/upgrade/version.ts';
import { isolatedHelmEnv, REAL_HELM, realHelm } from '../test/helpers/real-helm.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const HOMELAB_GITOPS = path.join(ROOT, 'profiles', 'homelab', 'argocd');

/** Where each chart lives in istio/istio. */
const CHART_PATHS: Record<Chart, string> = {
  base: 'manifests/charts/base',
  istiod: 'manifests/charts/istio-control/istio-discovery',
  cni: 'manifests/charts/istio-cni',
  ztunnel: 'manifests/charts/ztunnel',
};

/** The Kubernetes version renders use: the embedded profile's node image (kindest/node v1.34.0). */
const KUBE_VERSION = /:v(\d+\.\d+\.\d+)@/.exec(PINS.nodeImage)?.[1] ?? '1.34.0';

interface Args {
  gojq: string;
  mirror: string;
  releaseBuilder: string;
  out: string;
  renderTags?: string[];
  /** What to record (default every part). */
  only: ReadonlySet<Part>;
}

const PARTS = ['gojq', 'keys', 'renders'] as const;
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): Args {
  const a: Args = {
    gojq: '/work/.mirror/itchyny+gojq/repo',
    mirror: '/work/.mirror/istio+istio/repo',
    releaseBuilder: '/work/.mirror/istio+release-builder/repo',
    out: RECORDED_DIR,
    only: new Set(PARTS),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag}: a value is needed`);
    if (flag === '--mirror') a.mirror = value;
    else if (flag === '--release-builder') a.releaseBuilder = value;
    else if (flag === '--gojq') a.gojq = value;
    else if (flag === '--out') a.out = path.resolve(value);
    else if (flag === '--render-tags') a.renderTags = value.split(',').filter(Boolean);
    else if (flag === '--only') {
      const parts = value.split(',').filter(Boolean);
      const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
      if (parts.length === 0 || bad.length > 0)
        throw new Error(`--only ${value}: expected a comma-separated subset of ${PARTS.join(', ')}`);
      a.only = new Set(parts as Part[]);
    } else throw new Error(`unknown argument ${flag}`);
  }
  return a;
}

async function git(repo: string, args: string[]): Promise<string> {
  return (await execa('git', ['-C', repo, ...args])).stdout;
}

const STABLE = /^(\d+)\.(\d+)\.(\d+)$/;

async function stableTags(mirror: string): Promise<string[]> {
  return (await git(mirror, ['tag', '--list']))
    .split('\n')
    .map((t) => t.trim())
    .filter((t) => STABLE.test(t) && `${t.split('.')[0]}.${t.split('.')[1]}` in ISTIO_MINORS)
    .sort(compareVersions);
}

async function extract(mirror: string, tag: string, work: string): Promise<string> {
  const commit = await git(mirror, ['rev-parse', `${tag}^{commit}`]);
  const archive = await execa(
    'git',
    ['-C', mirror, 'archive', '--format=tar', commit, ...Object.values(CHART_PATHS)],
    {
      encoding: 'buffer',
    },
  );
  await execa('tar', ['-x', '-C', work], { input: archive.stdout });
  return commit;
}

async function recordKeys(args: Args): Promise<void> {
  const tags = await stableTags(args.mirror);
  const keys: RecordedKeys = {
    source: {
      repository: 'istio/istio',
      mirror: 'bare mirror of 2026-08-22',
      generatedBy: 'scripts/upgrade-inventory.ts',
    },
    versions: {},
    inventories: {},
  };
  const ids = new Map<string, string>();
  for (const tag of tags) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'upgrade-keys-'));
    try {
      const commit = await extract(args.mirror, tag, work);
      const row = {} as Record<Chart, string>;
      for (const chart of CHART_ORDER) {
        const files = readTree(path.join(work, CHART_PATHS[chart]));
        const values = (parseYaml(files.get('values.yaml') ?? '') ?? {}) as Record<string, unknown>;
        const inv: KeyInventory = inventoryOf(files, values._internal_defaults_do_not_set ?? values);
        const text = JSON.stringify(inv);
        let id = ids.get(text);
        if (id === undefined) {
          id = `${chart}@${tag}`;
          ids.set(text, id);
          keys.inventories[id] = { ...inv, firstSeen: { tag, commit } };
        }
        row[chart] = id;
      }
      keys.versions[tag] = row;
      console.log(`${tag}: ${CHART_ORDER.map((c) => row[c]).join(', ')}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const file = path.join(args.out, 'chart-keys.json');
  const config = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(JSON.stringify(keys), { ...config, filepath: file, parser: 'json' }));
  console.log(
    `${path.relative(ROOT, file)}: ${tags.length} versions, ${Object.keys(keys.inventories).length} inventories`,
  );
}

/** istio/release-builder's stamping rules for a tag's minor (as scripts/twin-inventory.ts reads them). */
async function stamp(releaseBuilder: string, tag: string, dir: string): Promise<string> {
  const branch = `release-${tag.split('.').slice(0, 2).join('.')}`;
  const buildSh = await git(releaseBuilder, ['show', `${branch}:release/build.sh`]);
  const helmGo = await git(releaseBuilder, ['show', `${branch}:pkg/build/helm.go`]);
  const hub = /^DOCKER_HUB=\$\{DOCKER_HUB:-([^}]+)\}/m.exec(buildSh)?.[1];
  const hubs = [...(/\bhubs\s*=\s*\[\]string\{([^}]*)\}/.exec(helmGo)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map(
    (m) => m[1] ?? '',
  );
  const block = (name: string) =>
    new RegExp(`\\b${name}\\s*=\\s*\\[\\]\\*regexp\\.Regexp\\{([^}]*)\\}`).exec(helmGo)?.[1];
  const patterns = (b: string | undefined) =>
    [...(b ?? '').matchAll(/regexp\.MustCompile\(`([^`]+)`\)/g)].map((m) => m[1] ?? '');
  const tagRes = patterns(block('tagRegexes'));
  const quotedRes = patterns(block('quotedTagRegexes'));
  if (!hub || hubs.length === 0 || tagRes.length === 0)
    throw new Error(`${branch}: stamping rules not found`);
  for (const chart of CHART_ORDER) {
    const cdir = path.join(dir, CHART_PATHS[chart]);
    const chartFile = path.join(cdir, 'Chart.yaml');
    const meta = parseYaml(readFileSync(chartFile, 'utf8')) as Record<string, unknown>;
    meta.version = tag;
    meta.appVersion = tag;
    writeFileSync(chartFile, stringifyYaml(meta));
    const valuesFile = path.join(cdir, 'values.yaml');
    let values = readFileSync(valuesFile, 'utf8');
    for (const h of hubs)
      values = values.replaceAll(`hub: ${h}`, `hub: ${hub}`).replaceAll(`"hub": "${h}"`, `"hub": "${hub}"`);
    for (const p of tagRes) values = values.replace(new RegExp(p, 'g'), `tag: ${tag}`);
    for (const p of quotedRes) values = values.replace(new RegExp(p, 'g'), `"tag": "${tag}"`);
    writeFileSync(valuesFile, values);
  }
  return `istio/release-builder@${branch} (hub ${hub})`;
}

function readGitopsDir(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const [rel, text] of readTree(dir)) if (/\.(ya?ml|json)$/.test(rel)) files.set(rel, text);
  return files;
}

async function recordRenders(args: Args): Promise<void> {
  const all = await stableTags(args.mirror);
  const newest = new Map<string, string>();
  for (const t of all) newest.set(t.split('.').slice(0, 2).join('.'), t);
  const pinned = PINS.istio.version;
  const tags = args.renderTags ?? [
    pinned,
    ...[...newest.values()].filter((t) => compareVersions(t, pinned) > 0),
  ];
  const pin = REAL_HELM.find((h) => h.major === 4);
  if (!pin) throw new Error('no Helm 4 in test/helpers/real-helm.ts');
  const helm = await realHelm(pin);
  const gitopsFiles = readGitopsDir(HOMELAB_GITOPS);
  const apps = parseGitops({
    dir: HOMELAB_GITOPS,
    files: gitopsFiles,
    readValuesFile: (rel) => gitopsFiles.get(rel),
  });
  for (const tag of tags) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'upgrade-render-'));
    const home = path.join(work, 'home');
    mkdirSync(home);
    try {
      const commit = await extract(args.mirror, tag, work);
      const stamped = await stamp(args.releaseBuilder, tag, work);
      const out: RecordedRenders = {
        source: {
          repository: 'istio/istio',
          tag,
          commit,
          helm: pin.version,
          kubeVersion: KUBE_VERSION,
          stamp: stamped,
          generatedBy: 'scripts/upgrade-inventory.ts',
        },
        renders: [],
      };
      for (const app of apps) {
        const valuesFile = path.join(work, `${app.name}.values.json`);
        writeFileSync(valuesFile, JSON.stringify(app.values));
        const r = await execa(
          helm,
          [
            'template',
            app.releaseName,
            path.join(work, CHART_PATHS[app.chart]),
            '--namespace',
            app.namespace,
            '--kube-version',
            KUBE_VERSION,
            '--include-crds',
            '--values',
            valuesFile,
          ],
          {
            env: isolatedHelmEnv(home),
            extendEnv: false,
            timeout: 120_000,
          },
        );
        const objects = parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as unknown)
          .filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object');
        const request = {
          chart: app.chart,
          release: app.releaseName,
          namespace: app.namespace,
          values: app.values,
        };
        out.renders.push({ key: renderKey(request), request, objects });
      }
      const file = path.join(args.out, rendersFileName(tag));
      writeFileSync(file, gzipSync(JSON.stringify(out), { level: 9 }));
      console.log(
        `${path.relative(ROOT, file)}: ${out.renders.map((r) => `${r.request.chart} ${r.objects.length}`).join(', ')}; ${statSync(file).size} bytes`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

const GOJQ_TAG = 'v0.12.19';
const GOJQ_TOPICS =
  /\b(del|delpaths|paths?|getpath|optional|iterator|indexing|select|to_entries|leaf_paths)\b/i;

async function recordGojqCases(args: Args): Promise<void> {
  const commit = await git(args.gojq, ['rev-parse', `${GOJQ_TAG}^{commit}`]);
  const cases = parseYaml(await git(args.gojq, ['show', `${GOJQ_TAG}:cli/test.yaml`])) as {
    name: string;
    args?: string[];
    input?: string;
    expected?: string;
    error?: string;
  }[];
  const picked = cases
    .filter(
      (c) =>
        GOJQ_TOPICS.test(c.name) &&
        c.expected !== undefined &&
        c.error === undefined &&
        c.input !== undefined,
    )
    .filter(
      (c) =>
        (c.args ?? []).every((a) => a === '-c' || !a.startsWith('-')) &&
        (c.args ?? []).filter((a) => a !== '-c').length === 1,
    )
    .map((c) => ({
      name: c.name,
      query: (c.args ?? []).find((a) => a !== '-c') ?? '.',
      input: c.input ?? '',
      expected: c.expected ?? '',
    }));
  const file = path.join(args.out, 'gojq-cases.json');
  const value = {
    source: {
      repository: 'itchyny/gojq',
      tag: GOJQ_TAG,
      commit,
      path: 'cli/test.yaml',
      generatedBy: 'scripts/upgrade-inventory.ts',
    },
    cases: picked,
  };
  const config = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(JSON.stringify(value), { ...config, filepath: file, parser: 'json' }));
  console.log(`${path.relative(ROOT, file)}: ${picked.length} cases`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  if (args.only.has('gojq')) await recordGojqCases(args);
  if (args.only.has('keys')) await recordKeys(args);
  if (args.only.has('renders')) await recordRenders(args);
}

await main();
