import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers/fake-bin.ts';
import { diffLeftovers, ISTIO_CRDS, leftoversReport } from './leftovers.ts';
import { istioCniLeftovers, judgeNodeRules, parseRuleSections, splitDump } from './node-state.ts';
import { unenroll } from './live.ts';

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
  it('finds ISTIO_POSTRT in both families, its rules and the probe ipsets; kindnet’s own table is not Istio’s', () => {
    const v = judgeNodeRules(parseRuleSections(fixture('node/rules-with-istio.txt')));
    expect(v.inconclusive).toEqual([]);
    expect(v.leftovers).toEqual([
      'iptables-nft-save: chain ISTIO_POSTRT',
      'iptables-nft-save: rule -A POSTROUTING -j ISTIO_POSTRT',
      'iptables-nft-save: rule -A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v4 dst -j SNAT --to-source 169.254.7.127',
      'ip6tables-nft-save: chain ISTIO_POSTRT',
      'ip6tables-nft-save: rule -A POSTROUTING -j ISTIO_POSTRT',
      'ip6tables-nft-save: rule -A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v6 dst -j SNAT --to-source fd16:9254:7127:1337:ffff:ffff:ffff:ffff',
      'nftables chain ISTIO_POSTRT',
      'ipset istio-inpod-probes-v4',
      'ipset istio-inpod-probes-v6',
    ]);
    expect(judgeNodeRules(parseRuleSections(fixture('node/rules-clean.txt')))).toEqual({
      leftovers: [],
      inconclusive: [],
    });
  });

  it('reads the legacy backend too, and istio-cni’s native nftables tables', () => {
    const v = judgeNodeRules(
      parseRuleSections(
        '==> iptables-legacy-save <==\n*nat\n:ISTIO_POSTRT - [0:0]\nCOMMIT\n==> nft <==\ntable inet istio-ambient-nat {\n}\n',
      ),
      ['iptables-legacy-save', 'nft'],
    );
    expect(v).toEqual({
      leftovers: ['iptables-legacy-save: chain ISTIO_POSTRT', 'nftables table istio-ambient-nat'],
      inconclusive: [],
    });
  });

  it('never calls a node clean when a reader is missing or failed: inconclusive, with why', () => {
    const text = [
      '==> iptables-legacy-save <==',
      '==> iptables-nft-save <==',
      '==> ip6tables-legacy-save: not installed <==',
      '==> ip6tables-nft-save <==',
      '==> nft <==',
      '==> ipset <==',
      'ipset v7.17: Kernel error received: Operation not permitted',
      '==> ipset failed: exit 1 <==',
    ].join('\n');
    expect(judgeNodeRules(parseRuleSections(text))).toEqual({
      leftovers: [],
      inconclusive: [
        'ip6tables-legacy-save: not installed on the node',
        'ipset: failed (exit 1: ipset v7.17: Kernel error received: Operation not permitted)',
      ],
    });
    // kind v0.30.0 nodes have no ipset binary: without the ipset section, nothing is claimed.
    expect(
      judgeNodeRules(parseRuleSections(fixture('node/rules-clean.txt').split('==> ipset <==')[0] ?? ''))
        .inconclusive,
    ).toEqual(['ipset: not read']);
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

describe('un-enrolling', () => {
  /** A cluster where a pod keeps its redirection annotation (no istio-cni to take it off). */
  function stub() {
    const calls: string[] = [];
    const kube = {
      core: {
        readNamespace: ({ name }: { name: string }) => {
          calls.push(`read ${name}`);
          return Promise.resolve({ metadata: { name, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
        },
        replaceNamespace: ({
          name,
          body,
        }: {
          name: string;
          body: { metadata: { labels: Record<string, string> } };
        }) => {
          calls.push(`replace ${name} ${JSON.stringify(body.metadata.labels)}`);
          return Promise.resolve(body);
        },
        listPodForAllNamespaces: () => {
          calls.push('list pods');
          return Promise.resolve({
            items: [
              {
                metadata: {
                  namespace: 's',
                  name: 'a',
                  annotations: { 'ambient.istio.io/redirection': 'enabled' },
                },
              },
            ],
          });
        },
      },
    };
    const ctx = { kube, timeouts: { podReady: 300, pollInterval: 20 } } as unknown as Parameters<
      typeof unenroll
    >[0];
    return { ctx, calls };
  }

  it('without istio-cni it removes the label and does not wait for an annotation nothing can remove', async () => {
    const { ctx, calls } = stub();
    const t0 = Date.now();
    await unenroll(ctx, ['s'], { cniRunning: false });
    expect(Date.now() - t0).toBeLessThan(200);
    expect(calls).toEqual(['read s', 'replace s {}']);
  });

  it('with istio-cni it waits for the annotation to go, and says what it last saw', async () => {
    const { ctx } = stub();
    const e = (await unenroll(ctx, ['s']).catch((x: unknown) => x)) as {
      message: string;
      details: { seen?: string };
    };
    expect(e.message).toMatch(/waiting for istio-cni to remove ambient.istio.io\/redirection/);
    expect(e.details.seen).toContain('s/a (ambient.istio.io/redirection=enabled)');
  });
});
