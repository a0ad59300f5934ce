import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readManifests } from './manifests.ts';
import type { PeerAuthenticationInfo, PeerAuthMode } from './mesh.ts';
import { ReachabilityModel } from './model.ts';
import { convertedDenies, convertPeerAuthentication, peerAuthDecision, peerAuthVerdict } from './peerauth.ts';
import type { PodInfo } from './types.ts';

/**
 * PeerAuthentication with portLevelMtls, as istiod 1.28.3 converts it for ztunnel
 * (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
 * convertedSelectorPeerAuthentications, convertPeerAuthentication; policies.go
 * PeerAuthDerivedPolicies) and ztunnel evaluates it (src/rbac.rs). The attachment cases restate
 * the steps of istio/istio 1.28.3 ambientindex_test.go TestAmbientIndex_Policy.
 */

const ROOT = 'istio-system';
const pa = (
  namespace: string,
  name: string,
  mode: PeerAuthMode,
  extra: Partial<PeerAuthenticationInfo> = {},
): PeerAuthenticationInfo => ({ namespace, name, mode, ...extra });
const sel = { selector: { matchLabels: { app: 'a' } } };
const pod1: PodInfo = { namespace: 'ns1', name: 'pod1', labels: { app: 'a' }, ports: [] };
const pod3: PodInfo = { namespace: 'ns1', name: 'pod3', labels: { app: 'not-a' }, ports: [] };

/** What istiod attaches to the workload: the static STRICT policy and/or the converted workload policy. */
function attached(list: PeerAuthenticationInfo[], pod = pod1): string[] {
  const d = peerAuthDecision(list, pod, ROOT);
  return [
    ...(d.converted ? [d.converted.key] : []),
    ...(d.staticStrict ? [`${ROOT}/istio_converted_static_strict`] : []),
  ];
}

/** For a port, whether plaintext and mTLS connections are reset: "plaintext/mtls", R for reset, . for through. */
function onPort(list: PeerAuthenticationInfo[], port: number, pod = pod1): string {
  const d = peerAuthDecision(list, pod, ROOT);
  const reset = (identity: boolean) =>
    (!identity && d.staticStrict) ||
    (d.converted !== undefined && convertedDenies(d.converted, identity, port));
  return `${reset(false) ? 'R' : '.'}/${reset(true) ? 'R' : '.'}`;
}

describe('which PeerAuthentication policies istiod attaches (TestAmbientIndex_Policy, restated)', () => {
  const global = pa(ROOT, 'global', 'PERMISSIVE');
  const nsStrict = pa('ns1', 'namespace', 'STRICT');
  it('a STRICT namespace policy under a PERMISSIVE mesh policy attaches the static STRICT policy', () => {
    expect(attached([global, nsStrict])).toEqual([`${ROOT}/istio_converted_static_strict`]);
  });
  it('a STRICT workload policy changes nothing; a PERMISSIVE one removes STRICT', () => {
    expect(attached([global, nsStrict, pa('ns1', 'selector', 'STRICT', sel)])).toEqual([
      `${ROOT}/istio_converted_static_strict`,
    ]);
    expect(attached([global, nsStrict, pa('ns1', 'selector', 'PERMISSIVE', sel)])).toEqual([]);
  });
  it('PERMISSIVE with a STRICT port attaches the converted workload policy; a pod it does not select keeps the namespace STRICT', () => {
    const list = [
      global,
      nsStrict,
      pa('ns1', 'selector', 'PERMISSIVE', { ...sel, portLevelMtls: { 9090: 'STRICT' } }),
    ];
    expect(attached(list)).toEqual(['ns1/converted_peer_authentication_selector']);
    expect(attached(list, pod3)).toEqual([`${ROOT}/istio_converted_static_strict`]);
  });
  it('a PeerAuthentication with a selector in the root namespace is not mesh-wide: it is ignored', () => {
    const list = [global, nsStrict, pa(ROOT, 'global-selector', 'STRICT', sel)];
    expect(attached(list, { ...pod1, labels: { app: 'a' } })).toEqual([
      `${ROOT}/istio_converted_static_strict`,
    ]);
    expect(attached([pa(ROOT, 'global-selector', 'STRICT', sel)])).toEqual([]);
  });
  it('PERMISSIVE with only PERMISSIVE ports attaches nothing', () => {
    expect(
      attached([
        global,
        nsStrict,
        pa('ns1', 'selector', 'PERMISSIVE', { ...sel, portLevelMtls: { 9090: 'PERMISSIVE' } }),
      ]),
    ).toEqual([]);
  });
  it('STRICT with a PERMISSIVE port attaches the converted policy instead of the static one', () => {
    const list = [
      pa('ns1', 'namespace', 'PERMISSIVE'),
      pa('ns1', 'selector', 'STRICT', { ...sel, portLevelMtls: { 9090: 'PERMISSIVE' } }),
    ];
    expect(attached(list)).toEqual(['ns1/converted_peer_authentication_selector']);
    expect(onPort(list, 9090)).toBe('./.');
    expect(onPort(list, 8080)).toBe('R/.');
  });
  it('UNSET with a STRICT port under a PERMISSIVE namespace attaches the converted policy: that port only is STRICT', () => {
    const list = [
      pa('ns1', 'namespace', 'PERMISSIVE'),
      pa('ns1', 'selector', 'UNSET', { ...sel, portLevelMtls: { 9090: 'STRICT' } }),
    ];
    expect(attached(list)).toEqual(['ns1/converted_peer_authentication_selector']);
    expect(onPort(list, 9090)).toBe('R/.');
    expect(onPort(list, 8080)).toBe('./.');
  });
  it('UNSET with a PERMISSIVE port under a STRICT namespace: the merged policy carries the STRICT part in-line', () => {
    const list = [
      nsStrict,
      pa('ns1', 'selector', 'UNSET', { ...sel, portLevelMtls: { 9090: 'PERMISSIVE' } }),
    ];
    expect(attached(list)).toEqual(['ns1/converted_peer_authentication_selector']);
    expect(onPort(list, 9090)).toBe('./.');
    expect(onPort(list, 8080)).toBe('R/.');
  });
  it('with no PeerAuthentication at all, nothing is attached and plaintext is accepted', () => {
    expect(attached([])).toEqual([]);
    expect(onPort([], 80)).toBe('./.');
  });
});

describe('convertPeerAuthentication', () => {
  it('converts nothing for a policy without selector, in the root namespace, or without ports', () => {
    expect(
      convertPeerAuthentication(
        ROOT,
        pa('ns1', 'x', 'STRICT', { portLevelMtls: { 1: 'PERMISSIVE' } }),
        undefined,
        undefined,
      ),
    ).toBeUndefined();
    expect(
      convertPeerAuthentication(
        ROOT,
        pa(ROOT, 'x', 'STRICT', { ...sel, portLevelMtls: { 1: 'PERMISSIVE' } }),
        undefined,
        undefined,
      ),
    ).toBeUndefined();
    expect(
      convertPeerAuthentication(ROOT, pa('ns1', 'x', 'STRICT', sel), undefined, undefined),
    ).toBeUndefined();
  });
  it('STRICT with every port STRICT is just STRICT (the static policy does it)', () => {
    expect(
      convertPeerAuthentication(
        ROOT,
        pa('ns1', 'x', 'STRICT', { ...sel, portLevelMtls: { 80: 'STRICT' } }),
        undefined,
        undefined,
      ),
    ).toBeUndefined();
  });
  it('PERMISSIVE with a STRICT port: one group per port, denying plaintext on that port', () => {
    const c = convertPeerAuthentication(
      ROOT,
      pa('ns1', 'x', 'PERMISSIVE', { ...sel, portLevelMtls: { 80: 'STRICT', 81: 'STRICT' } }),
      undefined,
      undefined,
    );
    expect(c?.groups).toEqual([
      [[{ noPrincipal: true, destinationPort: 80 }]],
      [[{ noPrincipal: true, destinationPort: 81 }]],
    ]);
  });
  it('DISABLE on a port is PERMISSIVE to ztunnel', () => {
    const list = [pa('ns1', 'x', 'STRICT', { ...sel, portLevelMtls: { 9090: 'DISABLE' } })];
    expect(onPort(list, 9090)).toBe('./.');
    expect(onPort(list, 80)).toBe('R/.');
  });
});

describe("istiod 1.28.3's quirks are what a cluster does", () => {
  it('UNSET workload, DISABLE port, STRICT mesh: the static STRICT policy stays, so the DISABLE port is still STRICT', () => {
    // convertedSelectorPeerAuthentications looks only for PERMISSIVE ports when the workload mode is UNSET.
    const list = [
      pa(ROOT, 'default', 'STRICT'),
      pa('ns1', 'w', 'UNSET', { ...sel, portLevelMtls: { 9090: 'DISABLE' } }),
    ];
    expect(attached(list)).toEqual([`${ROOT}/istio_converted_static_strict`]);
    expect(onPort(list, 9090)).toBe('R/.');
    expect(peerAuthVerdict(peerAuthDecision(list, pod1, ROOT), false, 9090, ROOT).reason).toContain(
      'in a policy without a mode istiod looks only for PERMISSIVE ports',
    );
  });
  it('UNSET workload, PERMISSIVE port, namespace policy UNSET under a STRICT mesh: the whole pod loses STRICT', () => {
    const list = [
      pa(ROOT, 'default', 'STRICT'),
      pa('ns1', 'ns', 'UNSET'),
      pa('ns1', 'w', 'UNSET', { ...sel, portLevelMtls: { 9090: 'PERMISSIVE' } }),
    ];
    expect(attached(list)).toEqual([]);
    expect(onPort(list, 8080)).toBe('./.');
    expect(peerAuthDecision(list, pod1, ROOT).notes.join()).toContain(
      'converts ns1/w to nothing, so no PeerAuthentication STRICT applies to the pod at all',
    );
  });
  it('PERMISSIVE workload, STRICT port, STRICT mesh and no namespace policy: the STRICT port is skipped, so nothing is STRICT', () => {
    const list = [
      pa(ROOT, 'default', 'STRICT'),
      pa('ns1', 'w', 'PERMISSIVE', { ...sel, portLevelMtls: { 9090: 'STRICT' } }),
    ];
    expect(onPort(list, 9090)).toBe('./.');
  });
  it('the oldest of competing workload policies wins, and the reason says there were several', () => {
    const list = [
      pa('ns1', 'newer', 'PERMISSIVE', { ...sel, creationTimestamp: '2026-11-02T00:00:00Z' }),
      pa('ns1', 'older', 'STRICT', { ...sel, creationTimestamp: '2026-11-01T00:00:00Z' }),
    ];
    const d = peerAuthDecision(list, pod1, ROOT);
    expect(d.workload?.name).toBe('older');
    expect(d.staticStrict).toBe(true);
    expect(d.notes[0]).toBe(
      '2 workload PeerAuthentications compete (ns1/newer, ns1/older); istiod uses the oldest by creationTimestamp, ns1/older',
    );
  });
  it('a tie or a missing timestamp leaves the choice to istiod: the first given is taken, and the note says a cluster may differ', () => {
    const t = '2026-11-01T00:00:00Z';
    const tied = [
      pa('ns1', 'x', 'PERMISSIVE', { ...sel, creationTimestamp: t }),
      pa('ns1', 'y', 'STRICT', { ...sel, creationTimestamp: t }),
    ];
    const d = peerAuthDecision(tied, pod1, ROOT);
    expect(d.workload?.name).toBe('x');
    expect(d.notes[0]).toContain('which these manifests do not settle');
    expect(d.notes[0]).toContain('a cluster may differ');
    expect(
      peerAuthDecision([pa('ns1', 'x', 'PERMISSIVE', sel), pa('ns1', 'y', 'STRICT', sel)], pod1, ROOT)
        .notes[0],
    ).toContain('the first given, ns1/x');
  });
});

/** Issue 11's second failing input (istio/istio#53884, fixed by #54073). */
describe('a workload policy with only portLevelMtls under a mesh-wide STRICT', () => {
  const objects = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'ns-op', labels: { 'istio.io/dataplane-mode': 'ambient' } },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-plain' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'operator-1', namespace: 'ns-op', labels: { 'control-plane': 'controller-manager' } },
      spec: { containers: [{ name: 'manager', ports: [{ containerPort: 9443 }, { containerPort: 8080 }] }] },
      status: { podIP: '10.244.1.5' },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'ns-plain' },
      spec: { containers: [{ name: 'c' }] },
      status: { podIP: '10.244.2.6' },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'istio-system' },
      spec: { mtls: { mode: 'STRICT' } },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'webhook-port', namespace: 'ns-op' },
      spec: {
        selector: { matchLabels: { 'control-plane': 'controller-manager' } },
        portLevelMtls: { '9443': { mode: 'PERMISSIVE' } },
      },
    },
  ];
  it('plaintext reaches 9443 (.) and is reset on 8080 (R), each reason naming the policies that decided', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plm-'));
    const file = path.join(dir, 'm.yaml');
    writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
    const m = new ReachabilityModel(readManifests([file]).state);
    const cell = (port: number) =>
      m.cell(m.podIndex('ns-plain/client') ?? -1, m.podIndex('ns-op/operator-1') ?? -1, port);
    expect(cell(9443)).toMatchObject({ outcome: 'allow', allowed: true });
    expect(cell(9443).reason).toContain(
      'PeerAuthentication leaves port 9443 open to plaintext (mesh istio-system/default STRICT > workload ns-op/webhook-port UNSET, port 9443 PERMISSIVE',
    );
    expect(cell(8080)).toMatchObject({ outcome: 'deny', allowed: false });
    expect(cell(8080).reason).toContain(
      "mesh deny: PeerAuthentication makes port 8080 STRICT (mesh istio-system/default STRICT > workload ns-op/webhook-port UNSET) and the source has no mTLS identity (plaintext); ztunnel resets (ns-op/converted_peer_authentication_webhook-port: istiod's merge of ns-op/webhook-port with its portLevelMtls)",
    );
  });
});
