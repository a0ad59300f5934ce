import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { V1Lease } from '@kubernetes/client-node';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerLease, parseMarker } from '../harness/kube/marker.ts';
import { pollUntil } from '../harness/wait.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../test/helpers/fake-apiserver.ts';
import { fixture, makeFakeBin } from '../test/helpers/fake-bin.ts';

/**
 * `ambient-conformance clean` against the fake API server holding three runs' markers (a live
 * one, a stale one with two releases, one kept with --keep) and their labelled namespaces, and a
 * fake helm that records its uninstalls.
 */
const BIN = path.join(import.meta.dirname, '..', 'bin', 'ambient-conformance.mjs');
let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

function seed() {
  const now = Date.now();
  const releases = [
    { name: 'istio-base', namespace: 'istio-system' },
    { name: 'istiod', namespace: 'istio-system' },
  ];
  const put = (runId: string, renewed: number, kept = false) =>
    api.leases.set(
      `default/ambient-conformance-${runId}`,
      markerLease(runId, 'ci/1', new Date(renewed), releases, kept) as unknown as Record<string, unknown>,
    );
  put('run-live', now);
  put('run-stale', now - 3_600_000);
  put('run-kept', now - 7_200_000, true);
  for (const [ns, runId] of [
    ['netpol-01-aaaaa', 'run-live'],
    ['mtls-01-bbbbb', 'run-stale'],
    ['authz-01-ccccc', 'run-kept'],
  ] as const)
    api.namespaces.set(ns, {
      metadata: {
        name: ns,
        labels: {
          'ambient-conformance.io/run-id': runId,
          'app.kubernetes.io/managed-by': 'ambient-conformance',
        },
      },
    });
}

function cli(args: string[]) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
  const kubeconfig = path.join(home, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
  const fake = makeFakeBin({
    helm: [
      { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
      { match: 'uninstall', stdout: 'release uninstalled\n' },
    ],
  });
  return {
    fake,
    result: execa(process.execPath, [BIN, 'clean', '--kubeconfig', kubeconfig, ...args], {
      reject: false,
      timeout: 60_000,
      env: { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
      extendEnv: false,
    }),
  };
}

describe('ambient-conformance clean', { timeout: 90_000 }, () => {
  it('without --yes lists every run and its state and removes nothing', async () => {
    seed();
    const { fake, result } = cli([]);
    const r = await result;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/run-live\s.*live/);
    expect(r.stdout).toMatch(/run-stale\s.*stale/);
    expect(r.stdout).toMatch(/run-kept\s.*kept/);
    expect(r.stdout).toContain('Run again with --yes to remove 1 run(s)');
    expect(r.stdout).toContain('helm uninstall istiod --namespace istio-system');
    expect(fake.calls('helm').filter((c) => c[0] === 'uninstall')).toEqual([]);
    expect(api.leases.size).toBe(3);
    expect(api.namespaces.has('mtls-01-bbbbb')).toBe(true);
  });

  it('--json lists runs with their commands', async () => {
    seed();
    const r = await cli(['--json']).result;
    const json = JSON.parse(r.stdout) as {
      runs: { runId: string; state: string; remove: boolean; commands: string[] }[];
    };
    expect(json.runs.map((x) => [x.runId, x.state, x.remove])).toEqual([
      ['run-kept', 'kept', false],
      ['run-live', 'live', false],
      ['run-stale', 'stale', true],
    ]);
  });

  it('--yes uninstalls the stale run’s recorded releases newest first, deletes its namespaces and then its marker; live and kept runs stay', async () => {
    seed();
    const { fake, result } = cli(['--yes']);
    const r = await result;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(
      fake
        .calls('helm')
        .filter((c) => c[0] === 'uninstall')
        .map((c) => c.slice(0, 4)),
    ).toEqual([
      ['uninstall', 'istiod', '--namespace', 'istio-system'],
      ['uninstall', 'istio-base', '--namespace', 'istio-system'],
    ]);
    expect(api.namespaces.has('mtls-01-bbbbb')).toBe(false);
    expect(api.leases.has('default/ambient-conformance-run-stale')).toBe(false);
    expect(api.namespaces.has('netpol-01-aaaaa')).toBe(true);
    expect(api.namespaces.has('authz-01-ccccc')).toBe(true);
    expect(api.leases.has('default/ambient-conformance-run-live')).toBe(true);
    expect(api.leases.has('default/ambient-conformance-run-kept')).toBe(true);
  });

  it('what a SIGKILLed run left (its marker records the release it was installing) is swept once the marker is stale', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
    const pidFile = path.join(home, 'pid');
    const fake = makeFakeBin({
      helm: [
        { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
        { match: 'list', stdout: '[]\n' },
        { match: 'install istiod ', script: `echo $$ > '${pidFile}'; exec sleep 120` },
        { match: 'install', stdout: 'STATUS: deployed\n' },
        { match: 'uninstall', stdout: 'release uninstalled\n' },
      ],
    });
    const env = { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') };
    const before = new Set(api.leases.keys());
    const child = execa(
      process.execPath,
      [BIN, 'run', '--kubeconfig', kubeconfig, '--reports-dir', path.join(home, 'r')],
      {
        reject: false,
        env,
        extendEnv: false,
      },
    );
    await pollUntil({
      what: 'helm install istiod to be blocked',
      timeoutMs: 60_000,
      intervalMs: 100,
      read: () => Promise.resolve(existsSync(pidFile)),
      judge: (b) => ({ done: b, seen: String(b) }),
    });
    child.kill('SIGKILL');
    await child;
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const key = [...api.leases.keys()].find((k) => !before.has(k));
    const lease = key ? api.leases.get(key) : undefined;
    expect(lease, 'the run left its marker').toBeDefined();
    const marker = parseMarker(lease as V1Lease);
    expect(marker?.releases.map((x) => x.name)).toEqual(['istio-base', 'istiod']);
    // Still live right after the kill: clean leaves it.
    const live = await execa(process.execPath, [BIN, 'clean', '--kubeconfig', kubeconfig, '--yes'], {
      reject: false,
      env,
      extendEnv: false,
    });
    expect(
      fake.calls('helm').filter((c) => c[0] === 'uninstall'),
      live.stdout,
    ).toEqual([]);
    // Three lease durations later it is stale.
    const spec = (lease as V1Lease).spec ?? {};
    spec.renewTime = new Date(Date.now() - 600_000);
    const swept = await execa(process.execPath, [BIN, 'clean', '--kubeconfig', kubeconfig, '--yes'], {
      reject: false,
      env,
      extendEnv: false,
    });
    expect(swept.exitCode, swept.stderr).toBe(0);
    expect(
      fake
        .calls('helm')
        .filter((c) => c[0] === 'uninstall')
        .map((c) => c[1]),
    ).toEqual(['istiod', 'istio-base']);
    expect(key && api.leases.has(key)).toBe(false);
  });

  it('SIGTERM during clean --yes stops the uninstall in flight and exits 143; the marker stays for the next clean', async () => {
    seed();
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
    const pidFile = path.join(home, 'pid');
    const fake = makeFakeBin({
      helm: [
        { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
        { match: 'uninstall', script: `echo $$ > '${pidFile}'; exec sleep 120` },
      ],
    });
    const child = execa(process.execPath, [BIN, 'clean', '--kubeconfig', kubeconfig, '--yes'], {
      reject: false,
      forceKillAfterDelay: false,
      env: { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
      extendEnv: false,
    });
    await pollUntil({
      what: 'helm uninstall to be blocked',
      timeoutMs: 60_000,
      intervalMs: 100,
      read: () => Promise.resolve(existsSync(pidFile)),
      judge: (b) => ({ done: b, seen: String(b) }),
    });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(143);
    expect(r.stderr).toContain('clean: interrupted by SIGTERM');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await pollUntil({
      what: `the cancelled helm uninstall (pid ${pid}) to be gone`,
      timeoutMs: 10_000,
      intervalMs: 100,
      read: () =>
        Promise.resolve(
          (() => {
            try {
              process.kill(pid, 0);
              return true;
            } catch {
              return false;
            }
          })(),
        ),
      judge: (a) => ({ done: !a, seen: a ? 'alive' : 'gone' }),
    });
    expect(api.leases.has('default/ambient-conformance-run-stale')).toBe(true);
    expect(fake.calls('helm').filter((c) => c[0] === 'uninstall')).toHaveLength(1);
  });

  it('a run whose user may not create the marker Lease stops at cluster.marker, naming what is missing, installing nothing', async () => {
    const forbidding = await startFakeApiServer({ forbidCreate: /\/leases$/ });
    try {
      const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
      const kubeconfig = path.join(home, 'kubeconfig');
      writeFileSync(kubeconfig, kubeconfigFor(forbidding.url, 'staging'), { mode: 0o600 });
      const fake = makeFakeBin({
        helm: [
          { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
          { match: 'list', stdout: '[]\n' },
          { match: 'install', stdout: 'STATUS: deployed\n' },
        ],
      });
      const r = await execa(
        process.execPath,
        [BIN, 'run', '--kubeconfig', kubeconfig, '--reports-dir', path.join(home, 'r')],
        {
          reject: false,
          env: { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
          extendEnv: false,
        },
      );
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain('cannot create the run marker Lease default/ambient-conformance-');
      expect(r.stderr).toContain('seen:     HTTP 403');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(fake.calls('helm').filter((c) => c[0] === 'install')).toEqual([]);
    } finally {
      await forbidding.close();
    }
  });

  it('an API that does not answer is exit 3 naming its address; a bad kubeconfig is exit 2', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const kc = path.join(home, 'kc');
    writeFileSync(kc, kubeconfigFor('http://127.0.0.1:1', 'x'));
    const down = await execa(process.execPath, [BIN, 'clean', '--kubeconfig', kc], {
      reject: false,
      env: { HOME: home },
    });
    expect(down.exitCode, down.stderr).toBe(3);
    expect(down.stderr).toContain('the cluster API at http://127.0.0.1:1 does not answer');
    expect(down.stderr).not.toMatch(/\n\s+at /);
    const bad = await execa(process.execPath, [BIN, 'clean', '--kubeconfig', home], {
      reject: false,
      env: { HOME: home },
    });
    expect(bad.exitCode, bad.stderr).toBe(2);
  });
});
