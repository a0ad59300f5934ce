import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeftoversRecord } from '../harness/cleanup.ts';
import { pollUntil } from '../harness/wait.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../test/helpers/fake-apiserver.ts';
import { fixture, makeFakeBin, type FakeResponse } from '../test/helpers/fake-bin.ts';

/**
 * A signal in every phase before and after the tests (the test phase itself:
 * interrupt.contract.test.ts). Each case makes one fake tool block where a real one can hang (a
 * `docker info` that never answers, a `kind create` or `helm install` that takes minutes, a
 * `kind export logs` or `kind delete` that stalls): the blocking fake writes its PID and execs
 * `sleep`, so the PID is the process the run must stop. After SIGINT or SIGTERM: the blocked
 * process is gone, nothing new was started, what had been created is deleted (kind delete;
 * helm uninstall in reverse install order for a user's cluster), the exit code is 130 or 143,
 * and the run folder holds the leftovers record and reports that say "interrupted during <phase>".
 */
const BIN = path.join(import.meta.dirname, '..', 'bin', 'ambient-conformance.mjs');

let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

const SIGNALS = [
  { signal: 'SIGINT', code: 130 },
  { signal: 'SIGTERM', code: 143 },
] as const;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A fake answer that blocks: it records its PID, then becomes `sleep` (same PID). */
function blocking(match: string, pidFile: string): FakeResponse {
  return { match, script: `echo $$ > '${pidFile}'; exec sleep 120` };
}

interface Started {
  home: string;
  reports: string;
  pidFile: string;
  child: ResultPromise;
}

function start(
  args: string[],
  fakePath: string,
  home: string,
): ResultPromise<{ reject: false; timeout: number; extendEnv: false }> {
  return execa(process.execPath, [BIN, 'run', ...args], {
    reject: false,
    timeout: 170_000,
    // The run's own cleanup decides when it exits: no SIGKILL 5 s after our SIGTERM.
    forceKillAfterDelay: false,
    env: { PATH: fakePath, HOME: home, AMBIENT_TOOL_CACHE: path.join(home, 'tools') },
    extendEnv: false,
  });
}

async function blockedPid(s: Pick<Started, 'pidFile' | 'child'>, what: string): Promise<number> {
  let ended: string | undefined;
  void s.child.then((r) => {
    ended = `the run ended first (exit ${r.exitCode})\n${String(r.stderr)}`;
  });
  return pollUntil({
    what,
    // Generous: on a loaded 2-CPU machine a run takes a while to reach its blocking step.
    timeoutMs: 100_000,
    intervalMs: 100,
    read: () => Promise.resolve(existsSync(s.pidFile) ? Number(readFileSync(s.pidFile, 'utf8').trim()) : 0),
    judge: (pid) => ({
      done: pid > 0,
      impossible: ended,
      seen: pid > 0 ? `pid ${pid}` : 'not yet',
    }),
  });
}

function runFolder(reports: string) {
  const [runDir] = readdirSync(reports);
  const dir = path.join(reports, runDir ?? '');
  return {
    summary: readFileSync(path.join(dir, 'summary.md'), 'utf8'),
    report: JSON.parse(readFileSync(path.join(dir, 'conformance-report.json'), 'utf8')) as {
      summary: { result: string };
      results: Record<string, { status: string; reason?: string }>;
      phases: { name: string; status: string; detail?: string }[];
    },
    leftovers: JSON.parse(readFileSync(path.join(dir, 'leftovers.json'), 'utf8')) as LeftoversRecord,
  };
}

/** docker, kind and helm of a healthy machine, with some kind or helm answers replaced. */
function kindTools(
  template: string,
  replace: {
    create?: FakeResponse;
    exportLogs?: FakeResponse;
    delete?: FakeResponse;
    install?: FakeResponse;
  },
) {
  return makeFakeBin({
    docker: [
      { match: 'info', stdout: fixture('docker/info-daemon-up.stdout') },
      { match: 'version', stdout: '28.2.2\n' },
    ],
    kind: [
      { match: 'version', stdout: fixture('kind/version.stdout') },
      { match: 'get clusters', stderr: fixture('kind/get-clusters-none.stderr') },
      replace.create ?? {
        match: 'create cluster',
        stderr: fixture('kind/create-ok.stderr'),
        script: `while [ $# -gt 0 ]; do if [ "$1" = --kubeconfig ]; then cp '${template}' "$2"; fi; shift; done`,
      },
      replace.exportLogs ?? { match: 'export logs', stderr: '' },
      replace.delete ?? { match: 'delete cluster', stderr: fixture('kind/delete.stderr') },
    ],
    helm: [
      { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
      replace.install ?? { match: 'install', stdout: 'STATUS: deployed\n' },
    ],
  });
}

function homeDir() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
  return { home, reports: path.join(home, 'reports'), pidFile: path.join(home, 'blocked.pid') };
}

describe.concurrent('interrupting a kind run in each phase', { timeout: 180_000 }, () => {
  describe.each(SIGNALS)('$signal', ({ signal, code }) => {
    it(`during preflight (docker info hangs): stops it, creates nothing, exits ${code}`, async () => {
      const { home, reports, pidFile } = homeDir();
      const fake = makeFakeBin({
        docker: [blocking('info', pidFile)],
        kind: [{ match: 'version', stdout: fixture('kind/version.stdout') }],
        helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
      });
      const child = start(['--cluster-name', 'ac-pre', '--reports-dir', reports], fake.path, home);
      const pid = await blockedPid({ pidFile, child }, 'docker info to be blocked');
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(code);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(alive(pid), 'the blocked docker info was stopped').toBe(false);
      expect(fake.calls('kind').filter((c) => c[0] !== 'version')).toEqual([]);
      const f = runFolder(reports);
      expect(f.report.summary.result).toBe('interrupted');
      expect(f.report.phases.find((p) => p.name === 'preflight')).toMatchObject({
        status: 'interrupted',
        detail: `interrupted by ${signal} during preflight`,
      });
      expect(f.summary).toContain(`interrupted by ${signal} during preflight`);
      expect(f.leftovers.left).toEqual([]);
    });

    it(`during kind create: stops it, then deletes the half-created cluster, exits ${code}`, async () => {
      const { home, reports, pidFile } = homeDir();
      const template = path.join(home, 'kubeconfig.template');
      writeFileSync(template, kubeconfigFor(api.url, 'kind-ac-create'));
      const checked = path.join(home, 'create-alive-at-delete');
      const fake = kindTools(template, {
        create: blocking('create cluster', pidFile),
        delete: {
          match: 'delete cluster',
          // The delete must start after the create was stopped.
          script: `if kill -0 "$(cat '${pidFile}')" 2>/dev/null; then echo alive > '${checked}'; else echo gone > '${checked}'; fi`,
          stderr: fixture('kind/delete.stderr'),
        },
      });
      const child = start(['--cluster-name', 'ac-create', '--reports-dir', reports], fake.path, home);
      const pid = await blockedPid({ pidFile, child }, 'kind create to be blocked');
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(code);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(alive(pid)).toBe(false);
      expect(readFileSync(checked, 'utf8').trim(), 'kind create was stopped before kind delete').toBe('gone');
      expect(fake.calls('kind').at(-1)?.slice(0, 4)).toEqual(['delete', 'cluster', '--name', 'ac-create']);
      expect(fake.calls('helm').filter((c) => c[0] === 'install')).toEqual([]);
      const f = runFolder(reports);
      expect(f.report.phases.find((p) => p.name === 'cluster')?.status).toBe('interrupted');
      expect(f.report.phases.find((p) => p.name === 'cleanup')?.status).toBe('passed');
      expect(f.leftovers).toMatchObject({
        state: `interrupted by ${signal} during cluster; cleanup finished`,
      });
      expect(f.leftovers.left).toEqual([]);
    });

    it(`during kind export logs after a failure: stops it, deletes the cluster, exits ${code}`, async () => {
      const { home, reports, pidFile } = homeDir();
      const template = path.join(home, 'kubeconfig.template');
      writeFileSync(template, kubeconfigFor(api.url, 'kind-ac-diag'));
      const fake = kindTools(template, {
        exportLogs: blocking('export logs', pidFile),
        install: { match: 'install', stderr: fixture('helm/install-timeout.stderr'), exit: 1 },
      });
      const child = start(['--cluster-name', 'ac-diag', '--reports-dir', reports], fake.path, home);
      const pid = await blockedPid({ pidFile, child }, 'kind export logs to be blocked');
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(code);
      expect(alive(pid)).toBe(false);
      expect(fake.calls('kind').at(-1)?.slice(0, 4)).toEqual(['delete', 'cluster', '--name', 'ac-diag']);
      const f = runFolder(reports);
      expect(f.report.phases.find((p) => p.name === 'diagnostics')?.status).toBe('interrupted');
      expect(f.summary).toContain(`interrupted by ${signal} during diagnostics`);
    });

    it(`during cleanup: cleanup goes on; a second ${signal} abandons it at once, stops the delete and prints what is left`, async () => {
      const { home, reports, pidFile } = homeDir();
      const template = path.join(home, 'kubeconfig.template');
      writeFileSync(template, kubeconfigFor(api.url, 'kind-ac-clean'));
      const fake = kindTools(template, { delete: blocking('delete cluster', pidFile) });
      const child = start(
        ['--cluster-name', 'ac-clean', '--skip', '*', '--reports-dir', reports],
        fake.path,
        home,
      );
      const pid = await blockedPid({ pidFile, child }, 'kind delete to be blocked');
      child.kill(signal);
      // The first signal does not stop cleanup: the delete goes on.
      await pollUntil({
        what: 'the leftovers record of the interruption',
        timeoutMs: 30_000,
        intervalMs: 100,
        read: () => {
          const [d] = existsSync(reports) ? readdirSync(reports) : [];
          const file = path.join(reports, d ?? '', 'leftovers.json');
          return Promise.resolve(existsSync(file) ? readFileSync(file, 'utf8') : '');
        },
        judge: (t) => ({ done: t.includes('interrupted by'), seen: t || 'no record yet' }),
      });
      expect(alive(pid), 'the first signal lets cleanup go on').toBe(true);
      const t0 = Date.now();
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(code);
      expect(Date.now() - t0, 'a second signal exits at once').toBeLessThan(3_000);
      expect(r.stderr).toContain('cleanup abandoned');
      expect(r.stderr).toMatch(/remove it: \S*kind delete cluster --name ac-clean/);
      await pollUntil({
        what: `the abandoned kind delete (pid ${pid}) to be stopped`,
        timeoutMs: 15_000,
        intervalMs: 100,
        read: () => Promise.resolve(alive(pid)),
        judge: (a) => ({ done: !a, seen: a ? 'alive' : 'gone' }),
      });
      const f = runFolder(reports);
      // The tests had finished: their results stay (here every claim was deselected, so SKIP).
      expect(f.report.results['INSTALL-01']).toMatchObject({ status: 'SKIP', reason: 'skipped by --skip *' });
      expect(f.leftovers.state).toBe(`cleanup abandoned (a second signal: ${signal})`);
      expect(f.leftovers.left).toEqual([
        {
          what: 'delete kind cluster ac-clean',
          command: expect.stringMatching(/kind delete cluster --name ac-clean( |$)/) as string,
        },
      ]);
    });
  });
});

const RELEASES = ['istio-base', 'istiod', 'istio-cni', 'ztunnel'] as const;

describe.concurrent(
  "interrupting a run on a user's cluster during each helm install",
  { timeout: 180_000 },
  () => {
    it.each(RELEASES.flatMap((release, i) => SIGNALS.map((s) => ({ release, i, ...s }))))(
      '$signal during helm install $release: stops it, installs nothing more, uninstalls what it installed (newest first), exits $code',
      async ({ release, i, signal, code }) => {
        const { home, reports, pidFile } = homeDir();
        const kubeconfig = path.join(home, 'kubeconfig');
        writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
        const fake = makeFakeBin({
          helm: [
            { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
            { match: 'list', stdout: '[]\n' },
            blocking(`install ${release} `, pidFile),
            { match: 'install', stdout: 'STATUS: deployed\n' },
            { match: 'uninstall', stdout: 'release uninstalled\n' },
          ],
        });
        const child = start(['--kubeconfig', kubeconfig, '--reports-dir', reports], fake.path, home);
        const pid = await blockedPid({ pidFile, child }, `helm install ${release} to be blocked`);
        const t0 = Date.now();
        child.kill(signal);
        const r = await child;
        expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(code);
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(alive(pid)).toBe(false);
        const helm = fake.calls('helm');
        expect(helm.filter((c) => c[0] === 'install').map((c) => c[1])).toEqual(RELEASES.slice(0, i + 1));
        // Its own release may be half-installed: it is uninstalled too, before the older ones.
        expect(helm.filter((c) => c[0] === 'uninstall').map((c) => c[1])).toEqual(
          RELEASES.slice(0, i + 1).reverse(),
        );
        const f = runFolder(reports);
        expect(f.report.phases.find((p) => p.name === 'istio')).toMatchObject({
          status: 'interrupted',
          detail: `interrupted by ${signal} during istio`,
        });
        expect(f.leftovers.left).toEqual([]);
      },
    );
  },
);

describe("interrupting a --keep run on a user's cluster", { timeout: 180_000 }, () => {
  it('SIGINT during helm install istiod with --keep: the install is stopped, nothing is uninstalled, the marker says kept and the record lists what is kept', async () => {
    const { home, reports, pidFile } = homeDir();
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api.url, 'staging'), { mode: 0o600 });
    const fake = makeFakeBin({
      helm: [
        { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
        { match: 'list', stdout: '[]\n' },
        blocking('install istiod ', pidFile),
        { match: 'install', stdout: 'STATUS: deployed\n' },
        { match: 'uninstall', stdout: 'release uninstalled\n' },
      ],
    });
    const before = new Set(api.leases.keys());
    const child = start(['--kubeconfig', kubeconfig, '--keep', '--reports-dir', reports], fake.path, home);
    const pid = await blockedPid({ pidFile, child }, 'helm install istiod to be blocked');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(130);
    expect(alive(pid)).toBe(false);
    expect(fake.calls('helm').filter((c) => c[0] === 'uninstall')).toEqual([]);
    const f = runFolder(reports);
    expect(f.leftovers.state).toBe('interrupted by SIGINT during istio; kept (--keep)');
    expect(f.leftovers.left.map((l) => l.what)).toEqual([
      expect.stringMatching(/^namespaces labelled ambient-conformance\.io\/run-id=/) as string,
      'helm uninstall istiod',
      'helm uninstall istio-base',
      expect.stringMatching(/^delete run marker Lease default\/ambient-conformance-/) as string,
    ]);
    const key = [...api.leases.keys()].find((k) => !before.has(k));
    const lease = (key ? api.leases.get(key) : undefined) as
      { metadata: { annotations?: Record<string, string> } } | undefined;
    expect(lease?.metadata.annotations?.['ambient-conformance.io/kept']).toBe('true');
    if (key) api.leases.delete(key);
  });
});
