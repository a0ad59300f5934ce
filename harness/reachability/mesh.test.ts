import { describe, expect, it } from 'vitest';
import { frame, np } from '../../test/helpers/netpol-frame.ts';
import type { AuthorizationPolicyInfo, PeerAuthenticationInfo } from './mesh.ts';
import { principalOf, spiffeId, stringMatch } from './mesh.ts';
import { peerAuthDecision } from './peerauth.ts';
import { ReachabilityModel } from './model.ts';
import type { NetworkPolicyInfo } from './types.ts';

function model(
  opts: { pa?: PeerAuthenticationInfo[]; ap?: AuthorizationPolicyInfo[]; np?: NetworkPolicyInfo[] } = {},
) {
  const state = frame({ meshed: ['x', 'y'] });
  state.namespaces.push({ name: 'istio-system', labels: {} });
  return new ReachabilityModel({
    ...state,
    peerAuthentications: opts.pa ?? [],
    authorizationPolicies: opts.ap ?? [],
    networkPolicies: opts.np ?? [],
    istioNamespace: 'istio-system',
  });
}

function cell(m: ReachabilityModel, from: string, to: string, port = 80) {
  return m.cell(m.podIndex(from) ?? -1, m.podIndex(to) ?? -1, port);
}

describe('identities', () => {
  it('derive from namespace and service account; policies omit spiffe://', () => {
    const pod = { namespace: 'loki', name: 'p', labels: {}, ports: [], serviceAccount: 'promtail' };
    expect(principalOf(pod)).toBe('cluster.local/ns/loki/sa/promtail');
    expect(spiffeId(pod)).toBe('spiffe://cluster.local/ns/loki/sa/promtail');
    expect(spiffeId({ ...pod, serviceAccount: undefined })).toBe('spiffe://cluster.local/ns/loki/sa/default');
  });
  it('string matching: exact, presence, prefix, suffix', () => {
    expect(stringMatch('*', 'a')).toBe(true);
    expect(stringMatch('cluster.local/ns/x/*', 'cluster.local/ns/x/sa/sa-x')).toBe(true);
    expect(stringMatch('*/sa/sa-x', 'cluster.local/ns/x/sa/sa-x')).toBe(true);
    expect(stringMatch('cluster.local/ns/x/sa/other', 'cluster.local/ns/x/sa/sa-x')).toBe(false);
  });
});

describe('PeerAuthentication', () => {
  it('STRICT resets plaintext from a non-meshed client while meshed clients connect', () => {
    const m = model({ pa: [{ namespace: 'y', name: 'strict', mode: 'STRICT' }] });
    expect(cell(m, 'z/a', 'y/a')).toMatchObject({ allowed: false, outcome: 'deny' });
    expect(cell(m, 'z/a', 'y/a').reason).toContain(
      'PeerAuthentication makes port 80 STRICT (namespace y/strict STRICT) and the source has no mTLS identity',
    );
    expect(cell(m, 'x/a', 'y/a')).toMatchObject({ allowed: true, outcome: 'allow' });
  });
  it('PERMISSIVE (the default) accepts both', () => {
    const m = model({ pa: [{ namespace: 'y', name: 'permissive', mode: 'PERMISSIVE' }] });
    expect(cell(m, 'z/a', 'y/a').allowed).toBe(true);
    expect(cell(m, 'x/a', 'y/a').allowed).toBe(true);
  });
  it('precedence: workload over namespace over mesh-wide', () => {
    const list: PeerAuthenticationInfo[] = [
      { namespace: 'istio-system', name: 'mesh', mode: 'STRICT' },
      { namespace: 'y', name: 'ns', mode: 'PERMISSIVE' },
      { namespace: 'y', name: 'wl', mode: 'STRICT', selector: { matchLabels: { pod: 'b' } } },
    ];
    const pod = (ns: string, p: string) => ({ namespace: ns, name: p, labels: { pod: p }, ports: [] });
    const d = (ns: string, p: string) => {
      const r = peerAuthDecision(list, pod(ns, p), 'istio-system');
      return { strict: r.staticStrict, by: [r.mesh, r.namespace, r.workload].map((x) => x?.name) };
    };
    expect(d('y', 'a')).toEqual({ strict: false, by: ['mesh', 'ns', undefined] });
    expect(d('y', 'b')).toEqual({ strict: true, by: ['mesh', 'ns', 'wl'] });
    expect(d('x', 'a')).toEqual({ strict: true, by: ['mesh', undefined, undefined] });
  });
  it('a non-meshed destination is not enforced by the mesh', () => {
    const m = model({ pa: [{ namespace: 'istio-system', name: 'mesh', mode: 'STRICT' }] });
    expect(cell(m, 'z/a', 'z/b').allowed).toBe(true);
  });
});

describe('L4 AuthorizationPolicy (destination ztunnel)', () => {
  const allowSaX: AuthorizationPolicyInfo = {
    namespace: 'y',
    name: 'allow-sa-x',
    action: 'ALLOW',
    selector: { matchLabels: { pod: 'a' } },
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/x/sa/sa-x'] } }] }],
  };

  it('ALLOW by principal admits only that service account; others and plaintext are reset', () => {
    const m = model({ ap: [allowSaX] });
    expect(cell(m, 'x/b', 'y/a').allowed).toBe(true);
    expect(cell(m, 'y/b', 'y/a')).toMatchObject({ allowed: false, outcome: 'deny' });
    expect(cell(m, 'y/b', 'y/a').reason).toBe(
      'mesh deny: ALLOW policies exist (y/allow-sa-x) but none allows cluster.local/ns/y/sa/sa-y on port 80',
    );
    expect(cell(m, 'z/a', 'y/a').outcome).toBe('deny');
    expect(cell(m, 'x/b', 'y/b').allowed).toBe(true); // not selected
  });

  it('ALLOW by source namespace', () => {
    const m = model({
      ap: [
        {
          namespace: 'y',
          name: 'from-x',
          action: 'ALLOW',
          rules: [{ from: [{ source: { namespaces: ['x'] } }] }],
        },
      ],
    });
    expect(cell(m, 'x/c', 'y/b').allowed).toBe(true);
    expect(cell(m, 'y/c', 'y/b').outcome).toBe('deny');
    expect(cell(m, 'z/c', 'y/b').outcome).toBe('deny'); // plaintext has no namespace identity
  });

  it('DENY wins over ALLOW', () => {
    const m = model({
      ap: [
        { namespace: 'y', name: 'allow-all', action: 'ALLOW', rules: [{}] },
        {
          namespace: 'y',
          name: 'deny-x-a',
          action: 'DENY',
          rules: [
            {
              from: [{ source: { principals: ['cluster.local/ns/x/*'] } }],
              to: [{ operation: { ports: ['80'] } }],
            },
          ],
        },
      ],
    });
    expect(cell(m, 'x/a', 'y/a', 80).reason).toBe(
      'mesh deny: AuthorizationPolicy y/deny-x-a (DENY, rule 0) matches',
    );
    expect(cell(m, 'x/a', 'y/a', 81).allowed).toBe(true);
    expect(cell(m, 'y/b', 'y/a', 80).allowed).toBe(true);
  });

  it('an ALLOW that needs L7 attributes, with no waypoint, denies all traffic to its workloads', () => {
    const m = model({
      ap: [
        {
          namespace: 'y',
          name: 'get-only',
          action: 'ALLOW',
          rules: [{ to: [{ operation: { l7: ['methods'] } }] }],
        },
      ],
    });
    expect(cell(m, 'x/a', 'y/a').outcome).toBe('deny');
    expect(cell(m, 'x/a', 'y/a').reason).toContain(
      'y/get-only need L7 attributes, which ztunnel cannot match without a waypoint',
    );
  });

  it('an ALLOW with no rules allows nothing; a DENY with no rules denies nothing', () => {
    expect(
      cell(model({ ap: [{ namespace: 'y', name: 'allow-nothing', action: 'ALLOW' }] }), 'x/a', 'y/a').outcome,
    ).toBe('deny');
    expect(
      cell(model({ ap: [{ namespace: 'y', name: 'deny-nothing', action: 'DENY' }] }), 'x/a', 'y/a').outcome,
    ).toBe('allow');
  });

  it('a mesh-wide policy in the root namespace applies everywhere; waypoint-bound policies do not apply to ztunnel', () => {
    const m = model({
      ap: [
        {
          namespace: 'istio-system',
          name: 'deny-z',
          action: 'DENY',
          rules: [{ from: [{ source: { ipBlocks: ['10.244.2.0/24'] } }] }],
        },
        { namespace: 'y', name: 'wp', action: 'ALLOW', targetRefs: true, rules: [] },
      ],
    });
    expect(cell(m, 'z/a', 'x/a').outcome).toBe('deny');
    expect(cell(m, 'y/a', 'x/a').outcome).toBe('allow');
  });

  it('a NetworkPolicy drop comes first: timeout, not reset', () => {
    const m = model({ ap: [allowSaX], np: [np('y', 'deny-all', { policyTypes: ['Ingress'] })] });
    expect(cell(m, 'y/b', 'y/a').outcome).toBe('drop');
  });

  it('L4 when conditions', () => {
    const m = model({
      ap: [
        {
          namespace: 'y',
          name: 'when',
          action: 'ALLOW',
          rules: [
            {
              when: [
                { key: 'source.namespace', values: ['x'] },
                { key: 'destination.port', notValues: ['81'] },
              ],
            },
          ],
        },
      ],
    });
    expect(cell(m, 'x/a', 'y/a', 80).allowed).toBe(true);
    expect(cell(m, 'x/a', 'y/a', 81).allowed).toBe(false);
  });
});
