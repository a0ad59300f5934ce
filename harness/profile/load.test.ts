import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { UserInputError } from '../errors.ts';
import { EMBEDDED_PROFILE, loadProfile } from './load.ts';

const FIXTURES = path.join(import.meta.dirname, '../../test/fixtures/profiles');

/** Writes a variant of the embedded profile (with its values files) into a temp folder. */
function variant(mutate: (doc: Record<string, any>) => void, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'profile-'));
  cpSync(path.dirname(EMBEDDED_PROFILE), dir, { recursive: true });
  const doc = parse(readFileSync(EMBEDDED_PROFILE, 'utf8')) as Record<string, any>;
  doc.cluster.kind.config = path.resolve(path.dirname(EMBEDDED_PROFILE), doc.cluster.kind.config);
  mutate(doc);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  const file = path.join(dir, 'profile.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

function loadError(file: string): UserInputError {
  try {
    loadProfile(file);
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a UserInputError');
}

describe('the embedded homelab profile', () => {
  const p = loadProfile(undefined, { env: {} });

  it('pins Istio 1.28.3 from the official Helm repository', () => {
    expect(p.embedded).toBe(true);
    expect(p.doc.istio.version).toBe('1.28.3');
    expect(p.doc.istio.chartRepository).toBe('https://blob.istio.io/istio-release/charts');
    expect(p.doc.istio.namespace).toBe('istio-system');
  });

  it('orders the four releases by the documented sync waves', () => {
    expect(p.releases.map((r) => [r.name, r.chart, r.syncWave])).toEqual([
      ['istio-base', 'base', -45],
      ['istiod', 'istiod', -44],
      ['istio-cni', 'cni', -43],
      ['ztunnel', 'ztunnel', -42],
    ]);
  });

  it('enables ambient on istiod and cni and sizes requests for a 4-CPU runner', () => {
    const values = Object.fromEntries(p.releases.map((r) => [r.chart, r.effectiveValues]));
    expect(values.istiod?.profile).toBe('ambient');
    expect(values.cni?.profile).toBe('ambient');
    const cpu = (v: any) => Number(String(v.resources.requests.cpu).replace('m', ''));
    // chart defaults request 500m + 3 x (100m + 200m) = 1.4 CPU on three nodes
    expect(cpu(values.istiod) + 3 * (cpu(values.cni) + cpu(values.ztunnel))).toBeLessThan(400);
  });

  it('meshes the runbook namespaces and pins a node image inside Istio 1.28 support', () => {
    expect(p.doc.mesh.meshedNamespaces).toEqual([
      'default',
      'loki',
      'localstack',
      'argo-workflows',
      'unipoller',
      'trivy-system',
    ]);
    expect(p.doc.cluster.kind.nodeImage).toMatch(/^kindest\/node:v1\.34\.\d+@sha256:[a-f0-9]{64}$/);
    expect(p.kubernetesVersion).toBe('1.34.0');
  });

  it('parses budgets into millicores and bytes', () => {
    expect(p.doc.budgets.istiod.cpu).toBe(250);
    expect(p.doc.budgets.ztunnel.memory).toBe(96 * 1024 * 1024);
  });
});

describe('user profiles', () => {
  it('accepts an OCI repository, inline values and reorders by wave', () => {
    const p = loadProfile(path.join(FIXTURES, 'valid-oci.yaml'), { env: {} });
    expect(p.releases.map((r) => r.name)).toEqual(['istio-base', 'istiod', 'istio-cni', 'ztunnel']);
    expect(p.timeouts.helmInstall).toBe(8 * 60_000);
    expect(p.timeouts.podReady).toBe(90_000);
    expect(p.doc.budgets.ztunnel.cpu).toBe(100);
  });

  it('--istio-version overrides the version', () => {
    expect(loadProfile(undefined, { istioVersion: '1.28.6', env: {} }).doc.istio.version).toBe('1.28.6');
  });

  it('environment overrides the profile timeouts', () => {
    expect(loadProfile(undefined, { env: { AMBIENT_TIMEOUT_HELM_INSTALL: '7m' } }).timeouts.helmInstall).toBe(
      420_000,
    );
  });
});

describe('bad profiles exit 2 with the field, what was expected and what was found', () => {
  it('a wrong type names the field path', () => {
    const e = loadError(variant((d) => (d.istio.version = 128)));
    expect(e.exitCode).toBe(2);
    expect(e.render()).toContain('istio.version');
    expect(e.details.seen).toBe('128');
    expect(e.details.expected).toBe('a value of type string');
  });

  it('an unknown top-level field is refused', () => {
    const e = loadError(variant((d) => (d.sidecars = true)));
    expect(e.details.seen).toContain('sidecars');
  });

  it('a node image without digest is refused', () => {
    const e = loadError(variant((d) => (d.cluster.kind.nodeImage = 'kindest/node:v1.34.0')));
    expect(e.message).toContain('cluster.kind.nodeImage');
    expect(e.details.expected).toContain('pinned by digest');
  });

  it('a Kubernetes minor outside Istio 1.28 support is refused', () => {
    const e = loadError(
      variant(
        (d) =>
          (d.cluster.kind.nodeImage =
            'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5'),
      ),
    );
    expect(e.details.expected).toBe('a Kubernetes version Istio 1.28 supports (1.30-1.34)');
  });

  it('istio/istio-cni is not a chart: the chart is cni', () => {
    const e = loadError(variant((d) => (d.istio.releases[2].chart = 'istio-cni')));
    expect(e.message).toContain('istio.releases[2].chart');
    expect(e.details.seen).toBe('istio-cni');
    expect(e.details.expected).toBe('one of "base", "istiod", "cni", "ztunnel"');
  });

  it('a missing chart is named', () => {
    const e = loadError(variant((d) => d.istio.releases.pop()));
    expect(e.details.fix).toBe('add a release with chart: ztunnel');
  });

  it('two releases in one wave are ambiguous', () => {
    const e = loadError(variant((d) => (d.istio.releases[3].syncWave = -43)));
    expect(e.details.expected).toContain('a wave of its own');
  });

  it('base must come first', () => {
    const e = loadError(variant((d) => (d.istio.releases[0].syncWave = 10)));
    expect(e.details.expected).toContain('base chart');
  });

  it('cni with ambient: {enabled: true} and no profile is valid (the switch the ambient profile sets)', () => {
    const p = loadProfile(
      variant(() => undefined, { 'cni-values.yaml': 'ambient:\n  enabled: true\n' }),
      { env: {} },
    );
    expect(p.releases.find((r) => r.chart === 'cni')?.effectiveValues).toEqual({
      ambient: { enabled: true },
    });
  });

  it('values files are read as Helm reads them (YAML 1.1): `enabled: yes` switches ambient on', () => {
    const p = loadProfile(
      variant(() => undefined, { 'cni-values.yaml': 'ambient:\n  enabled: yes\n' }),
      {
        env: {},
      },
    );
    expect(p.releases.find((r) => r.chart === 'cni')?.effectiveValues).toEqual({
      ambient: { enabled: true },
    });
  });

  it('cni whose values turn ambient back off is refused, naming the switch', () => {
    const e = loadError(
      variant(() => undefined, {
        'cni-values.yaml': 'profile: ambient\ncni:\n  ambient:\n    enabled: false\n',
      }),
    );
    expect(e.message).toContain('(chart cni): ambient.enabled');
    expect(e.details.seen).toBe('ambient.enabled = false (profile ambient)');
  });

  it('istiod without profile: ambient is refused with a fix', () => {
    const e = loadError(variant(() => undefined, { 'istiod-values.yaml': 'replicaCount: 1\n' }));
    expect(e.message).toContain('profile');
    expect(e.details.fix).toContain('profile: ambient');
  });

  it('global.platform: kind is refused (the charts have no kind platform)', () => {
    const e = loadError(
      variant(() => undefined, { 'cni-values.yaml': 'profile: ambient\nglobal:\n  platform: kind\n' }),
    );
    expect(e.details.fix).toContain('kind needs no platform');
  });

  it('a missing values file names the path', () => {
    const e = loadError(variant((d) => (d.istio.releases[1].valuesFile = 'nope.yaml')));
    expect(e.message).toMatch(/values file of release istiod not found: .*nope\.yaml/);
  });

  it('malformed YAML is reported as such', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'profile-'));
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, 'istio: [unclosed\n');
    expect(loadError(file).message).toContain('is not valid YAML');
  });

  it('a bad duration in timeouts', () => {
    const e = loadError(variant((d) => (d.timeouts = { helmInstall: 'soon' })));
    expect(e.message).toContain('timeouts.helmInstall');
  });

  it('the control namespace cannot be meshed', () => {
    const e = loadError(variant((d) => (d.mesh.controlNamespace = 'loki')));
    expect(e.message).toContain('mesh.controlNamespace');
  });
});

describe("Istio's retired chart and image hosts", () => {
  it('the embedded profile names no retired host and needs no hub of its own (1.28 publishes docker.io/istio)', () => {
    const p = loadProfile(undefined, { env: {} });
    expect(p.retiredHosts).toEqual([]);
    expect(p.warnings.join('\n')).not.toMatch(/retire/);
    expect(p.releases.every((r) => r.planSet.length === 0)).toBe(true);
  });

  it.each([
    [
      'https://istio-release.storage.googleapis.com/charts',
      'https://blob.istio.io/istio-release/charts',
      'Helm chart repository',
    ],
    ['oci://gcr.io/istio-release/charts', 'oci://ghcr.io/istio/release/charts', 'OCI chart repository'],
  ])('warns on istio.chartRepository %s, naming its replacement', (repo, replacement, kind) => {
    const p = loadProfile(
      variant((d) => {
        d.istio.chartRepository = repo;
      }),
      { env: {} },
    );
    expect(p.retiredHosts).toHaveLength(1);
    expect(p.retiredHosts[0]).toMatchObject({ field: 'istio.chartRepository', value: repo, replacement });
    const w = p.warnings.find((x) => x.includes('istio.chartRepository'));
    expect(w).toContain(`(${kind}) is ${repo}`);
    expect(w).toContain(`use ${replacement}`);
  });

  it('warns on hub, global.hub and image fields of values files and inline values, naming file and field', () => {
    const file = variant(
      (d) => {
        d.istio.releases[3].values = { image: 'gcr.io/istio-release/ztunnel:1.28.3' };
      },
      {
        'istiod-values.yaml':
          'profile: ambient\nhub: gcr.io/istio-release\nglobal:\n  hub: registry.istio.io/release\n',
      },
    );
    const p = loadProfile(file, { env: {} });
    expect(p.retiredHosts.map((r) => [path.basename(r.file), r.field, r.retired])).toEqual([
      ['istiod-values.yaml', 'hub', 'gcr.io/istio-release'],
      ['istiod-values.yaml', 'global.hub', 'registry.istio.io/release'],
      ['profile.yaml', 'istio.releases[3].values.image', 'gcr.io/istio-release'],
    ]);
    expect(p.warnings.filter((w) => /retires in December 2026/.test(w))).toHaveLength(3);
    expect(
      p.warnings.some((w) =>
        w.includes('istiod-values.yaml: global.hub (image hub) is registry.istio.io/release'),
      ),
    ).toBe(true);
    expect(p.warnings.some((w) => w.includes('istio.releases[3].values.image (image reference)'))).toBe(true);
  });

  it('refuses Istio 1.31 from a retired host: it was never published there', () => {
    const e = loadError(
      variant((d) => {
        d.istio.version = '1.31.1';
        d.istio.chartRepository = 'https://istio-release.storage.googleapis.com/charts';
      }),
    );
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('istio.chartRepository');
    expect(e.details.expected).toContain('https://blob.istio.io/istio-release/charts');
    expect(e.details.seen).toBe('https://istio-release.storage.googleapis.com/charts');
  });

  it('refuses Istio 1.31 pulled through registry.istio.io/release: 1.31 is published on none of the retired hosts', () => {
    const e = loadError(
      variant(
        (d) => {
          d.istio.version = '1.31.1';
        },
        { 'ztunnel-values.yaml': 'global:\n  hub: registry.istio.io/release\n' },
      ),
    );
    expect(e.message).toMatch(/ztunnel-values\.yaml: global\.hub$/);
    expect(e.details.expected).toContain('docker.io/istio');
  });

  it('a retired hub in a values file that the inline values override is warned about, not refused', () => {
    const p = loadProfile(
      variant(
        (d) => {
          d.istio.version = '1.31.1';
          d.istio.releases[1].values = { global: { hub: 'docker.io/istio' } };
        },
        { 'istiod-values.yaml': 'profile: ambient\nglobal:\n  hub: gcr.io/istio-release\n' },
      ),
      { env: {} },
    );
    expect(p.warnings.find((w) => w.includes('istiod-values.yaml: global.hub'))).toContain(
      'overridden by istio.releases (istiod).values, so not used',
    );
  });

  it('sets global.hub: docker.io/istio for Istio 1.30+ on the charts that render images, and says so', () => {
    const p = loadProfile(
      variant((d) => {
        d.istio.version = '1.30.5';
      }),
      { env: {} },
    );
    expect(Object.fromEntries(p.releases.map((r) => [r.chart, r.planSet]))).toEqual({
      base: [],
      istiod: ['global.hub=docker.io/istio'],
      cni: ['global.hub=docker.io/istio'],
      ztunnel: ['global.hub=docker.io/istio'],
    });
    expect(p.notices.join('\n')).toMatch(
      /istiod, istio-cni, ztunnel: the plan sets global.hub=docker.io\/istio/,
    );
    expect(p.notices.join('\n')).toContain('registry.istio.io/release');
  });

  it('leaves the hub to a 1.30+ profile that sets global.hub itself', () => {
    const p = loadProfile(
      variant((d) => {
        d.istio.version = '1.30.5';
        for (const r of d.istio.releases) r.values = { global: { hub: 'mirror.example.com/istio' } };
      }),
      { env: {} },
    );
    expect(p.releases.every((r) => r.planSet.length === 0)).toBe(true);
    expect(p.retiredHosts).toEqual([]);
  });
});

describe('issue 10: nothing in a profile is accepted silently', () => {
  const flagError = (istioVersion: string) => {
    try {
      loadProfile(undefined, { env: {}, istioVersion });
    } catch (e) {
      if (e instanceof UserInputError) return e;
      throw e;
    }
    throw new Error('expected a UserInputError');
  };

  it.each([
    [
      'a release’s value: instead of values:',
      (d: any) => (d.istio.releases[3].value = { resources: {} }),
      'istio.releases[3].value',
      'values',
    ],
    [
      'cluster.metricServer',
      (d: any) => (d.cluster.metricServer = false),
      'cluster.metricServer',
      'metricsServer',
    ],
    [
      'budgets.ztunnelMemoryPerpod',
      (d: any) => (d.budgets.ztunnelMemoryPerpod = '1Mi'),
      'budgets.ztunnelMemoryPerpod',
      'ztunnelMemoryPerPod',
    ],
    ['istio.chartRepo', (d: any) => (d.istio.chartRepo = 'x'), 'istio.chartRepo', 'chartRepository'],
    [
      'mesh.meshedNamespace',
      (d: any) => (d.mesh.meshedNamespace = ['a']),
      'mesh.meshedNamespace',
      'meshedNamespaces',
    ],
    ['budgets.istiod.mem', (d: any) => (d.budgets.istiod.mem = '1Mi'), 'budgets.istiod.mem', 'memory'],
    [
      'timeouts.helmInstal',
      (d: any) => (d.timeouts = { helmInstal: '5m' }),
      'timeouts.helmInstal',
      'helmInstall',
    ],
    [
      'removal.allowedLeftovers[0].reasons',
      (d: any) => (d.removal.allowedLeftovers[0].reasons = 'x'),
      'removal.allowedLeftovers[0].reasons',
      'reason',
    ],
    ['metadata.descripton', (d: any) => (d.metadata.descripton = 'x'), 'metadata.descripton', 'description'],
  ])('a misspelt key (%s) is refused, naming its path and the close known key', (_, mutate, field, near) => {
    const e = loadError(variant(mutate));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(new RegExp(`: ${field.replace(/[.[\]]/g, '\\$&')}$`));
    expect(e.details.seen).toContain(`(did you mean ${near}?)`);
    expect(e.details.expected).toContain(near);
    expect(e.details.fix).toContain(`to ${near}`);
  });

  it('an unknown key with nothing close gets the list, no guess', () => {
    const e = loadError(variant((d) => (d.cluster.kind.sidecars = true)));
    expect(e.message).toMatch(/: cluster\.kind\.sidecars$/);
    expect(e.details.expected).toBe('only the fields cluster.kind knows: config, nodeImage');
    expect(e.details.seen).toBe('unknown field sidecars');
    expect(e.details.fix).toBeUndefined();
  });

  it('Helm values stay free-form (any key is the chart’s business)', () => {
    const p = loadProfile(
      variant((d) => (d.istio.releases[3].values = { anyThing: { goes: [1, 2] } })),
      { env: {} },
    );
    expect(p.releases.find((r) => r.chart === 'ztunnel')?.effectiveValues).toMatchObject({
      anyThing: { goes: [1, 2] },
    });
  });

  it.each(['1.28.3-foo', '01.028.003', '1.28', 'latest', '1.28.3-rc.0'])(
    'istio.version %s is refused, naming the field and the legal forms',
    (v) => {
      const e = loadError(variant((d) => (d.istio.version = v)));
      expect(e.message).toMatch(/: istio\.version$/);
      expect(e.details.expected).toContain('MAJOR.MINOR.PATCH such as 1.28.3');
      expect(e.details.seen).toBe(v);
    },
  );

  it('an unknown Istio minor (1.99.0) is refused with the known ones', () => {
    const e = loadError(variant((d) => (d.istio.version = '1.99.0')));
    expect(e.details.expected).toBe('a release of an Istio minor this tool knows: 1.28, 1.29, 1.30, 1.31');
    expect(e.details.fix).toContain('harness/istio/versions.ts');
  });

  it('an unknown patch of a known minor is a warning, in the profile and from --istio-version', () => {
    const p = loadProfile(
      variant((d) => (d.istio.version = '1.28.11')),
      { env: {} },
    );
    expect(p.warnings.join('\n')).toContain('newer than the newest 1.28 patch this tool knows (1.28.10)');
    expect(loadProfile(undefined, { env: {}, istioVersion: '1.28.99' }).warnings.join('\n')).toContain(
      'Istio 1.28.99 is newer',
    );
  });

  it.each([
    ['', 'an empty value'],
    ['1.28.3-foo', '1.28.3-foo'],
    ['01.028.003', '01.028.003'],
  ])('--istio-version %j is refused by the same rules, naming the flag', (v, seen) => {
    const e = flagError(v);
    expect(e.message).toBe(`--istio-version ${JSON.stringify(v)} is not an Istio version`);
    expect(e.details.seen).toBe(seen);
  });

  it('--istio-version 1.99.0 names the flag', () => {
    expect(flagError('1.99.0').message).toBe(
      '--istio-version "1.99.0" is not an Istio version this tool knows',
    );
  });

  it('--istio-version of another known minor checks the node image against that minor’s window', () => {
    // 1.31 supports Kubernetes 1.32-1.36; the embedded image is 1.34.
    expect(loadProfile(undefined, { env: {}, istioVersion: '1.31.1' }).kubernetesVersion).toBe('1.34.0');
    const e = loadError(
      variant((d) => {
        d.istio.version = '1.31.1';
        d.cluster.kind.nodeImage =
          'kindest/node:v1.31.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a';
      }),
    );
    expect(e.details.expected).toBe('a Kubernetes version Istio 1.31 supports (1.32-1.36)');
  });

  it('a renamed release (istio-cni → cni) is legal Helm and accepted: nothing looks releases up by name', () => {
    const p = loadProfile(
      variant((d) => (d.istio.releases[2].name = 'cni')),
      { env: {} },
    );
    expect(p.releases.map((r) => r.name)).toEqual(['istio-base', 'istiod', 'cni', 'ztunnel']);
  });

  it('a duplicate release name is refused, naming both places', () => {
    const e = loadError(variant((d) => (d.istio.releases[2].name = 'istiod')));
    expect(e.message).toMatch(/: istio\.releases\[2\]\.name$/);
    expect(e.details.expected).toContain('already at istio.releases[1]');
    expect(e.details.seen).toBe('istiod');
  });

  it('a duplicate chart is refused', () => {
    const e = loadError(variant((d) => (d.istio.releases[2].chart = 'istiod')));
    expect(e.message).toMatch(/: istio\.releases\[2\]\.chart$/);
    expect(e.details.expected).toBe('each chart once (already at istio.releases[1])');
  });

  it('a release name Helm refuses (over 53 characters) is refused', () => {
    const e = loadError(variant((d) => (d.istio.releases[3].name = 'z'.repeat(54))));
    expect(e.message).toMatch(/: istio\.releases\[3\]\.name$/);
    expect(e.details.expected).toBe('a Helm release name of at most 53 characters');
  });

  it('ztunnel before istiod or cni is refused: its helm --wait would never end', () => {
    const e = loadError(
      variant((d) => {
        d.istio.releases[3].syncWave = -44;
        d.istio.releases[1].syncWave = -42;
      }),
    );
    expect(e.message).toMatch(/: istio\.releases\[3\]\.syncWave$/);
    expect(e.details.expected).toContain('a wave after the istiod release (istiod, wave -42)');
    expect(e.details.seen).toBe('-44');
    expect(e.details.fix).toBe('order the waves base → istiod → cni → ztunnel, as Istio installs them');
  });

  it('cni before istiod is accepted (both orders work upstream)', () => {
    const p = loadProfile(
      variant((d) => {
        d.istio.releases[2].syncWave = -44;
        d.istio.releases[1].syncWave = -43;
      }),
      { env: {} },
    );
    expect(p.releases.map((r) => r.chart)).toEqual(['base', 'cni', 'istiod', 'ztunnel']);
  });

  it.each(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage', 'istio-system'])(
    'meshing %s is refused, naming the index',
    (ns) => {
      const e = loadError(variant((d) => d.mesh.meshedNamespaces.push(ns)));
      expect(e.message).toMatch(/: mesh\.meshedNamespaces\[6\]$/);
      expect(e.details.seen).toBe(ns);
    },
  );

  it('kube-system is refused as istio-cni’s excludeNamespaces, and so is any namespace the cni values exclude', () => {
    expect(loadError(variant((d) => d.mesh.meshedNamespaces.push('kube-system'))).details.expected).toContain(
      'excludeNamespaces (kube-system)',
    );
    const e = loadError(
      variant(() => undefined, {
        'cni-values.yaml': 'profile: ambient\ncni:\n  excludeNamespaces: [kube-system, loki]\n',
      }),
    );
    expect(e.message).toMatch(/: mesh\.meshedNamespaces\[1\]$/);
    expect(e.details.expected).toContain('excludeNamespaces (kube-system, loki)');
    expect(e.details.fix).toContain('cni-values.yaml');
  });

  it('a duplicate meshed namespace is refused', () => {
    const e = loadError(variant((d) => d.mesh.meshedNamespaces.push('loki')));
    expect(e.message).toMatch(/: mesh\.meshedNamespaces\[6\]$/);
    expect(e.details.expected).toBe('each namespace once (already at mesh.meshedNamespaces[1])');
  });

  it.each(['istio-system', 'kube-system'])('the control namespace %s is refused', (ns) => {
    const e = loadError(variant((d) => (d.mesh.controlNamespace = ns)));
    expect(e.message).toMatch(/: mesh\.controlNamespace$/);
    expect(e.details.expected).toContain('a namespace of its own');
  });

  it('the control namespace equal to a meshed one says which', () => {
    expect(loadError(variant((d) => (d.mesh.controlNamespace = 'loki'))).details.expected).toBe(
      'a namespace that is not meshed (it is mesh.meshedNamespaces[1])',
    );
  });

  it.each([
    ['0', 'zero'],
    [0, 'zero'],
    ['25h', 'longer than 24h'],
    [-5, '-5'],
    ['-5s', '-5s'],
  ])('timeouts.helmInstall %j is refused, naming the setting and the range', (v, seen) => {
    const e = loadError(variant((d) => (d.timeouts = { helmInstall: v })));
    expect(e.message).toMatch(/: timeouts\.helmInstall$/);
    expect(e.details.expected).toContain('a duration above 0 and at most 24h');
    expect(`${e.details.expected} ${e.details.seen}`).toContain(seen);
  });

  it('a sidecar-mesh range must be [low, high]', () => {
    const e = loadError(
      variant(
        (d) =>
          (d.budgets.sidecarMesh = {
            perSidecarMemory: ['15Mi', '10Mi'],
            controlPlaneMemory: ['1Mi', '2Mi'],
          }),
      ),
    );
    expect(e.message).toMatch(/: budgets\.sidecarMesh\.perSidecarMemory$/);
  });

  it('a node image from a registry with a port, pinned by digest, is accepted (docker reference grammar)', () => {
    const digest = '7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a';
    for (const image of [
      `localhost:5000/kindest/node:v1.34.0@sha256:${digest}`,
      `registry.example.com:443/mirror/kindest/node:v1.34.0@sha256:${digest}`,
      `[::1]:5000/kindest/node:v1.34.0@sha256:${digest}`,
      `ghcr.io/my-org/kind__node:v1.34.0@sha256:${digest}`,
    ]) {
      const p = loadProfile(
        variant((d) => (d.cluster.kind.nodeImage = image)),
        { env: {} },
      );
      expect(p.kubernetesVersion).toBe('1.34.0');
    }
  });

  it.each([
    'kindest/Node:v1.34.0@sha256:' + 'a'.repeat(64), // capitals in the path
    'kindest//node:v1.34.0@sha256:' + 'a'.repeat(64),
    'kindest/node:1.34.0@sha256:' + 'a'.repeat(64), // the tag is v<Kubernetes version>
    'kindest/node:v1.34.0@sha256:' + 'a'.repeat(63),
    'localhost:port/kindest/node:v1.34.0@sha256:' + 'a'.repeat(64),
    'kindest/node:v1.34.0',
  ])('the node image %s is refused', (image) => {
    const e = loadError(variant((d) => (d.cluster.kind.nodeImage = image)));
    expect(e.message).toMatch(/: cluster\.kind\.nodeImage$/);
    expect(e.details.expected).toContain(
      'pinned by digest, [registry[:port]/]path:v<Kubernetes version>@sha256:<64 hex>',
    );
  });
});

describe('issue 10: bounded input', () => {
  it('--profile /dev/zero is refused before reading, naming the file and the limit', () => {
    const e = loadError('/dev/zero');
    expect(e.message).toBe('profile /dev/zero cannot be read');
    expect(e.details).toMatchObject({
      expected: 'a regular file of at most 1048576 bytes',
      seen: 'a character device',
    });
  });

  it('a folder as the profile is refused', () => {
    expect(loadError(os.tmpdir()).details.seen).toBe('a folder');
  });

  it('an empty --profile is refused', () => {
    expect(loadError('').message).toBe('--profile: no file named');
  });

  it('a profile above 1 MiB is refused with its size', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'big-')), 'p.yaml');
    writeFileSync(file, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    expect(loadError(file).details.seen).toBe(`${2 * 1024 * 1024 + 3} bytes (limit 1048576)`);
  });

  it('a values file above 1 MiB, or not a regular file, is refused naming it', () => {
    const big = loadError(variant(() => undefined, { 'cni-values.yaml': `# ${'x'.repeat(1024 * 1024)}\n` }));
    expect(big.message).toMatch(/^values file of release istio-cni .*cni-values\.yaml cannot be read$/);
    const dev = loadError(variant((d) => (d.istio.releases[1].valuesFile = '/dev/zero')));
    expect(dev.message).toBe('values file of release istiod /dev/zero cannot be read');
  });

  it('a one-line profile is not echoed whole into the error', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'line-')), 'p.yaml');
    writeFileSync(file, 'y'.repeat(900_000));
    const e = loadError(file);
    expect(e.render().length).toBeLessThan(1000);
    expect(e.details.seen).toContain('… (900000 characters in all)');
  });

  it('a YAML error with a long line is bounded too', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'yerr-')), 'p.yaml');
    writeFileSync(file, `a: [${'"x", '.repeat(100_000)}\n`);
    const e = loadError(file);
    expect(e.message).toContain('is not valid YAML');
    expect(e.render().length).toBeLessThan(1000);
  });

  it('a long unknown key, or a long wrong value, is bounded', () => {
    const key = loadError(variant((d) => (d.cluster['k'.repeat(10_000)] = 1)));
    expect(key.render().length).toBeLessThan(1000);
    const value = loadError(variant((d) => (d.istio.chartRepository = `ftp://${'h'.repeat(10_000)}`)));
    expect(value.render().length).toBeLessThan(1000);
  });
});

describe('every profile in the repository still loads', () => {
  const root = path.join(import.meta.dirname, '../..');
  it.each([
    path.join(root, 'profiles/homelab/profile.yaml'),
    ...readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join(FIXTURES, f)),
  ])('%s', (file) => {
    const p = loadProfile(file, { env: {} });
    expect(p.warnings.filter((w) => /newer than|pre-release/.test(w))).toEqual([]);
  });
});
