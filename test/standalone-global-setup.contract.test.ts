import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClusterTools } from './helpers/fake-bin.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from './helpers/fake-apiserver.ts';

/**
 * `vitest run --project conformance` without the CLI: globalSetup itself runs preflight, creates
 * the cluster and installs Istio once (fake docker, kind, helm and API server here), provides the
 * facts, and deletes the cluster afterwards. Every test is deselected (AMBIENT_SKIP='*').
 */
const ROOT = path.join(import.meta.dirname, '..');
let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

describe('globalSetup run directly', () => {
  it('prepares the environment once, provides the facts and cleans up', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'standalone-'));
    const template = path.join(home, 'kubeconfig.template');
    writeFileSync(template, kubeconfigFor(api.url, 'kind-ambient-conformance-sa01'));
    const fake = fakeClusterTools(template);
    const r = await execa(
      process.execPath,
      [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'conformance'],
      {
        cwd: ROOT,
        reject: false,
        timeout: 120_000,
        extendEnv: false,
        env: {
          PATH: fake.path,
          HOME: home,
          AMBIENT_TOOL_CACHE: path.join(home, 'tools'),
          AMBIENT_SKIP: '*',
          AMBIENT_CLUSTER_NAME: 'ambient-conformance-sa01',
          AMBIENT_REPORTS_DIR: path.join(home, 'reports'),
        },
      },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const kindCalls = fake.calls('kind').filter((c) => c[0] !== 'version');
    expect(kindCalls.map((c) => c.slice(0, 2).join(' '))).toEqual([
      'get clusters',
      'create cluster',
      'delete cluster',
    ]);
    expect(
      fake
        .calls('helm')
        .filter((c) => c[0] === 'install')
        .map((c) => c[1]),
    ).toEqual(['metrics-server', 'istio-base', 'istiod', 'istio-cni', 'ztunnel']);
  }, 150_000);
});
