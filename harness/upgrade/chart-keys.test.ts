import { describe, expect, it } from 'vitest';
import { ISTIO_MINORS } from '../istio/versions.ts';
import { inventoryOf, readsOfTemplate, unknownKeys } from './chart-keys.ts';
import { CHART_ORDER } from './hops.ts';
import { recordedInventory, recordedKeys } from './recorded.ts';

const inv = (chart: (typeof CHART_ORDER)[number], version: string) => {
  const r = recordedInventory(chart, version);
  if (!r) throw new Error(`no recorded inventory for ${chart} ${version}`);
  return r.inventory;
};

describe('what a chart template reads', () => {
  it('chains, parenthesised chains, index and hasKey; not the bare .Values, _original, comments or pick', () => {
    const t = [
      '{{- /* we read .Values.commented here */ -}}',
      '{{ .Values.global.hub }} {{ $.Values.revision }}',
      '{{ ((.Values.global.tracer).zipkin).address }}',
      '{{ index .Values "cni" "ambient" }} {{ hasKey .Values.meshConfig "trustDomain" }}',
      '{{ .Values | toPrettyJson }} {{ .Values._original | toPrettyJson }}',
      '{{ $vals := pick .Values "global" "sidecarInjectorWebhook" }}',
    ].join('\n');
    expect(readsOfTemplate(t).sort()).toEqual(
      [
        'cni.ambient',
        'global.hub',
        'global.tracer.zipkin.address',
        'meshConfig.trustDomain',
        'revision',
      ].sort(),
    );
  });

  it('sprig dig chains name their keys: dig "global" "enableReaderRBAC" true .Values (1.30 reader RBAC)', () => {
    // istio/istio@1.30.3 manifests/charts/base/templates/reader-serviceaccount.yaml (line 1), and
    // @1.31.0-rc.0 istio-discovery/templates/reader-clusterrolebinding.yaml.
    const t = [
      '{{- if and (or (eq .Values.global.resourceScope "all") (eq .Values.global.resourceScope "namespace")) (dig "global" "enableReaderRBAC" true .Values) (not (dig "global" "readerServiceAccount" "name" "" .Values)) }}',
      '  namespace: {{ dig "global" "readerServiceAccount" "namespace" "" .Values }}',
      '{{ dig "a" }} then {{ .Values.other }}', // not a dig of .Values: it must not swallow the chain
      '{{ dig "x" (list) $.Values.meshConfig }}',
    ].join('\n');
    expect(readsOfTemplate(t).sort()).toEqual(
      [
        'global.enableReaderRBAC',
        'global.readerServiceAccount.name',
        'global.readerServiceAccount.namespace',
        'global.resourceScope',
        'global.resourceScope',
        'meshConfig.x',
        'other',
      ].sort(),
    );
  });

  it('the values machinery reads only the profile switches', () => {
    const t =
      '{{- with (coalesce ($.Values).profile ($.Values.global).profile) }}{{ $.Values.global | default dict }}{{ .Values.compatibilityVersion }}';
    expect(readsOfTemplate(t, true).sort()).toEqual(['compatibilityVersion', 'global.profile', 'profile']);
  });

  it('finds the descoping (cni.*, pilot.*) and ztunnel’s flattening of global.*', () => {
    const files = new Map([
      [
        'templates/zzy_descope_legacy.yaml',
        '{{- $_ := mustMergeOverwrite $.Values (index $.Values "cni") }}',
      ],
      [
        'templates/zzz_profile.yaml',
        '{{- if true }}\n{{- $a := mustMergeOverwrite $defaults ($profile.global) ($.Values.global | default dict)  }}\n{{- end }}',
      ],
      ['templates/daemonset.yaml', '{{ .Values.hub }}'],
    ]);
    const i = inventoryOf(files, { hub: 'x' });
    expect(i).toEqual({ reads: ['hub'], descoped: ['cni'], flattensGlobal: true, defaults: ['hub'] });
  });
});

describe('the recorded inventories (scripts/upgrade-inventory.ts)', () => {
  it('cover every chart of every stable tag of 1.28 to 1.30 in the istio/istio mirror', () => {
    const versions = Object.keys(recordedKeys().versions);
    expect(versions).toContain('1.28.3');
    expect(versions).toContain('1.28.10');
    expect(versions).toContain('1.29.6');
    expect(versions).toContain('1.30.3');
    for (const v of versions) {
      expect(Object.keys(ISTIO_MINORS)).toContain(v.split('.').slice(0, 2).join('.'));
      for (const c of CHART_ORDER) expect(recordedInventory(c, v), `${c} ${v}`).toBeDefined();
    }
  });

  it('record the structure the charts have: cni descopes cni.*, istiod pilot.*, ztunnel flattens global.*', () => {
    expect(inv('cni', '1.30.3').descoped).toEqual(['cni']);
    expect(inv('istiod', '1.30.3').descoped).toEqual(['pilot']);
    expect(inv('ztunnel', '1.30.3').flattensGlobal).toBe(true);
    expect(inv('istiod', '1.30.3').flattensGlobal).toBe(false);
  });
});

describe('check 5: keys the chart reads', () => {
  it('accepts the homelab values at every recorded version', () => {
    const homelab = {
      istiod: {
        profile: 'ambient',
        autoscaleEnabled: false,
        replicaCount: 1,
        resources: { requests: { cpu: '50m', memory: '128Mi' } },
      },
      cni: { profile: 'ambient', resources: { requests: { cpu: '10m', memory: '48Mi' } } },
      ztunnel: { resources: { requests: { cpu: '20m', memory: '64Mi' } } },
    } as const;
    for (const v of Object.keys(recordedKeys().versions))
      for (const [chart, values] of Object.entries(homelab))
        expect(unknownKeys(values, inv(chart as 'istiod', v)), `${chart} ${v}`).toEqual([]);
  });

  it('accepts free-form maps read whole (meshConfig, pilot.env through descoping, podAnnotations) and profile-only keys', () => {
    const values = {
      meshConfig: { accessLogFile: '/dev/stdout', defaultConfig: { proxyMetadata: { X: '1' } } },
      pilot: { env: { PILOT_ENABLE_AMBIENT: 'true', ANYTHING_GOES: 'x' } },
      podAnnotations: { 'a/b': 'c' },
      global: { hub: 'docker.io/istio', proxy: { image: 'proxyv2' } },
    };
    expect(unknownKeys(values, inv('istiod', '1.30.3'))).toEqual([]);
  });

  it('refuses a misspelt key, with the close one, and a key no template of that chart reads', () => {
    expect(unknownKeys({ resorces: { requests: { cpu: '1' } } }, inv('istiod', '1.30.3'))).toEqual([
      {
        key: 'resorces.requests.cpu',
        why: 'no template reads it and values.yaml has no default for it',
        suggestion: 'resources.requests.cpu',
      },
    ]);
    expect(unknownKeys({ ambient: { enabeld: true } }, inv('cni', '1.30.3'))[0]?.suggestion).toBe(
      'ambient.enabled',
    );
    // pilot.env is istiod's; the cni chart never reads it.
    expect(unknownKeys({ pilot: { env: { X: '1' } } }, inv('cni', '1.30.3')).map((u) => u.key)).toEqual([
      'pilot.env.X',
    ]);
  });

  it('cni.* counts as the top level in the cni chart; global.* as the top level in ztunnel', () => {
    expect(unknownKeys({ cni: { excludeNamespaces: ['kube-system'] } }, inv('cni', '1.29.6'))).toEqual([]);
    expect(unknownKeys({ global: { hub: 'docker.io/istio' } }, inv('ztunnel', '1.29.6'))).toEqual([]);
    expect(
      unknownKeys({ global: { hubb: 'docker.io/istio' } }, inv('ztunnel', '1.29.6')).map((u) => u.key),
    ).toEqual(['global.hubb']);
  });

  it('global.enableReaderRBAC is read by base and istiod from 1.30.0 (through dig), not before', () => {
    const values = { global: { enableReaderRBAC: false } };
    for (const v of ['1.30.0', '1.30.3']) {
      expect(unknownKeys(values, inv('base', v)), `base ${v}`).toEqual([]);
      expect(unknownKeys(values, inv('istiod', v)), `istiod ${v}`).toEqual([]);
    }
    expect(unknownKeys(values, inv('base', '1.29.6')).map((u) => u.key)).toEqual(['global.enableReaderRBAC']);
  });

  it('a key added in a later version is unknown before it (ztunnel dnsPolicy, 1.30)', () => {
    expect(unknownKeys({ dnsPolicy: 'ClusterFirst' }, inv('ztunnel', '1.29.6')).map((u) => u.key)).toEqual([
      'dnsPolicy',
    ]);
    expect(unknownKeys({ dnsPolicy: 'ClusterFirst' }, inv('ztunnel', '1.30.3'))).toEqual([]);
  });
});
