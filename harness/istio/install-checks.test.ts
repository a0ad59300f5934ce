import type { V1ConfigMap, V1Deployment, V1Pod, V1SecretList } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers/fake-bin.ts';
import { loadProfile } from '../profile/load.ts';
import {
  decodeHelmReleaseSecret,
  judgeAmbientEnabled,
  judgeEnrolledPod,
  judgeReleases,
  latestRevisions,
  shouldBeCaptured,
  type HelmReleaseRecord,
} from './install-checks.ts';

const secrets = JSON.parse(fixture('k8s/helm-release-secrets.json')) as V1SecretList;
const records = secrets.items
  .map(decodeHelmReleaseSecret)
  .filter((r): r is HelmReleaseRecord => r !== undefined);
const expected = loadProfile(undefined, { env: {} }).releases;
const json = <T>(name: string) => JSON.parse(fixture(`k8s/${name}`)) as T;

describe('INSTALL-01: Helm release records', () => {
  it('decodes sh.helm.release.v1 Secrets (base64 of base64 of gzip JSON) without keeping values', () => {
    expect(records[1]).toEqual({
      name: 'istiod',
      namespace: 'istio-system',
      revision: 1,
      status: 'deployed',
      chart: 'istiod',
      chartVersion: '1.28.3',
      firstDeployed: '2026-11-28T05:30:20.323456789Z',
      lastDeployed: '2026-11-28T05:30:20.323456789Z',
    });
    expect(JSON.stringify(records)).not.toContain('docker.io/istio');
    expect(latestRevisions(records).get('ztunnel')?.revision).toBe(2);
  });

  it('passes the documented install', () => {
    expect(judgeReleases(expected, records, '1.28.3')).toEqual([]);
  });

  it('reports a wrong version, a missing release and an out-of-order install', () => {
    const broken = records
      .filter((r) => r.name !== 'ztunnel')
      .map((r) =>
        r.name === 'istio-cni' ? { ...r, chartVersion: '1.27.4', firstDeployed: '2026-11-28T05:29:00Z' } : r,
      );
    expect(judgeReleases(expected, broken, '1.28.3')).toEqual([
      'release istio-cni: chart version 1.27.4, expected 1.28.3',
      'release ztunnel: not found (expected chart ztunnel 1.28.3)',
      'release istio-cni (wave -43) was first deployed at 2026-11-28T05:29:00Z, before istiod (wave -44) at 2026-11-28T05:30:20.323456789Z',
    ]);
  });

  it('reports a failed release', () => {
    const failed = records.map((r) => (r.name === 'istiod' ? { ...r, status: 'failed' } : r));
    expect(judgeReleases(expected, failed, '1.28.3')).toEqual([
      'release istiod: status failed, expected deployed',
    ]);
  });
});

describe('INSTALL-03: ambient switched on', () => {
  const istiod = json<V1Deployment>('istiod-deployment.json');
  const cni = json<V1ConfigMap>('istio-cni-config.json');
  it('passes with PILOT_ENABLE_AMBIENT=true and AMBIENT_ENABLED="true"', () => {
    expect(judgeAmbientEnabled(istiod, cni)).toEqual([]);
  });
  it('names the missing profile=ambient on either side', () => {
    const noAmbient = structuredClone(istiod);
    const env = noAmbient.spec?.template.spec?.containers[0]?.env ?? [];
    env.splice(
      env.findIndex((e) => e.name === 'PILOT_ENABLE_AMBIENT'),
      1,
    );
    const cniOff = { ...cni, data: { ...cni.data, AMBIENT_ENABLED: 'false' } };
    expect(judgeAmbientEnabled(noAmbient, cniOff)).toEqual([
      'istiod container "discovery" has PILOT_ENABLE_AMBIENT=(unset), expected true (install istiod with profile=ambient)',
      'ConfigMap istio-cni-config has AMBIENT_ENABLED=false, expected "true" (install the cni chart with profile=ambient)',
    ]);
  });
});

describe('INSTALL-04: enrollment without injection', () => {
  it('accepts a captured pod that runs exactly its declared containers', () => {
    expect(judgeEnrolledPod(json<V1Pod>('pod-enrolled.json'), ['server'])).toEqual([]);
  });
  it('flags a pod that was not captured', () => {
    const p = json<V1Pod>('pod-enrolled.json');
    delete p.metadata?.annotations?.['ambient.istio.io/redirection'];
    expect(judgeEnrolledPod(p, ['server'])).toEqual([
      'install-04-x1y2z/probe-server: annotation ambient.istio.io/redirection=(absent), expected enabled',
    ]);
  });
  it('flags sidecar injection', () => {
    const p = json<V1Pod>('pod-sidecar-injected.json');
    expect(judgeEnrolledPod(p, ['app'])).toEqual([
      'loki/app-7d9c: annotation ambient.istio.io/redirection=(absent), expected enabled',
      'loki/app-7d9c: containers added to the spec: istio-proxy (a sidecar was injected)',
      'loki/app-7d9c: init containers added: istio-init',
      'loki/app-7d9c: carries sidecar.istio.io/status (sidecar injection happened)',
    ]);
    expect(shouldBeCaptured(p)).toBe(false);
    expect(shouldBeCaptured(json<V1Pod>('pod-enrolled.json'))).toBe(true);
  });
});
