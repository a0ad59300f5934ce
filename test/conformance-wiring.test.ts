import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunFacts } from '../harness/facts.ts';
import type { TestResultRecord } from '../harness/report/results.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from './helpers/fake-apiserver.ts';

/**
 * The conformance project's wiring, without running any conformance check: globalSetup reads the
 * run's facts and provides them; every registered test is reported, and a run without a usable
 * cluster skips each claim with its reason instead of passing or vanishing.
 */
const ROOT = path.join(import.meta.dirname, '..');
let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

describe('conformance project wiring', () => {
  it('skips every claim with its reason when the run provides no cluster, and writes results, JUnit and Allure', async () => {
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'wiring-'));
    const kubeconfig = path.join(runDir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api.url, 'fake'), { mode: 0o600 });
    const unavailable = { available: false, reason: 'wiring test: no cluster' };
    const facts: RunFacts = {
      runId: 'wiring',
      runDir,
      mode: 'kind',
      clusterName: 'none',
      kubeconfig,
      context: 'fake',
      profilePath: path.join(ROOT, 'profiles/homelab/profile.yaml'),
      istioNamespace: 'istio-system',
      istioVersion: '1.28.3',
      kubernetesVersion: 'unknown',
      helmVersion: 'v4.2.1',
      helmPath: 'helm',
      helmMajor: 4,
      nodes: [],
      meshedNamespaces: ['default'],
      controlNamespace: 'plain',
      keepOnFailure: false,
      only: [],
      skip: [],
      features: {
        cluster: unavailable,
        kindNodes: unavailable,
        metricsApi: unavailable,
        istioOwnedByRun: unavailable,
        namespacesOwnedByRun: unavailable,
        hostTrafficJudged: unavailable,
        destructive: unavailable,
      },
      installOrder: [],
    };
    const state = path.join(runDir, 'run-state.json');
    writeFileSync(state, JSON.stringify(facts));
    // Asynchronous: the fake API server lives in this process and must keep answering.
    const r = await execa(
      process.execPath,
      [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'conformance'],
      {
        cwd: ROOT,
        reject: false,
        timeout: 60_000,
        env: { AMBIENT_RUN_DIR: runDir, AMBIENT_RUN_STATE: state },
      },
    );
    expect(r.exitCode, `${r.stderr}${r.stdout}`).toBe(0);
    const results = JSON.parse(readFileSync(path.join(runDir, 'results.json'), 'utf8')) as TestResultRecord[];
    expect(results.map((x) => x.id)).toEqual(
      expect.arrayContaining(['INSTALL-01', 'INSTALL-02', 'INSTALL-03', 'INSTALL-04']),
    );
    for (const x of results) {
      expect(x.status).toBe('SKIP');
      expect(
        x.reason?.startsWith(`Skipping ${x.id}: this run does not provide cluster (wiring test: no cluster)`),
      ).toBe(true);
    }
    expect(readFileSync(path.join(runDir, 'junit.xml'), 'utf8')).toContain('INSTALL-01');
    expect(existsSync(path.join(runDir, 'allure-results'))).toBe(true);
    expect(readdirSync(path.join(runDir, 'allure-results')).length).toBeGreaterThan(0);

    // npm run report renders the Allure 3 HTML report from those results (no Java).
    const rep = await execa(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts/report.ts'), runDir],
      { cwd: ROOT, reject: false, timeout: 120_000 },
    );
    expect(rep.exitCode, `${rep.stderr}${rep.stdout}`).toBe(0);
    expect(existsSync(path.join(runDir, 'allure-report', 'index.html'))).toBe(true);
  }, 180_000);
});
