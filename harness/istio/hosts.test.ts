import { describe, expect, it } from 'vitest';
import {
  checkChartRepository,
  planSetsHub,
  describeRetiredReference,
  explainChartDownload,
  hubOverride,
  retiredHostOf,
  scanValues,
} from './hosts.ts';

describe('retired Istio hosts', () => {
  it.each([
    ['https://istio-release.storage.googleapis.com/charts', 'istio-release.storage.googleapis.com'],
    ['http://ISTIO-RELEASE.storage.googleapis.com/charts/', 'istio-release.storage.googleapis.com'],
    ['https://storage.googleapis.com/istio-release/charts', 'storage.googleapis.com/istio-release'],
    ['oci://gcr.io/istio-release/charts', 'gcr.io/istio-release'],
    ['gcr.io/istio-release', 'gcr.io/istio-release'],
    ['gcr.io/istio-release/pilot:1.28.3-distroless', 'gcr.io/istio-release'],
    ['registry.istio.io/release', 'registry.istio.io/release'],
    ['registry.istio.io/release/ztunnel:1.30.3', 'registry.istio.io/release'],
    ['https://istio-release.storage.googleapis.com?x=1', 'istio-release.storage.googleapis.com'],
    ['https://istio-release.storage.googleapis.com.:443/charts#top', 'istio-release.storage.googleapis.com'],
  ])('%s is on %s', (ref, host) => {
    expect(retiredHostOf(ref)?.prefix).toBe(host);
  });

  it.each([
    'https://blob.istio.io/istio-release/charts',
    'oci://ghcr.io/istio/release/charts',
    'docker.io/istio',
    'gcr.io/istio-releases',
    'gcr.io/istio-testing',
    'registry.istio.io/testing',
    'mirror.example.com/gcr.io/istio-release',
  ])('%s is not retired', (ref) => {
    expect(retiredHostOf(ref)).toBeUndefined();
  });

  it('names the replacement by use: Helm repository, OCI charts', () => {
    const http = checkChartRepository(
      '/p.yaml',
      'istio.chartRepository',
      'https://istio-release.storage.googleapis.com/charts',
      '1.28.3',
    );
    expect(http).toMatchObject({
      use: 'helm-repository',
      replacement: 'https://blob.istio.io/istio-release/charts',
    });
    expect(http?.notPublished).toBeUndefined();
    const oci = checkChartRepository(
      '/p.yaml',
      'istio.chartRepository',
      'oci://gcr.io/istio-release/charts',
      '1.29.6',
    );
    expect(oci).toMatchObject({ use: 'oci-charts', replacement: 'oci://ghcr.io/istio/release/charts' });
    expect(
      checkChartRepository('/p.yaml', 'x', 'https://blob.istio.io/istio-release/charts', '1.31.1'),
    ).toBeUndefined();
  });

  it('counts Istio 2.x as after 1.31 (never published on a retired host)', () => {
    expect(
      checkChartRepository('/p.yaml', 'x', 'oci://gcr.io/istio-release/charts', '2.0.0')?.notPublished,
    ).toBe(true);
  });

  it('survives a YAML alias that contains itself', () => {
    const loop: unknown[] = [];
    loop.push(loop, 'gcr.io/istio-release');
    expect(scanValues('/v.yaml', { a: loop }, '1.28.3').map((r) => r.field)).toEqual(['a[1]']);
  });

  it('knows that Istio 1.31 was never published on the retired chart hosts', () => {
    expect(
      checkChartRepository('/p.yaml', 'x', 'https://istio-release.storage.googleapis.com/charts', '1.31.0')
        ?.notPublished,
    ).toBe(true);
    expect(
      checkChartRepository('/p.yaml', 'x', 'oci://gcr.io/istio-release/charts', '1.31.1')?.notPublished,
    ).toBe(true);
  });

  it('finds hub, global.hub, image fields and any other image string in values, with their paths', () => {
    const refs = scanValues(
      '/v.yaml',
      {
        hub: 'gcr.io/istio-release',
        global: { hub: 'registry.istio.io/release', proxy: { image: 'gcr.io/istio-release/proxyv2:1.28.3' } },
        image: 'registry.istio.io/release/pilot:1.30.3',
        extraContainers: [{ image: 'gcr.io/istio-release/ztunnel:1.28.3' }],
        'odd.key': { hub: 'gcr.io/istio-release' },
        fine: { hub: 'docker.io/istio', image: 'pilot' },
      },
      '1.30.3',
    );
    expect(refs.map((r) => [r.field, r.retired])).toEqual([
      ['hub', 'gcr.io/istio-release'],
      ['global.hub', 'registry.istio.io/release'],
      ['global.proxy.image', 'gcr.io/istio-release'],
      ['image', 'registry.istio.io/release'],
      ['extraContainers[0].image', 'gcr.io/istio-release'],
      ['"odd.key".hub', 'gcr.io/istio-release'],
    ]);
    expect(refs.every((r) => r.use === 'image' && r.replacement === 'docker.io/istio')).toBe(true);
    expect(
      scanValues('/p.yaml', { hub: 'gcr.io/istio-release' }, '1.28.3', 'istio.releases[1].values')[0]?.field,
    ).toBe('istio.releases[1].values.hub');
  });

  it('refuses 1.31 only through hub fields; image fields and any other string are reported, not refused', () => {
    const refs = scanValues(
      '/v.yaml',
      {
        global: { hub: 'registry.istio.io/release' },
        meshConfig: { extensionProviders: [{ envoyExtAuthzHttp: { service: 'gcr.io/istio-release' } }] },
        global2: { proxy: { image: 'gcr.io/istio-release/proxyv2:1.31.0' } },
      },
      '1.31.0',
    );
    // An image field names its own tag (gcr.io/istio-release/proxyv2:1.31.0 is warned, not refused).
    expect(refs.map((r) => [r.field, r.notPublished ?? false])).toEqual([
      ['global.hub', true],
      ['meshConfig.extensionProviders[0].envoyExtAuthzHttp.service', false],
      ['global2.proxy.image', false],
    ]);
  });

  it('a warning names the file, the field, the retired host and the replacement', () => {
    const [ref] = scanValues(
      '/abs/istiod-values.yaml',
      { global: { hub: 'gcr.io/istio-release' } },
      '1.28.3',
    );
    const text = describeRetiredReference(ref!, 'istiod-values.yaml');
    expect(text).toContain('istiod-values.yaml: global.hub (image hub) is gcr.io/istio-release');
    expect(text).toContain('retires in December 2026');
    expect(text).toContain('2026-12-08 15:00');
    expect(text).toMatch(/use docker\.io\/istio$/);
  });

  it('sets global.hub for 1.30+ charts that render images, unless the values choose one', () => {
    expect(planSetsHub('1.29.6')).toBe(false);
    expect(planSetsHub('1.30.0-beta.0')).toBe(true);
    expect(planSetsHub('1.31.1')).toBe(true); // 1.31 defaults to docker.io/istio; the plan pins it anyway
    expect(hubOverride('istiod', '1.28.3', {})).toBeUndefined();
    expect(hubOverride('base', '1.30.3', {})).toBeUndefined();
    for (const chart of ['istiod', 'cni', 'ztunnel'])
      expect(hubOverride(chart, '1.30.3', { profile: 'ambient' })).toBe('global.hub=docker.io/istio');
    expect(hubOverride('ztunnel', '1.31.1', { global: { hub: 'mirror.example.com/istio' } })).toBeUndefined();
    // A top-level hub still wins for the chart's own image; global.hub also feeds the proxies.
    expect(hubOverride('istiod', '1.30.3', { hub: 'mirror.example.com/istio' })).toBe(
      'global.hub=docker.io/istio',
    );
  });
});

describe('a failed chart download', () => {
  it('names what was tried and, on a retired host, the replacement', () => {
    const http = explainChartDownload(
      'https://istio-release.storage.googleapis.com/charts',
      'istiod',
      '1.28.3',
      'Error: INSTALLATION FAILED: failed to fetch https://istio-release.storage.googleapis.com/charts/index.yaml : 404 Not Found',
    );
    expect(http?.tried).toBe('chart istiod 1.28.3 from https://istio-release.storage.googleapis.com/charts');
    expect(http?.fix).toContain('set istio.chartRepository to https://blob.istio.io/istio-release/charts');
    const oci = explainChartDownload(
      'oci://gcr.io/istio-release/charts/',
      'ztunnel',
      '1.31.0',
      'Error: INSTALLATION FAILED: gcr.io/istio-release/charts/ztunnel:1.31.0: not found',
    );
    expect(oci?.tried).toBe('oci://gcr.io/istio-release/charts/ztunnel:1.31.0');
    expect(oci?.fix).toContain('Istio 1.31.0 was never published there');
    expect(oci?.fix).toContain('oci://ghcr.io/istio/release/charts');
  });

  it('on another host, says to check it and where Istio publishes', () => {
    const e = explainChartDownload(
      'https://charts.example.com/istio',
      'cni',
      '1.28.3',
      'Error: INSTALLATION FAILED: chart "cni" version "1.28.3" not found in https://charts.example.com/istio repository',
    );
    expect(e?.fix).toContain('check that https://charts.example.com/istio is reachable');
    expect(e?.fix).toContain('https://blob.istio.io/istio-release/charts');
  });

  it('also when the index loads but the chart archive does not (helm v3.17.2 and v4.1.4, seen on loopback)', () => {
    const e = explainChartDownload(
      'https://istio-release.storage.googleapis.com/charts',
      'istiod',
      '1.28.3',
      'Error: INSTALLATION FAILED: failed to fetch https://istio-release.storage.googleapis.com/charts/istiod-1.28.3.tgz : 404 Not Found',
    );
    expect(e?.fix).toContain('https://blob.istio.io/istio-release/charts');
  });

  it('is silent for failures that are not downloads', () => {
    expect(
      explainChartDownload(
        'https://blob.istio.io/istio-release/charts',
        'istiod',
        '1.28.3',
        'Error: context deadline exceeded',
      ),
    ).toBeUndefined();
  });
});
