import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClusterTools } from '../test/helpers/fake-bin.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../test/helpers/fake-apiserver.ts';

/**
 * `ambient-conformance run` end to end against fake docker, kind and helm executables and a fake
 * API server, with every conformance test deselected (--skip '*'): the whole pipeline runs
 * (preflight, cluster, installs, Vitest, reports, teardown) and no conformance check passes here.
 */
const BIN = path.join(import.meta.dirname, '..', 'bin', 'ambient-conformance.mjs');
let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

describe('ambient-conformance run (pipeline contract)', () => {
  it('prepares, runs the suites, reports every claim and deletes the cluster', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const reports = path.join(home, 'reports');
    const template = path.join(home, 'kubeconfig.template');
    writeFileSync(template, kubeconfigFor(api.url, 'kind-ambient-conformance-e2e1'));
    const fake = fakeClusterTools(template);
    const r = await execa(
      process.execPath,
      [BIN, 'run', '--cluster-name', 'ambient-conformance-e2e1', '--skip', '*', '--reports-dir', reports],
      {
        reject: false,
        timeout: 120_000,
        env: { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
        extendEnv: false,
      },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.exitCode, out).toBe(0);
    for (const phase of ['preflight', 'cluster', 'addons', 'workloads', 'istio', 'tests', 'cleanup'])
      expect(out).toMatch(new RegExp(`✔ ${phase} done in`));
    expect(out).toContain('PARTIAL in');

    const [runDir] = readdirSync(reports);
    const dir = path.join(reports, runDir ?? '');
    const report = JSON.parse(readFileSync(path.join(dir, 'conformance-report.json'), 'utf8')) as {
      summary: Record<string, unknown>;
      results: Record<string, { status: string; reason: string }>;
      environment: Record<string, unknown>;
    };
    expect(report.summary).toMatchObject({ result: 'partial', passed: 0, failed: 0 });
    expect(report.results['INSTALL-01']).toEqual(
      expect.objectContaining({ status: 'SKIP', reason: 'skipped by --skip *' }),
    );
    expect(report.environment).toMatchObject({
      kubernetesVersion: 'v1.34.0',
      kindVersion: 'v0.30.0',
      helmVersion: 'v4.2.1',
    });
    expect(readFileSync(path.join(dir, 'junit.xml'), 'utf8')).toContain('INSTALL-04');
    const plan = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8')) as {
      steps: { id: string; command?: string[] }[];
    };
    const executed = fake.calls('helm').filter((c) => c[0] === 'install');
    expect(executed).toEqual(
      plan.steps.filter((s) => s.command?.[1] === 'install').map((s) => s.command?.slice(1)),
    );
    expect(fake.calls('kind').at(-1)?.slice(0, 4)).toEqual([
      'delete',
      'cluster',
      '--name',
      'ambient-conformance-e2e1',
    ]);
  }, 120_000);
});
