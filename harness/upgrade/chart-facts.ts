import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { INVENTORY_READER, inventoryOf, type KeyInventory } from './chart-keys.ts';
import type { Chart } from './hops.ts';
import type { ChartFacts } from './plan.ts';
import { recordedInventory, recordedRender, renderKey, type RenderRequest } from './recorded.ts';

/**
 * Chart facts for the plan: the recorded ones first (recorded.ts), else the real chart fetched
 * with Helm from the profile's chart repository and kept in a cache, else "missing" with the
 * reason. The plan asks for every fact it needs up front (`prefetch`), so planning itself stays
 * synchronous and pure.
 *
 * Cache: `$AMBIENT_CHART_CACHE`, else `$XDG_CACHE_HOME/ambient-conformance/charts`, else
 * `~/.cache/ambient-conformance/charts`; one folder per repository (hashed) and chart version,
 * holding the untarred chart, its key inventory (keys-r<INVENTORY_READER>.json: a newer reader
 * re-reads the cached chart) and its renders (by renderKey). A chart version never changes once
 * published, so entries never expire; delete the folder to refetch.
 *
 * Helm: `helm pull <chart> --repo <url> --version <v> --untar` (or `oci://…/<chart>`), and
 * `helm template <release> <chart> --namespace <ns> --kube-version <k8s> --include-crds --values
 * <file>`, as Argo CD renders a Helm source (no --is-upgrade). Each call is bounded by
 * `timeoutMs`.
 */
export interface FetchOptions {
  /** Never run Helm: recorded facts only. */
  offline: boolean;
  /** The chart repository to fetch from (the profile's istio.chartRepository). */
  repository: string;
  /** The helm binary, or undefined when none is installed. */
  helm?: string;
  /** --kube-version for renders. */
  kubeVersion: string;
  timeoutMs: number;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
}

export function chartCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AMBIENT_CHART_CACHE) return path.resolve(env.AMBIENT_CHART_CACHE);
  const base = env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'ambient-conformance', 'charts');
}

type Missing = { missing: string };

function run(
  file: string,
  args: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env },
      (err, stdout, stderr) => resolve({ ok: !err, stdout, stderr: stderr || (err ? err.message : '') }),
    );
  });
}

/** Every file below `dir`, by its path relative to `dir` (a chart's files, as chart-keys.ts reads them). */
export function readTree(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) readTree(p, base, out);
    else out.set(path.relative(base, p), readFileSync(p, 'utf8'));
  }
  return out;
}

function firstLine(text: string): string {
  return (text.trim().split('\n').at(-1) ?? '').slice(0, 300);
}

/** Facts as the plan reads them, filled by `prefetch`. */
export class ChartFactsStore implements ChartFacts {
  private readonly keyFacts = new Map<string, { inventory: KeyInventory; source: string } | Missing>();
  private readonly renderFacts = new Map<
    string,
    { objects: Record<string, unknown>[]; source: string } | Missing
  >();
  private readonly pulled = new Map<string, Promise<string | Missing>>();
  private readonly opts: FetchOptions;
  private readonly cache: string;

  constructor(opts: FetchOptions) {
    this.opts = opts;
    this.cache = path.join(
      opts.cacheDir ?? chartCacheDir(opts.env),
      createHash('sha256').update(opts.repository).digest('hex').slice(0, 12),
    );
  }

  keys(chart: Chart, version: string) {
    return (
      this.keyFacts.get(`${chart}@${version}`) ?? { missing: `${chart} ${version}: not looked up (a bug)` }
    );
  }

  render(request: RenderRequest, version: string) {
    return (
      this.renderFacts.get(`${renderKey(request)}@${version}`) ?? {
        missing: `${request.chart} ${version}: not looked up (a bug)`,
      }
    );
  }

  /** Why Helm cannot be used, or undefined when it can. */
  private noHelm(): string | undefined {
    if (this.opts.offline) return 'no recorded facts, and --offline forbids fetching the chart';
    if (this.opts.helm === undefined) return 'no recorded facts, and no helm on PATH to fetch the chart';
    return undefined;
  }

  /** The untarred chart folder, pulled once per chart and version. */
  private pull(chart: Chart, version: string): Promise<string | Missing> {
    const key = `${chart}@${version}`;
    let p = this.pulled.get(key);
    if (!p) {
      p = this.doPull(chart, version);
      this.pulled.set(key, p);
    }
    return p;
  }

  private async doPull(chart: Chart, version: string): Promise<string | Missing> {
    const dir = path.join(this.cache, `${chart}-${version}`, 'chart');
    if (existsSync(path.join(dir, 'Chart.yaml'))) return dir;
    const why = this.noHelm();
    if (why !== undefined) return { missing: why };
    mkdirSync(path.dirname(dir), { recursive: true });
    const tmp = mkdtempSync(path.join(path.dirname(dir), '.pull-'));
    try {
      const repo = this.opts.repository;
      const args = repo.toLowerCase().startsWith('oci://')
        ? ['pull', `${repo.replace(/\/+$/, '')}/${chart}`, '--version', version, '--untar', '--untardir', tmp]
        : ['pull', chart, '--repo', repo, '--version', version, '--untar', '--untardir', tmp];
      const r = await run(this.opts.helm as string, args, this.opts.timeoutMs, this.opts.env ?? process.env);
      if (!r.ok)
        return { missing: `helm pull ${chart} ${version} from ${repo} failed: ${firstLine(r.stderr)}` };
      const sub = readdirSync(tmp).find((f) => existsSync(path.join(tmp, f, 'Chart.yaml')));
      if (sub === undefined) return { missing: `helm pull ${chart} ${version}: no chart in what it wrote` };
      rmSync(dir, { recursive: true, force: true });
      renameSync(path.join(tmp, sub), dir);
      return dir;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  private async loadKeys(chart: Chart, version: string): Promise<void> {
    const key = `${chart}@${version}`;
    if (this.keyFacts.has(key)) return;
    const rec = recordedInventory(chart, version);
    if (rec) {
      this.keyFacts.set(key, rec);
      return;
    }
    const cached = path.join(this.cache, `${chart}-${version}`, `keys-r${INVENTORY_READER}.json`);
    if (existsSync(cached)) {
      this.keyFacts.set(key, {
        inventory: JSON.parse(readFileSync(cached, 'utf8')) as KeyInventory,
        source: `chart ${chart} ${version} from ${this.opts.repository} (cached)`,
      });
      return;
    }
    const dir = await this.pull(chart, version);
    if (typeof dir !== 'string') {
      this.keyFacts.set(key, { missing: `no key inventory of ${chart} ${version}: ${dir.missing}` });
      return;
    }
    const files = readTree(dir);
    const values = (parseYaml(files.get('values.yaml') ?? '') ?? {}) as Record<string, unknown>;
    const inventory = inventoryOf(files, values._internal_defaults_do_not_set ?? values);
    writeFileSync(cached, JSON.stringify(inventory));
    this.keyFacts.set(key, { inventory, source: `chart ${chart} ${version} from ${this.opts.repository}` });
  }

  private async loadRender(request: RenderRequest, version: string): Promise<void> {
    const rk = renderKey(request);
    const key = `${rk}@${version}`;
    if (this.renderFacts.has(key)) return;
    const rec = recordedRender(version, request);
    if (rec) {
      this.renderFacts.set(key, rec);
      return;
    }
    const cached = path.join(this.cache, `${request.chart}-${version}`, `render-${rk}.json`);
    if (existsSync(cached)) {
      this.renderFacts.set(key, {
        objects: JSON.parse(readFileSync(cached, 'utf8')) as Record<string, unknown>[],
        source: `helm template of ${request.chart} ${version} (cached)`,
      });
      return;
    }
    const dir = await this.pull(request.chart, version);
    if (typeof dir !== 'string') {
      this.renderFacts.set(key, { missing: `no render of ${request.chart} ${version}: ${dir.missing}` });
      return;
    }
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'upgrade-values-'));
    try {
      const valuesFile = path.join(tmp, 'values.json');
      writeFileSync(valuesFile, JSON.stringify(request.values));
      const r = await run(
        this.opts.helm as string,
        [
          'template',
          request.release,
          dir,
          '--namespace',
          request.namespace,
          '--kube-version',
          this.opts.kubeVersion,
          '--include-crds',
          '--values',
          valuesFile,
        ],
        this.opts.timeoutMs,
        this.opts.env ?? process.env,
      );
      if (!r.ok) {
        this.renderFacts.set(key, {
          missing: `helm template ${request.chart} ${version} failed: ${firstLine(r.stderr)}`,
        });
        return;
      }
      const objects = parseAllDocuments(r.stdout)
        .map((d) => d.toJS() as unknown)
        .filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object');
      writeFileSync(cached, JSON.stringify(objects));
      this.renderFacts.set(key, {
        objects,
        source: `helm template of ${request.chart} ${version} from ${this.opts.repository}`,
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Looks up every fact the plan will ask for. */
  async prefetch(
    keys: readonly { chart: Chart; version: string }[],
    renders: readonly { request: RenderRequest; version: string }[],
  ): Promise<void> {
    for (const k of keys) await this.loadKeys(k.chart, k.version);
    for (const r of renders) await this.loadRender(r.request, r.version);
  }
}
