import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../test/helpers/fake-apiserver.ts';
import { fakeClusterTools, fixture, makeFakeBin } from '../test/helpers/fake-bin.ts';
import { pollUntil } from '../harness/wait.ts';

/**
 * A signal while the conformance tests run: the harness's cleanup must win over Vitest's own
 * SIGINT/SIGTERM handlers (which exit the process 1 ms later), so the kind cluster is deleted,
 * and the run exits 130/143. INSTALL-01 is held in a hung API call (the Helm release Secrets read).
 */
const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ambient-conformance.mjs');
/** npm from this machine's PATH; it runs under the `node` first on the run's PATH (Node 24). */
const NPM = execaSync('sh', ['-c', 'command -v npm']).stdout.trim();

let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer({ hang: /\/namespaces\/istio-system\/secrets$/ });
});
afterAll(() => api.close());

const cases = [
  { signal: 'SIGINT', code: 130, via: 'node' },
  { signal: 'SIGTERM', code: 143, via: 'node' },
  // npm run conformance: the script execs node, so npm signals the run itself and waits for it.
  { signal: 'SIGTERM', code: 143, via: 'npm' },
] as const;

describe('interrupting the test phase', () => {
  it.each(cases)(
    '$signal during the tests deletes the cluster and exits $code (through $via)',
    async (c) => {
      const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
      const reports = path.join(home, 'reports');
      const template = path.join(home, 'kubeconfig.template');
      const name = `ambient-conformance-int${c.code}-${c.via}`;
      writeFileSync(template, kubeconfigFor(api.url, `kind-${name}`));
      // The delete takes a second and leaves a mark when it has finished: the run must wait for it.
      const deleted = path.join(home, 'deleted');
      const fake = fakeClusterTools(template, [], {
        match: 'delete cluster',
        script: `sleep 1; touch '${deleted}'`,
      });
      const before = api.requests.length;
      const args = ['--cluster-name', name, '--only', 'INSTALL-01', '--reports-dir', reports];
      const env = { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') };
      const child =
        c.via === 'node'
          ? execa(process.execPath, [BIN, 'run', ...args], {
              reject: false,
              timeout: 120_000,
              forceKillAfterDelay: false,
              env,
              extendEnv: false,
            })
          : execa(NPM, ['run', '-s', 'conformance', '--', ...args], {
              reject: false,
              timeout: 120_000,
              forceKillAfterDelay: false,
              cwd: ROOT,
              env: {
                ...env,
                npm_config_cache: path.join(home, 'npm-cache'),
                npm_config_update_notifier: 'false',
              },
              extendEnv: false,
            });
      await pollUntil({
        what: 'INSTALL-01 to be waiting on the Helm release Secrets',
        timeoutMs: 90_000,
        intervalMs: 100,
        read: () =>
          Promise.resolve(api.requests.slice(before).some((r) => r.endsWith('/istio-system/secrets'))),
        judge: (seen) => ({ done: seen, seen: seen ? 'requested' : 'not yet' }),
      });
      const t0 = Date.now();
      child.kill(c.signal);
      const r = await child;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(c.code);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(fake.calls('kind').some((k) => k[0] === 'delete' && k.includes(name))).toBe(true);
      expect(existsSync(deleted), 'kind delete finished before the run exited').toBe(true);
      const [runDir] = readdirSync(reports);
      const summary = readFileSync(path.join(reports, runDir ?? '', 'summary.md'), 'utf8');
      expect(summary).toContain('interrupted');
    },
    150_000,
  );
});

describe("interrupting the test phase on a user's cluster", () => {
  it('SIGTERM during the tests uninstalls the four releases this run installed, newest first, deletes its marker and exits 143', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const reports = path.join(home, 'reports');
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
    const fake = makeFakeBin({
      helm: [
        { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
        { match: 'list', stdout: '[]\n' },
        { match: 'install', stdout: 'STATUS: deployed\n' },
        { match: 'uninstall', stdout: 'release uninstalled\n' },
      ],
    });
    const leasesBefore = new Set(api.leases.keys());
    const before = api.requests.length;
    const child = execa(
      process.execPath,
      [BIN, 'run', '--kubeconfig', kubeconfig, '--only', 'INSTALL-01', '--reports-dir', reports],
      {
        reject: false,
        timeout: 120_000,
        forceKillAfterDelay: false,
        env: { PATH: fake.path, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
        extendEnv: false,
      },
    );
    await pollUntil({
      what: 'INSTALL-01 to be waiting on the Helm release Secrets',
      timeoutMs: 90_000,
      intervalMs: 100,
      read: () =>
        Promise.resolve(api.requests.slice(before).some((r) => r.endsWith('/istio-system/secrets'))),
      judge: (seen) => ({ done: seen, seen: seen ? 'requested' : 'not yet' }),
    });
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(143);
    expect(
      fake
        .calls('helm')
        .filter((c) => c[0] === 'uninstall')
        .map((c) => c[1]),
    ).toEqual(['ztunnel', 'istio-cni', 'istiod', 'istio-base']);
    expect([...api.leases.keys()].filter((k) => !leasesBefore.has(k))).toEqual([]);
    const [runDir] = readdirSync(reports);
    const left = JSON.parse(readFileSync(path.join(reports, runDir ?? '', 'leftovers.json'), 'utf8')) as {
      state: string;
      left: unknown[];
    };
    expect(left).toMatchObject({ state: 'interrupted by SIGTERM during tests; cleanup finished', left: [] });
  }, 150_000);
});
