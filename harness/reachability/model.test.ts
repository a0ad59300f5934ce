import { describe, expect, it } from 'vitest';
import { frame, np } from '../../test/helpers/netpol-frame.ts';
import { ReachabilityModel } from './model.ts';
import type { ClusterState, NetworkPolicyInfo } from './types.ts';

function model(state: ClusterState, ...policies: NetworkPolicyInfo[]) {
  return new ReachabilityModel({ ...state, networkPolicies: [...state.networkPolicies, ...policies] });
}

/** The matrix for one port as "from->to" strings of the cells that are NOT allowed. */
function blocked(m: ReachabilityModel, port: number): string[] {
  return m
    .matrix([port])
    .filter((c) => !c.allowed)
    .map((c) => `${c.from}->${c.to}`)
    .sort();
}

function cell(m: ReachabilityModel, from: string, to: string, port: number) {
  const s = m.podIndex(from);
  const d = m.podIndex(to);
  if (s === undefined || d === undefined) throw new Error('no such pod');
  return m.cell(s, d, port);
}

const all = (pred: (from: string, to: string) => boolean) => {
  const pods = ['x', 'y', 'z'].flatMap((n) => ['a', 'b', 'c'].map((p) => `${n}/${p}`));
  return pods.flatMap((f) => pods.filter((t) => t !== f && pred(f, t)).map((t) => `${f}->${t}`)).sort();
};

describe('NetworkPolicy semantics (x, y, z × a, b, c on 80/81)', () => {
  it('no policy: everything connects', () => {
    expect(blocked(model(frame()), 80)).toEqual([]);
    expect(model(frame()).matrix()).toHaveLength(72 * 2);
  });

  it('deny all ingress in x isolates every pod of x, and only for ingress', () => {
    const m = model(frame(), np('x', 'deny-all', { policyTypes: ['Ingress'] }));
    expect(blocked(m, 80)).toEqual(all((_f, t) => t.startsWith('x/')));
    expect(cell(m, 'y/a', 'x/b', 80).reason).toBe(
      'drop: ingress of x/b is isolated by x/deny-all and no rule allows y/a on TCP 80 (plaintext: y/a not enrolled)',
    );
    expect(cell(m, 'y/a', 'x/b', 80).outcome).toBe('drop');
  });

  it('allow from the same namespace by podSelector only (peer without namespaceSelector = policy namespace)', () => {
    const m = model(
      frame(),
      np('x', 'allow-b', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ peers: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t === 'x/a' && f !== 'x/b'));
  });

  it('namespaceSelector alone admits every pod of the selected namespaces', () => {
    const m = model(
      frame(),
      np('x', 'from-y', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t === 'x/a' && !f.startsWith('y/')));
  });

  it('podSelector and namespaceSelector in one peer are ANDed', () => {
    const m = model(
      frame(),
      np('x', 'and', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t === 'x/a' && f !== 'y/b'));
  });

  it('two peers are ORed', () => {
    const m = model(
      frame(),
      np('x', 'or', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { ns: 'y' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t === 'x/a' && !f.startsWith('y/') && f !== 'x/b'));
  });

  it('kubernetes.io/metadata.name is set on every namespace', () => {
    const m = model(
      frame(),
      np('x', 'by-name', {
        policyTypes: ['Ingress'],
        ingress: [
          { peers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] },
        ],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t.startsWith('x/') && !f.startsWith('z/')));
  });

  it('matchExpressions: NotIn, Exists, DoesNotExist, In', () => {
    const notIn = model(
      frame(),
      np('x', 'notin', {
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] } },
            ],
          },
        ],
      }),
    );
    expect(blocked(notIn, 80)).toEqual(all((f, t) => t.startsWith('x/') && f.startsWith('y/')));
    const labelled = frame({ podLabels: { 'z/c': { special: 'yes' } } });
    const exists = model(
      labelled,
      np('x', 'exists', {
        ingress: [
          {
            peers: [
              {
                namespaceSelector: {},
                podSelector: { matchExpressions: [{ key: 'special', operator: 'Exists' }] },
              },
            ],
          },
        ],
      }),
    );
    expect(blocked(exists, 80)).toEqual(all((f, t) => t.startsWith('x/') && f !== 'z/c'));
    const dne = model(
      labelled,
      np('x', 'dne', {
        ingress: [
          {
            peers: [
              {
                namespaceSelector: {},
                podSelector: { matchExpressions: [{ key: 'special', operator: 'DoesNotExist' }] },
              },
            ],
          },
        ],
      }),
    );
    expect(blocked(dne, 80)).toEqual(all((f, t) => t.startsWith('x/') && f === 'z/c'));
    const inOp = model(
      frame(),
      np('x', 'in', {
        ingress: [
          {
            peers: [
              {
                namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y', 'z'] }] },
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a'] }] },
              },
            ],
          },
        ],
      }),
    );
    expect(blocked(inOp, 80)).toEqual(all((f, t) => t.startsWith('x/') && !['y/a', 'z/a'].includes(f)));
  });

  it('ports: a numeric port, a named port and an endPort range', () => {
    const only81 = model(frame(), np('x', 'p81', { ingress: [{ ports: [{ port: 81 }] }] }));
    expect(blocked(only81, 80)).toEqual(all((_f, t) => t.startsWith('x/')));
    expect(blocked(only81, 81)).toEqual([]);
    const named = model(
      frame(),
      np('x', 'named', { ingress: [{ ports: [{ protocol: 'TCP', port: 'serve-80-tcp' }] }] }),
    );
    expect(blocked(named, 80)).toEqual([]);
    expect(blocked(named, 81)).toEqual(all((_f, t) => t.startsWith('x/')));
    const range = model(frame(), np('x', 'range', { ingress: [{ ports: [{ port: 80, endPort: 81 }] }] }));
    expect(blocked(range, 80)).toEqual([]);
    expect(blocked(range, 81)).toEqual([]);
    const udp = model(frame(), np('x', 'udp', { ingress: [{ ports: [{ protocol: 'UDP', port: 80 }] }] }));
    expect(blocked(udp, 80)).toEqual(all((_f, t) => t.startsWith('x/')));
  });

  it('egress: deny all egress from x; other namespaces still reach x', () => {
    const m = model(frame(), np('x', 'deny-egress', { policyTypes: ['Egress'] }));
    expect(blocked(m, 80)).toEqual(all((f) => f.startsWith('x/')));
    expect(cell(m, 'x/a', 'y/a', 80).reason).toContain('drop: egress of x/a is isolated by x/deny-egress');
  });

  it('egress to y on 80 only', () => {
    const m = model(
      frame(),
      np('x', 'to-y-80', {
        policyTypes: ['Egress'],
        egress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] }],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => f.startsWith('x/') && !t.startsWith('y/')));
    expect(blocked(m, 81)).toEqual(all((f) => f.startsWith('x/')));
  });

  it('policyTypes defaults to Ingress plus Egress when egress rules exist: such a policy also isolates ingress', () => {
    const m = model(frame(), np('x', 'egress-only-rules', { egress: [{}] }));
    expect(blocked(m, 80)).toEqual(all((_f, t) => t.startsWith('x/')));
  });

  it('an empty rule allows everything; an empty peer list means all peers', () => {
    expect(
      blocked(model(frame(), np('x', 'allow-all', { policyTypes: ['Ingress'], ingress: [{}] })), 80),
    ).toEqual([]);
    expect(
      blocked(
        model(frame(), np('x', 'allow-all-80', { ingress: [{ peers: [], ports: [{ port: 80 }] }] })),
        80,
      ),
    ).toEqual([]);
  });

  it('policies are additive', () => {
    const m = model(
      frame(),
      np('x', 'from-y', { ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
      np('x', 'from-z-a', {
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { ns: 'z' } }, podSelector: { matchLabels: { pod: 'a' } } },
            ],
          },
        ],
      }),
    );
    expect(blocked(m, 80)).toEqual(all((f, t) => t.startsWith('x/') && !f.startsWith('y/') && f !== 'z/a'));
  });

  it('ipBlock with except, matched against pod IPs', () => {
    const m = model(
      frame(),
      np('x', 'cidr', {
        ingress: [{ peers: [{ ipBlock: { cidr: '10.244.1.0/24', except: ['10.244.1.11/32'] } }] }],
      }),
    );
    // y is 10.244.1.0/24; y/b is 10.244.1.11
    expect(blocked(m, 80)).toEqual(all((f, t) => t.startsWith('x/') && (!f.startsWith('y/') || f === 'y/b')));
  });

  it('a policy only selects pods of its own namespace', () => {
    const m = model(
      frame(),
      np('y', 'deny', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'] }),
    );
    expect(blocked(m, 80)).toEqual(all((_f, t) => t === 'y/a'));
  });

  it('ingress and egress must both allow', () => {
    const m = model(
      frame(),
      np('x', 'egress-to-y', {
        policyTypes: ['Egress'],
        egress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
      np('y', 'ingress-from-z', {
        policyTypes: ['Ingress'],
        ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      }),
    );
    expect(cell(m, 'x/a', 'y/a', 80).allowed).toBe(false);
    expect(cell(m, 'z/a', 'y/a', 80).allowed).toBe(true);
    expect(cell(m, 'x/a', 'z/a', 80).allowed).toBe(false);
    expect(cell(m, 'z/a', 'x/a', 80).reason).toBe(
      'allow on TCP 80 (plaintext: z/a not enrolled): ingress of x/a not isolated; egress of z/a not isolated',
    );
  });
});

describe('ambient: meshed pairs are judged at 15008, source IPs preserved', () => {
  const meshed = () => frame({ meshed: ['x', 'y'] });

  it('allowing the app port alone breaks meshed traffic (the port 15008 trap)', () => {
    const m = model(
      meshed(),
      np('y', 'app-port-only', {
        policyTypes: ['Ingress'],
        ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }], ports: [{ port: 80 }] }],
      }),
    );
    const c = cell(m, 'x/a', 'y/a', 80);
    expect(c).toMatchObject({ allowed: false, outcome: 'drop', judgedPort: 15008, hbone: true });
    expect(c.reason).toBe(
      'drop: ingress of y/a is isolated by y/app-port-only and no rule allows x/a on TCP 15008 (HBONE: both ends enrolled, app port 80 not judged)',
    );
    // z is not meshed: plaintext, judged at the app port, and z is not in the allowed peers
    expect(cell(m, 'z/a', 'y/a', 80).judgedPort).toBe(80);
  });

  it('15008 alone is enough between meshed pods, on every app port; a plaintext client needs the app port', () => {
    const m = model(
      frame({ meshed: ['x', 'y'] }),
      np('y', 'hbone-only', {
        policyTypes: ['Ingress'],
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { ns: 'x' } } },
              { namespaceSelector: { matchLabels: { ns: 'z' } } },
            ],
            ports: [{ port: 15008 }],
          },
        ],
      }),
    );
    expect(cell(m, 'x/a', 'y/b', 80).allowed).toBe(true);
    expect(cell(m, 'x/a', 'y/b', 81).allowed).toBe(true);
    expect(cell(m, 'z/a', 'y/b', 80)).toMatchObject({ allowed: false, judgedPort: 80, hbone: false });
  });

  it('15008 from istio-system only does not admit meshed clients: the source pod IP is preserved', () => {
    const state = meshed();
    state.namespaces.push({ name: 'istio-system', labels: {} });
    const m = model(
      state,
      np('y', 'from-istio-system', {
        policyTypes: ['Ingress'],
        ingress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } } },
            ],
            ports: [{ port: 15008 }, { port: 80 }],
          },
        ],
      }),
    );
    expect(cell(m, 'x/a', 'y/a', 80).allowed).toBe(false);
  });

  it('egress must allow 15008 to the destination: the app port alone blocks', () => {
    const m = model(
      meshed(),
      np('x', 'egress-app-port', {
        policyTypes: ['Egress'],
        egress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] }],
      }),
    );
    expect(cell(m, 'x/a', 'y/a', 80).reason).toBe(
      'drop: egress of x/a is isolated by x/egress-app-port and no rule allows y/a on TCP 15008 (HBONE: both ends enrolled, app port 80 not judged)',
    );
    // a meshed client to a non-meshed server is plaintext at the app port: allowed
    const z = frame({ meshed: ['x'] });
    const m2 = model(
      z,
      np('x', 'egress-app-port', {
        policyTypes: ['Egress'],
        egress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] }],
      }),
    );
    expect(cell(m2, 'x/a', 'y/a', 80)).toMatchObject({ allowed: true, judgedPort: 80, hbone: false });
  });

  it('enrollment follows istio-cni: namespace label, pod opt-out with none, pod opt-in with ambient, kube-system excluded', () => {
    const state = frame({
      meshed: ['x'],
      podLabels: {
        'x/c': { 'istio.io/dataplane-mode': 'none' },
        'z/a': { 'istio.io/dataplane-mode': 'ambient' },
      },
    });
    state.pods.push({
      namespace: 'kube-system',
      name: 'coredns',
      labels: { 'istio.io/dataplane-mode': 'ambient' },
      ports: [],
    });
    const m = new ReachabilityModel(state);
    const enrolled = m.pods.filter((_p, i) => m.enrolled[i]).map((p) => `${p.namespace}/${p.name}`);
    expect(enrolled).toEqual(['x/a', 'x/b', 'z/a']);
    expect(m.enrollmentWhy[m.podIndex('x/c') ?? -1]).toBe('pod label istio.io/dataplane-mode=none');
  });

  it('the runbook’s documented policies connect the meshed namespaces as intended', () => {
    // ingress from istio-system and from each source namespace on 15008 + app port; egress to istio-system
    // on 15008/15012/15017 and to each destination namespace on 15008
    const state = frame({ meshed: ['x', 'y'] });
    const ingress = (ns: string, sources: string[]) =>
      np(ns, 'documented-ingress', {
        policyTypes: ['Ingress'],
        ingress: ['istio-system', ...sources].map((s) => ({
          peers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': s } } }],
          ports: [{ port: 15008 }, { port: 80 }],
        })),
      });
    const egress = (ns: string, dests: string[]) =>
      np(ns, 'documented-egress', {
        policyTypes: ['Egress'],
        egress: [
          {
            peers: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } } },
            ],
            ports: [{ port: 15008 }, { port: 15012 }, { port: 15017 }],
          },
          ...dests.map((d) => ({
            peers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': d } } }],
            ports: [{ port: 15008 }],
          })),
        ],
      });
    const m = model(
      state,
      ingress('x', ['x']),
      ingress('y', ['x', 'y']),
      egress('x', ['x', 'y']),
      egress('y', ['y']),
    );
    expect(cell(m, 'x/a', 'y/a', 81).allowed).toBe(true); // 15008 carries every app port
    expect(cell(m, 'y/a', 'x/a', 80).allowed).toBe(false); // y may not egress to x
    expect(cell(m, 'x/a', 'x/b', 80).allowed).toBe(true);
    expect(cell(m, 'z/a', 'y/a', 80).allowed).toBe(false); // z is not a documented source
  });
});
