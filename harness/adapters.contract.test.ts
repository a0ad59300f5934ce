import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDoctor } from './doctor.ts';
import { OperationError, PreflightError } from './errors.ts';
import { run } from './exec.ts';
import { explainHelmFailure, helmList, installArgv } from './helm.ts';
import { classifyCreateFailure, createArgv, deleteArgv, listClusters } from './kind.ts';
import { minimumHelmFor, resolveTool } from './tools.ts';
import { fixture, makeFakeBin, withEnv } from '../test/helpers/fake-bin.ts';

const cache = () => mkdtempSync(path.join(os.tmpdir(), 'cache-'));

describe('kind adapter against a fake kind that answers like kind v0.30', () => {
  it('lists clusters from stdout, and none when kind says so on stderr', async () => {
    const fake = makeFakeBin({
      kind: [{ match: 'get clusters', stdout: fixture('kind/get-clusters.stdout') }],
    });
    await withEnv({ PATH: fake.path }, async () => {
      expect(await listClusters('kind', 5000)).toEqual([
        'ambient-conformance-1a2b',
        'ambient-conformance-dead',
        'kind',
      ]);
    });
    expect(fake.calls('kind')).toEqual([['get', 'clusters']]);
    const none = makeFakeBin({
      kind: [{ match: 'get clusters', stderr: fixture('kind/get-clusters-none.stderr') }],
    });
    await withEnv({ PATH: none.path }, async () => expect(await listClusters('kind', 5000)).toEqual([]));
  });

  it('turns "Cannot connect to the Docker daemon" into a preflight error with a fix', async () => {
    const fake = makeFakeBin({
      kind: [{ match: 'get clusters', stderr: fixture('kind/get-clusters-docker-down.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: fake.path }, async () => {
      const e = await listClusters('kind', 5000).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PreflightError);
      expect((e as PreflightError).details.fix).toContain('start Docker');
    });
  });

  it('create: passes the argv through and classifies "already exists" and "Docker down"', async () => {
    const argv = createArgv('kind', {
      name: 'ambient-conformance-1a2b',
      configPath: '/r/kind.yaml',
      image: 'kindest/node:v1.34.0@sha256:x',
      kubeconfig: '/r/kc',
      waitMs: 300_000,
    });
    const exists = makeFakeBin({
      kind: [{ match: 'create cluster', stderr: fixture('kind/create-already-exists.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: exists.path }, async () => {
      const r = await run(argv, { timeoutMs: 5000 });
      expect(r.exitCode).toBe(1);
      const e = classifyCreateFailure('ambient-conformance-1a2b', r, 300_000);
      expect(e).toBeInstanceOf(OperationError);
      expect((e as OperationError).details.fix).toContain('--reuse --cluster-name ambient-conformance-1a2b');
    });
    expect(exists.calls('kind')[0]).toEqual(argv.slice(1));
    const down = makeFakeBin({
      kind: [{ match: 'create cluster', stderr: fixture('kind/create-docker-down.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: down.path }, async () => {
      const e = classifyCreateFailure('x', await run(argv, { timeoutMs: 5000 }), 1000);
      expect(e).toBeInstanceOf(PreflightError);
      expect((e as PreflightError).details.seen).toContain('Cannot connect to the Docker daemon');
    });
  });

  it('delete is idempotent: exit 0 whether or not the cluster exists', async () => {
    const fake = makeFakeBin({ kind: [{ match: 'delete cluster', stderr: fixture('kind/delete.stderr') }] });
    await withEnv({ PATH: fake.path }, async () => {
      expect((await run(deleteArgv('kind', 'ambient-conformance-1a2b'), { timeoutMs: 5000 })).exitCode).toBe(
        0,
      );
    });
  });
});

describe('helm adapter against a fake helm', () => {
  it('resolves Helm 4 from `helm version --short` and plans Helm 4 flags', async () => {
    const fake = makeFakeBin({
      helm: [{ match: 'version --short', stdout: fixture('helm/version-short-v4.stdout') }],
    });
    await withEnv({ PATH: fake.path }, async () => {
      const t = await resolveTool('helm', { timeoutMs: 5000, cacheDir: cache() });
      expect(t).toMatchObject({ source: 'path', version: 'v4.2.1', path: 'helm' });
    });
  });

  it('refuses Helm 3.6 on PATH (no `uninstall --wait`, no `install oci://`) and plans the pinned Helm', async () => {
    const fake = makeFakeBin({ helm: [{ match: 'version --short', stdout: 'v3.6.3+gd506314\n' }] });
    await withEnv({ PATH: fake.path }, async () => {
      const t = await resolveTool('helm', { timeoutMs: 5000, cacheDir: cache() });
      expect(t).toMatchObject({ source: 'download', version: 'v4.2.1' });
      expect(t.warnings[0]).toContain('helm v3.6.3 on PATH is older than v3.7.0');
    });
    const ok = makeFakeBin({ helm: [{ match: 'version --short', stdout: 'v3.7.0+geeac838\n' }] });
    await withEnv({ PATH: ok.path }, async () => {
      expect(await resolveTool('helm', { timeoutMs: 5000, cacheDir: cache() })).toMatchObject({
        source: 'path',
        version: 'v3.7.0',
      });
    });
  });

  it('passes over a Helm 3.7 on PATH for an oci:// chart repository (it refuses oci:// without HELM_EXPERIMENTAL_OCI)', async () => {
    const v37 = makeFakeBin({ helm: [{ match: 'version --short', stdout: 'v3.7.2+g663a896\n' }] });
    await withEnv({ PATH: v37.path }, async () => {
      const oci = await resolveTool('helm', {
        timeoutMs: 5000,
        cacheDir: cache(),
        minimum: minimumHelmFor('oci://ghcr.io/istio/release/charts'),
      });
      expect(oci).toMatchObject({ source: 'download', version: 'v4.2.1' });
      expect(oci.warnings[0]).toContain('older than v3.8.0 (needed for an oci:// chart repository)');
      const http = await resolveTool('helm', {
        timeoutMs: 5000,
        cacheDir: cache(),
        minimum: minimumHelmFor('https://blob.istio.io/istio-release/charts'),
      });
      expect(http).toMatchObject({ source: 'path', version: 'v3.7.2' });
    });
  });

  it('reads releases from `helm list -o json`', async () => {
    const fake = makeFakeBin({ helm: [{ match: 'list', stdout: fixture('helm/list.json') }] });
    await withEnv({ PATH: fake.path }, async () => {
      const rows = await helmList({ path: 'helm', major: 4 }, { kubeconfig: '/k', context: 'c' }, 5000);
      expect(rows.map((r) => `${r.name}:${r.chart}:${r.status}`)).toContain('istio-cni:cni-1.28.3:deployed');
    });
    // Helm 4 has no --all (removed in v4.0.0; every status is listed by default).
    expect(fake.calls('helm')[0]).toEqual([
      'list',
      '--all-namespaces',
      '--output',
      'json',
      '--kubeconfig',
      '/k',
      '--kube-context',
      'c',
    ]);
  });

  it('explains install failures with a fix', async () => {
    const argv = installArgv(
      { path: 'helm', major: 3 },
      {
        release: 'istiod',
        namespace: 'istio-system',
        chart: { repository: 'https://r', chart: 'istiod', version: '1.28.3' },
        valuesFiles: [],
        timeoutMs: 300_000,
        createNamespace: true,
        upgrade: false,
      },
      { kubeconfig: '/k' },
    );
    const inUse = makeFakeBin({
      helm: [{ match: 'install', stderr: fixture('helm/install-name-in-use.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: inUse.path }, async () => {
      const e = explainHelmFailure('istiod', await run(argv, { timeoutMs: 5000 }), 300_000);
      expect(e.details.fix).toContain('--reuse');
    });
    // Helm 4 words it "cannot reuse a name" (captured from helm v4.1.4).
    const inUse4 = makeFakeBin({
      helm: [{ match: 'install', stderr: fixture('helm/install-name-in-use-v4.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: inUse4.path }, async () => {
      const e = explainHelmFailure('istiod', await run(argv, { timeoutMs: 5000 }), 300_000);
      expect(e.details.fix).toContain('--reuse');
    });
    const slow = makeFakeBin({
      helm: [{ match: 'install', stderr: fixture('helm/install-timeout.stderr'), exit: 1 }],
    });
    await withEnv({ PATH: slow.path }, async () => {
      const e = explainHelmFailure('istiod', await run(argv, { timeoutMs: 5000 }), 300_000);
      expect(e.details.fix).toContain('AMBIENT_TIMEOUT_HELM_INSTALL');
    });
  });
});

describe('doctor without a Docker daemon (the real `docker info` output of this machine)', () => {
  it('fails the Docker check with the daemon error and how to fix it', async () => {
    const fake = makeFakeBin({
      docker: [
        {
          match: 'info',
          stdout: fixture('docker/info-daemon-down.stdout'),
          stderr: fixture('docker/info-daemon-down.stderr'),
          exit: 1,
        },
      ],
      kind: [{ match: 'version', stdout: fixture('kind/version.stdout') }],
      helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
    });
    const report = await withEnv({ PATH: fake.path }, () =>
      runDoctor({
        timeoutMs: 5000,
        needDocker: true,
        cacheDir: cache(),
        readProc: () => '1048576',
        totalMemBytes: () => 16 * 1024 ** 3,
        freeDiskBytes: () => 100 * 1024 ** 3,
        nodeVersion: 'v24.21.0',
        platform: 'linux',
      }),
    );
    const docker = report.checks.find((c) => c.name === 'Docker daemon');
    expect(report.ok).toBe(false);
    expect(docker?.status).toBe('fail');
    expect(docker?.detail).toContain('Cannot connect to the Docker daemon');
    expect(docker?.fix).toContain('start the Docker daemon');
    expect(report.checks.find((c) => c.name === 'kind')?.status).toBe('ok');
  });

  it('passes with a running daemon and warns on low inotify limits', async () => {
    const fake = makeFakeBin({
      docker: [{ match: 'info', stdout: fixture('docker/info-daemon-up.stdout') }],
      kind: [{ match: 'version', stdout: fixture('kind/version.stdout') }],
      helm: [{ match: 'version', stdout: fixture('helm/version-short-v3.stdout') }],
    });
    const report = await withEnv({ PATH: fake.path }, () =>
      runDoctor({
        timeoutMs: 5000,
        needDocker: true,
        cacheDir: cache(),
        readProc: (f) => (f.endsWith('watches') ? '8192' : '128'),
        freeDiskBytes: () => 100 * 1024 ** 3,
        nodeVersion: 'v24.21.0',
        platform: 'linux',
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === 'Docker daemon')?.detail).toContain('server 28.2.2, 4 CPUs');
    const inotify = report.checks.find((c) => c.name === 'inotify limits');
    expect(inotify?.status).toBe('warn');
    expect(inotify?.fix).toContain('fs.inotify.max_user_watches=524288');
  });

  it('reports a missing docker CLI', async () => {
    const fake = makeFakeBin({
      helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
    });
    const report = await withEnv({ PATH: fake.path }, () =>
      runDoctor({
        timeoutMs: 5000,
        needDocker: true,
        cacheDir: cache(),
        readProc: () => undefined,
        nodeVersion: 'v24.0.0',
        platform: 'linux',
        freeDiskBytes: () => undefined,
        totalMemBytes: () => 16 * 1024 ** 3,
      }),
    );
    expect(report.checks.find((c) => c.name === 'Docker daemon')).toMatchObject({
      status: 'fail',
      detail: 'docker CLI not found on PATH',
    });
  });

  it('existing-cluster checks need neither Docker nor kind', async () => {
    const fake = makeFakeBin({
      helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
    });
    const report = await withEnv({ PATH: fake.path }, () =>
      runDoctor({
        timeoutMs: 5000,
        needDocker: false,
        cacheDir: cache(),
        nodeVersion: 'v22.19.0',
        freeDiskBytes: () => 50 * 1024 ** 3,
        totalMemBytes: () => 16 * 1024 ** 3,
      }),
    );
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['Node.js', 'helm', 'memory', 'disk']);
  });
});
