import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_HELM, realHelm, realHelmUnavailable } from '../../test/helpers/real-helm.ts';
import { ChartFactsStore } from './chart-facts.ts';
import { INVENTORY_READER } from './chart-keys.ts';

/**
 * The plan's fallback when no fact is recorded: the chart fetched with the real Helm 4 from a
 * chart repository (here one served on 127.0.0.1), its key inventory and render computed and
 * cached, and read from the cache the next time without Helm.
 */
const unavailable = realHelmUnavailable();
const VERSION = '1.99.0';

let helm = '';
let server: Server;
let repo = '';
const work = mkdtempSync(path.join(os.tmpdir(), 'chart-facts-'));
const env = () => ({
  PATH: '/usr/bin:/bin',
  HOME: path.join(work, 'home'),
  HELM_CACHE_HOME: path.join(work, 'hc'),
  HELM_CONFIG_HOME: path.join(work, 'hcfg'),
  HELM_DATA_HOME: path.join(work, 'hd'),
  NO_PROXY: '127.0.0.1',
});

beforeAll(async () => {
  if (unavailable) return;
  const pin = REAL_HELM.find((h) => h.major === 4);
  if (!pin) throw new Error('no Helm 4 pinned');
  helm = await realHelm(pin);
  // A chart shaped like Istio's: defaults under _internal_defaults_do_not_set, a template reading two keys.
  const chart = path.join(work, 'src', 'ztunnel');
  mkdirSync(path.join(chart, 'templates'), { recursive: true });
  writeFileSync(
    path.join(chart, 'Chart.yaml'),
    `apiVersion: v2\nname: ztunnel\nversion: ${VERSION}\nappVersion: ${VERSION}\n`,
  );
  writeFileSync(
    path.join(chart, 'values.yaml'),
    '_internal_defaults_do_not_set:\n  hub: docker.io/istio\n  resources: {}\n',
  );
  writeFileSync(
    path.join(chart, 'templates', 'daemonset.yaml'),
    'apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ztunnel\n  namespace: {{ .Release.Namespace }}\n  labels: {app.kubernetes.io/version: "{{ .Chart.AppVersion }}"}\nspec:\n  template:\n    spec:\n      containers:\n        - name: z\n          image: "{{ .Values.hub }}/ztunnel"\n          resources: {{ toJson .Values.resources }}\n',
  );
  const out = path.join(work, 'repo');
  mkdirSync(out);
  execFileSync(helm, ['package', chart, '--destination', out], { env: env() });
  server = createServer((req, res) => {
    try {
      res.end(readFileSync(path.join(out, path.basename(req.url ?? ''))));
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  repo = `http://127.0.0.1:${port}`;
  execFileSync(helm, ['repo', 'index', out, '--url', repo], { env: env() });
}, 180_000);

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
});

describe.skipIf(unavailable)('chart facts fetched with Helm (no recorded inventory for the version)', () => {
  it('pulls the chart, reads its keys and renders it, then serves both from the cache without Helm', async () => {
    const cacheDir = path.join(work, 'cache');
    const request = {
      chart: 'ztunnel' as const,
      release: 'ztunnel',
      namespace: 'istio-system',
      values: { hub: 'example.org/istio' },
    };
    const store = new ChartFactsStore({
      offline: false,
      repository: repo,
      helm,
      kubeVersion: '1.34.0',
      timeoutMs: 60_000,
      cacheDir,
      env: env(),
    });
    await store.prefetch([{ chart: 'ztunnel', version: VERSION }], [{ request, version: VERSION }]);
    const keys = store.keys('ztunnel', VERSION);
    expect(keys).toEqual({
      inventory: {
        reads: ['hub', 'resources'],
        descoped: [],
        flattensGlobal: false,
        defaults: ['hub', 'resources'],
      },
      source: `chart ztunnel ${VERSION} from ${repo}`,
    });
    const render = store.render(request, VERSION);
    expect('objects' in render && render.objects[0]).toMatchObject({
      kind: 'DaemonSet',
      metadata: { namespace: 'istio-system', labels: { 'app.kubernetes.io/version': VERSION } },
      spec: { template: { spec: { containers: [{ image: 'example.org/istio/ztunnel' }] } } },
    });

    const again = new ChartFactsStore({
      offline: true,
      repository: repo,
      kubeVersion: '1.34.0',
      timeoutMs: 1_000,
      cacheDir,
    });
    await again.prefetch([{ chart: 'ztunnel', version: VERSION }], [{ request, version: VERSION }]);
    expect(again.keys('ztunnel', VERSION)).toMatchObject({
      source: `chart ztunnel ${VERSION} from ${repo} (cached)`,
    });
    expect('objects' in again.render(request, VERSION)).toBe(true);

    // An inventory an older reader cached (keys.json, before `dig` was read) is not served: the
    // cached chart is read again, without Helm, into keys-r<INVENTORY_READER>.json.
    const folder = path.dirname(
      (readdirSync(cacheDir, { recursive: true }) as string[])
        .map((f) => path.join(cacheDir, f))
        .find((f) => path.basename(f) === `keys-r${INVENTORY_READER}.json`) ?? '',
    );
    rmSync(path.join(folder, `keys-r${INVENTORY_READER}.json`));
    writeFileSync(
      path.join(folder, 'keys.json'),
      JSON.stringify({ reads: [], descoped: [], flattensGlobal: false, defaults: [] }),
    );
    const reread = new ChartFactsStore({
      offline: true,
      repository: repo,
      kubeVersion: '1.34.0',
      timeoutMs: 1_000,
      cacheDir,
    });
    await reread.prefetch([{ chart: 'ztunnel', version: VERSION }], []);
    expect(reread.keys('ztunnel', VERSION)).toMatchObject({ inventory: { reads: ['hub', 'resources'] } });
  });

  it('a version the repository does not have: missing, with helm’s reason', async () => {
    const store = new ChartFactsStore({
      offline: false,
      repository: repo,
      helm,
      kubeVersion: '1.34.0',
      timeoutMs: 60_000,
      cacheDir: path.join(work, 'cache2'),
      env: env(),
    });
    await store.prefetch([{ chart: 'ztunnel', version: '1.98.0' }], []);
    expect(store.keys('ztunnel', '1.98.0')).toEqual({
      missing: expect.stringMatching(
        /^no key inventory of ztunnel 1\.98\.0: helm pull ztunnel 1\.98\.0 from http:\/\/127\.0\.0\.1:\d+ failed: .*1\.98\.0/,
      ) as string,
    });
  });
});
