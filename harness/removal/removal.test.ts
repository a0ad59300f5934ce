import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers/fake-bin.ts';
import { diffLeftovers, ISTIO_CRDS, leftoversReport } from './leftovers.ts';
import { istioCniLeftovers, istioRuleLeftovers, splitDump } from './node-state.ts';

describe('node state after istio-cni', () => {
  it('finds the chained istio-cni plugin in the kindnet conflist, and nothing once it is removed', () => {
    expect(istioCniLeftovers(splitDump(fixture('node/net.d-with-istio.txt')))).toEqual([
      '/etc/cni/net.d/10-kindnet.conflist: plugin "istio-cni" still chained',
    ]);
    expect(istioCniLeftovers(splitDump(fixture('node/net.d-clean.txt')))).toEqual([]);
    expect(istioCniLeftovers([{ path: '/etc/cni/net.d/02-istio-cni.conflist', content: '{}' }])).toEqual([
      '/etc/cni/net.d/02-istio-cni.conflist (istio-owned CNI config)',
    ]);
  });
  it('finds ISTIO_POSTRT, its rules and the probe ipsets; kindnet’s own rules are not Istio’s', () => {
    expect(istioRuleLeftovers(fixture('node/rules-with-istio.txt'))).toEqual([
      'iptables chain ISTIO_POSTRT',
      'iptables rule: -A POSTROUTING -j ISTIO_POSTRT',
      'iptables rule: -A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v4 dst -j SNAT --to-source 169.254.7.127',
      'ipset istio-inpod-probes-v4',
      'ipset istio-inpod-probes-v6',
    ]);
    expect(istioRuleLeftovers(fixture('node/rules-clean.txt'))).toEqual([]);
    expect(istioRuleLeftovers('==> nft <==\ntable inet istio-ambient {\n==> ipset <==\n')).toEqual([
      'nftables table istio-ambient',
    ]);
  });
});

describe('leftovers', () => {
  const allowed = [
    { kind: 'CustomResourceDefinition', name: '*.istio.io', reason: 'kept by design' },
    { kind: 'ConfigMap', name: 'istio-ca-root-cert', namespace: '*', reason: 'istiod namespace controller' },
  ];
  it('allows the kept CRDs and root-cert ConfigMaps, and flags anything else', () => {
    const found = [
      ...ISTIO_CRDS.map((name) => ({ kind: 'CustomResourceDefinition', name })),
      { kind: 'ConfigMap', name: 'istio-ca-root-cert', namespace: 'default' },
      { kind: 'ClusterRole', name: 'istio-cni-repair-role' },
      {
        kind: 'Pod',
        name: 'app-1',
        namespace: 'loki',
        detail: 'annotation ambient.istio.io/redirection=enabled',
      },
    ];
    const d = diffLeftovers(found, allowed);
    expect(ISTIO_CRDS).toHaveLength(14);
    expect(d.allowed).toHaveLength(15);
    expect(d.unexpected.map((l) => l.name)).toEqual(['istio-cni-repair-role', 'app-1']);
    expect(leftoversReport(found, allowed)).toContain(
      '- Pod loki/app-1 (annotation ambient.istio.io/redirection=enabled)',
    );
  });
});
