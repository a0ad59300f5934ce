import { describe, expect, it } from 'vitest';
import { buildPlan, istioInstall, planToJson, type PlanInput, type RunSettings } from './plan.ts';
import { listArgv } from './helm.ts';
import { loadProfile } from './profile/load.ts';
import type { ResolvedTool } from './tools.ts';

const profile = loadProfile(undefined, { env: {} });

function settings(over: Partial<RunSettings> = {}): RunSettings {
  return {
    runId: '20261128-101500-ab12',
    mode: 'kind',
    clusterName: 'ambient-conformance-ab12',
    runDir: '/r/20261128-101500-ab12',
    kubeconfig: '/r/20261128-101500-ab12/kubeconfig',
    context: 'kind-ambient-conformance-ab12',
    useExistingIstio: false,
    keep: false,
    keepOnFailure: false,
    only: [],
    skip: [],
    ...over,
  };
}

const kind: ResolvedTool = {
  name: 'kind',
  path: '/usr/local/bin/kind',
  version: 'v0.30.0',
  source: 'path',
  warnings: [],
};
function helm(major: 3 | 4): PlanInput['helm'] {
  return {
    name: 'helm',
    path: '/usr/local/bin/helm',
    version: major === 4 ? 'v4.2.1' : 'v3.21.4',
    source: 'path',
    warnings: [],
    major,
  };
}

function plan(over: Partial<RunSettings> = {}, major: 3 | 4 = 4) {
  return buildPlan({ profile, settings: settings(over), kind, helm: helm(major) });
}

const installs = (p: ReturnType<typeof plan>) => p.steps.filter((s) => s.id.startsWith('istio.install.'));

describe('plan for a fresh kind cluster', () => {
  const p = plan();

  it('bounds every command it runs with a key of the timeout table (the orchestrator has no default)', () => {
    const variants = [
      p,
      plan({ mode: 'kind-reuse', keep: true }),
      plan({ mode: 'existing' }),
      plan({}, 3),
      plan({ keep: true }),
    ];
    for (const v of variants)
      for (const s of v.steps.filter((x) => x.command))
        expect(s.timeout, `${s.id} has no timeout key`).toBeDefined();
  });

  it('runs preflight first, then the cluster, the four helm installs in wave order, tests, reports, cleanup', () => {
    expect(p.steps.map((s) => s.id)).toEqual([
      'preflight',
      'cluster.sweep',
      'cluster.create',
      'cluster.api',
      'cluster.nodes-ready',
      'addons.metrics-server',
      'workloads.namespaces',
      'istio.install.istio-base',
      'istio.install.istiod',
      'istio.install.istio-cni',
      'istio.install.ztunnel',
      'istio.ready',
      'addons.metrics-api',
      'tests',
      'reports',
      'diagnostics.kind-logs',
      'cleanup.cluster',
    ]);
  });

  it('creates the cluster with the pinned image and a 0600 kubeconfig in the run folder', () => {
    const create = p.steps.find((s) => s.id === 'cluster.create');
    expect(create?.command).toEqual([
      '/usr/local/bin/kind',
      'create',
      'cluster',
      '--name',
      'ambient-conformance-ab12',
      '--config',
      '/r/20261128-101500-ab12/kind-config.yaml',
      '--image',
      'kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a',
      '--kubeconfig',
      '/r/20261128-101500-ab12/kubeconfig',
      '--wait',
      '300s',
    ]);
    const config = create?.files?.[0]?.content ?? '';
    expect(config).toContain('role: control-plane');
    expect(config.match(/image: kindest\/node:v1\.34\.0@sha256:/g)).toHaveLength(3);
  });

  it('installs each chart exactly as documented, pinned to 1.28.3, with its values file (Helm 4)', () => {
    const byRelease = Object.fromEntries(installs(p).map((s) => [s.id.split('.')[2], s.command ?? []]));
    const repo = ['--repo', 'https://blob.istio.io/istio-release/charts'];
    const tail = [
      '--wait=watcher',
      '--timeout',
      '300s',
      '--kubeconfig',
      '/r/20261128-101500-ab12/kubeconfig',
      '--kube-context',
      'kind-ambient-conformance-ab12',
    ];
    const ns = ['--version', '1.28.3', '--namespace', 'istio-system', '--create-namespace'];
    expect(byRelease['istio-base']).toEqual([
      '/usr/local/bin/helm',
      'install',
      'istio-base',
      'base',
      ...repo,
      ...ns,
      ...tail,
    ]);
    expect(byRelease.istiod).toEqual([
      '/usr/local/bin/helm',
      'install',
      'istiod',
      'istiod',
      ...repo,
      ...ns,
      '--values',
      expect.stringMatching(/profiles\/homelab\/istiod-values\.yaml$/),
      ...tail,
    ]);
    expect(byRelease['istio-cni']?.slice(0, 4)).toEqual([
      '/usr/local/bin/helm',
      'install',
      'istio-cni',
      'cni',
    ]);
    expect(byRelease['istio-cni']).toContainEqual(expect.stringMatching(/cni-values\.yaml$/));
    expect(byRelease.ztunnel).toContainEqual(expect.stringMatching(/ztunnel-values\.yaml$/));
  });

  it('uses a boolean --wait with Helm 3', () => {
    for (const s of installs(plan({}, 3))) {
      expect(s.command).toContain('--wait');
      expect(s.command).not.toContain('--wait=watcher');
    }
  });

  it('installs metrics-server pinned by digest with --kubelet-insecure-tls', () => {
    const ms = p.steps.find((s) => s.id === 'addons.metrics-server')?.command ?? [];
    expect(ms).toEqual(
      expect.arrayContaining(['metrics-server', '--version', '3.13.1', '--namespace', 'kube-system']),
    );
    expect(ms).toContain('args={--kubelet-insecure-tls}');
    expect(ms).toContain(
      'image.tag=v0.8.1@sha256:b2d2efaf5ac3b366ed0f839d2412a2c4279d4fc2a2a733f12c52133faed36c41',
    );
  });

  it('exports kind logs only on failure and deletes the cluster at the end', () => {
    const logs = p.steps.find((s) => s.id === 'diagnostics.kind-logs');
    expect(logs?.when).toBe('on-failure');
    expect(logs?.command).toEqual([
      '/usr/local/bin/kind',
      'export',
      'logs',
      '/r/20261128-101500-ab12/kind-logs',
      '--name',
      'ambient-conformance-ab12',
    ]);
    expect(p.steps.at(-1)?.command).toEqual([
      '/usr/local/bin/kind',
      'delete',
      'cluster',
      '--name',
      'ambient-conformance-ab12',
      '--kubeconfig',
      '/r/20261128-101500-ab12/kubeconfig',
    ]);
  });

  it('--json keeps the contract: id, description and command only where one runs', () => {
    const json = planToJson(p);
    expect(json.steps[0]).toEqual({
      id: 'preflight',
      phase: 'preflight',
      description: expect.any(String),
      when: 'always',
      command: ['docker', 'info', '--format', '{{json .}}'],
    });
    expect(json.steps.find((s) => s.id === 'cluster.api')?.command).toBeUndefined();
    expect(json.steps.find((s) => s.id === 'istio.install.istiod')?.command?.[1]).toBe('install');
  });
});

describe('plan variants', () => {
  it('--reuse fetches the kubeconfig, upgrades with --install and, with Helm 4, --force-conflicts (Istio < 1.28.6 webhook conflict)', () => {
    const p = plan({ mode: 'kind-reuse', keep: true });
    expect(p.steps.some((s) => s.id === 'cluster.create')).toBe(false);
    expect(p.steps.find((s) => s.id === 'cluster.kubeconfig')?.command).toEqual([
      '/usr/local/bin/kind',
      'get',
      'kubeconfig',
      '--name',
      'ambient-conformance-ab12',
    ]);
    for (const s of installs(p)) {
      expect(s.command?.slice(1, 3)).toEqual(['upgrade', '--install']);
      expect(s.command).toContain('--force-conflicts');
      // Helm 4's --server-side defaults to "auto" (the previous release's method): a release last
      // applied client-side by Helm 3 would refuse --force-conflicts.
      expect(s.command?.indexOf('--server-side=true')).toBe(s.command!.indexOf('--force-conflicts') - 1);
    }
    for (const s of installs(plan({ mode: 'kind-reuse', keep: true }, 3))) {
      expect(s.command).not.toContain('--force-conflicts');
      expect(s.command?.some((a) => a.startsWith('--server-side'))).toBe(false);
    }
  });

  it('lists releases with one builder: Helm 3 with --all, Helm 4 without (it has no such flag)', () => {
    const detect = (major: 3 | 4) =>
      plan({ mode: 'existing', kubeconfig: '/k', context: 'c' }, major).steps.find(
        (s) => s.id === 'istio.detect',
      );
    expect(detect(4)?.command).toEqual([
      '/usr/local/bin/helm',
      'list',
      '--all-namespaces',
      '--output',
      'json',
      '--kubeconfig',
      '/k',
      '--kube-context',
      'c',
    ]);
    expect(detect(3)?.command).toEqual(
      listArgv({ path: '/usr/local/bin/helm', major: 3 }, { kubeconfig: '/k', context: 'c' }),
    );
    expect(detect(3)?.command).toContain('--all');
  });

  it('an existing cluster is never created or deleted; Istio is detected first and uninstalled in reverse only if installed', () => {
    const p = plan({
      mode: 'existing',
      kubeconfig: '/home/u/.kube/config',
      context: 'staging',
      clusterName: 'staging',
    });
    const ids = p.steps.map((s) => s.id);
    expect(ids).not.toContain('cluster.create');
    expect(ids).not.toContain('cleanup.cluster');
    expect(ids).not.toContain('addons.metrics-server');
    expect(ids.indexOf('istio.detect')).toBeLessThan(ids.indexOf('istio.install.istio-base'));
    expect(ids.filter((i) => i.startsWith('cleanup.uninstall.'))).toEqual([
      'cleanup.uninstall.ztunnel',
      'cleanup.uninstall.istio-cni',
      'cleanup.uninstall.istiod',
      'cleanup.uninstall.istio-base',
    ]);
    for (const s of p.steps.filter((x) => x.command))
      expect(s.command).toEqual(expect.arrayContaining(['--kube-context', 'staging']));
  });

  it('--use-existing-istio installs nothing', () => {
    const p = plan({ mode: 'existing', kubeconfig: '/k', context: 'c', useExistingIstio: true });
    expect(installs(p)).toEqual([]);
    expect(p.steps.some((s) => s.id.startsWith('cleanup.uninstall.'))).toBe(false);
  });

  it('shows a download step for tools that are not installed', () => {
    const p = buildPlan({
      profile,
      settings: settings(),
      kind: { ...kind, source: 'download', path: '/cache/kind', url: 'https://example.invalid/kind' },
      helm: helm(4),
    });
    expect(p.steps[1]?.id).toBe('tools.kind');
    expect(p.steps[1]?.description).toContain('verify its pinned SHA-256');
  });

  it('inline values are written to the run folder and passed after the values file', () => {
    const custom = loadProfile(`${import.meta.dirname}/../test/fixtures/profiles/valid-oci.yaml`, {
      env: {},
    });
    const p = buildPlan({ profile: custom, settings: settings(), kind, helm: helm(4) });
    const istiod = p.steps.find((s) => s.id === 'istio.install.istiod');
    expect(istiod?.command?.[3]).toBe('oci://ghcr.io/istio/release/charts/istiod');
    expect(istiod?.command).toContain('/r/20261128-101500-ab12/values/istiod.inline.yaml');
    expect(istiod?.files?.[0]?.content).toContain('profile: ambient');
    expect(p.steps.some((s) => s.id === 'addons.metrics-server')).toBe(false);
  });
});

describe("plans stay off Istio's retired hosts", () => {
  const retired = [
    'istio-release.storage.googleapis.com',
    'storage.googleapis.com/istio-release',
    'gcr.io/istio-release',
    'registry.istio.io/release',
  ];

  it.each([
    ['kind', {}],
    ['kind-reuse', { mode: 'kind-reuse' as const }],
    ['existing', { mode: 'existing' as const }],
  ])('plan --json of the embedded profile (%s) names no retired host', (_name, over) => {
    for (const major of [3, 4] as const) {
      const json = JSON.stringify(planToJson(plan(over, major)));
      for (const host of retired) expect(json).not.toContain(host);
      expect(json).toContain('https://blob.istio.io/istio-release/charts');
    }
  });

  it('installs from the OCI form as oci://ghcr.io/istio/release/charts/<chart>, for Helm 3 and 4', () => {
    const oci = loadProfile(`${import.meta.dirname}/../test/fixtures/profiles/valid-oci.yaml`, { env: {} });
    for (const major of [3, 4] as const) {
      const p = buildPlan({ profile: oci, settings: settings(), kind, helm: helm(major) });
      for (const s of installs(p)) {
        const chart = oci.releases.find((r) => `istio.install.${r.name}` === s.id)?.chart;
        expect(s.command?.slice(1, 4)).toEqual([
          'install',
          s.id.slice('istio.install.'.length),
          `oci://ghcr.io/istio/release/charts/${chart}`,
        ]);
        expect(s.command).not.toContain('--repo');
        expect(s.command?.[s.command.indexOf('--version') + 1]).toBe('1.28.3');
      }
    }
  });

  it('Istio 1.30+: the plan sets global.hub=docker.io/istio after the values, on istiod, cni and ztunnel, and says so', () => {
    const next = loadProfile(undefined, { env: {}, istioVersion: '1.30.5' });
    const p = buildPlan({ profile: next, settings: settings(), kind, helm: helm(4) });
    for (const s of installs(p)) {
      const set = s.command?.[(s.command.indexOf('--set') ?? -1) + 1];
      if (s.id === 'istio.install.istio-base') {
        expect(s.command).not.toContain('--set');
        continue;
      }
      expect(set).toBe('global.hub=docker.io/istio');
      expect(s.command!.indexOf('--set')).toBeGreaterThan(s.command!.lastIndexOf('--values'));
      expect(s.description).toContain('the plan sets global.hub=docker.io/istio');
    }
  });

  it("REMOVAL-04's reinstall is the plan's own install, as upgrade --install", () => {
    const next = loadProfile(undefined, { env: {}, istioVersion: '1.30.5' });
    const ztunnel = next.releases.find((r) => r.chart === 'ztunnel')!;
    const again = istioInstall(next, ztunnel, {
      helm: { path: '/usr/local/bin/helm', major: 4 },
      target: { kubeconfig: '/k' },
      runDir: '/r',
      timeoutMs: 300_000,
      createNamespace: false,
      upgrade: true,
    }).command;
    expect(again.slice(1, 3)).toEqual(['upgrade', '--install']);
    expect(again).toContain('global.hub=docker.io/istio');
    expect(again).toContain('https://blob.istio.io/istio-release/charts');
  });
});
