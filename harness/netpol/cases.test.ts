import { describe, expect, it } from 'vitest';
import { loadProfile } from '../profile/load.ts';
import type { ReachabilityModel } from '../reachability/model.ts';
import { layoutModel } from './layout.ts';
import {
  appPortsOnlyIngress,
  egressAppPortsOnly,
  hboneOnlyVersusAppPort,
  istioSystemOnlyIngress,
} from './cases.ts';
import { denyAll, documentedPolicies } from './policies.ts';

/**
 * The NETPOL cases offline: each case's policies (exactly the JSON the suite applies) go through
 * the manifest reader into the model, with pods laid out as the suite lays them out, and the
 * model must predict the claim.
 */
const state = layoutModel;

const XYZ = [
  { name: 'x', meshed: true },
  { name: 'y', meshed: true },
  { name: 'z', meshed: false },
];
const pods = ['x', 'y', 'z'].flatMap((ns) => [
  { ns, name: 'a' },
  { ns, name: 'a', client: true },
]);
const ns = { x: 'x', y: 'y', z: 'z' };

function outcome(m: ReachabilityModel, from: string, to: string, port: number) {
  const c = m.cell(m.podIndex(from) ?? -1, m.podIndex(to) ?? -1, port);
  return c.outcome;
}

describe('NETPOL cases in the model', () => {
  it('NETPOL-01: the documented policies for the homelab intent give exactly the intended matrix', () => {
    const profile = loadProfile(undefined, { env: {} });
    const meshed = profile.doc.mesh.meshedNamespaces;
    const control = 'control';
    const calls = new Map(
      meshed.map((m) => [m, profile.doc.mesh.intent.find((e) => e.from === m)?.to ?? []]),
    );
    const m = state(
      [...meshed.map((name) => ({ name, meshed: true })), { name: control, meshed: false }],
      [...meshed, control].flatMap((n) => [
        { ns: n, name: 'a' },
        { ns: n, name: 'a', client: true },
      ]),
      documentedPolicies({ calls, istioNamespace: 'istio-system', appPorts: [80, 81], runId: 'r' }),
    );
    for (const from of [...meshed, control])
      for (const to of [...meshed, control])
        for (const port of [80, 81]) {
          // each namespace reaches itself (the control namespace has no policy); meshed ones also their callees
          const intended =
            from === to || (from !== control && to !== control && (calls.get(from) ?? []).includes(to));
          expect(outcome(m, `${from}/client-a`, `${to}/a`, port), `${from}->${to}:${port}`).toBe(
            intended ? 'allow' : 'drop',
          );
        }
  });

  it('NETPOL-02: app ports without 15008 block meshed x→y; the cell is judged at 15008', () => {
    const m = state(XYZ, pods, appPortsOnlyIngress(ns, 'r'));
    expect(outcome(m, 'x/client-a', 'y/a', 80)).toBe('drop');
    expect(m.cell(m.podIndex('x/client-a') ?? -1, m.podIndex('y/a') ?? -1, 80).judgedPort).toBe(15008);
    expect(outcome(m, 'z/client-a', 'y/a', 80)).toBe('drop');
  });

  it('NETPOL-03: 15008 from istio-system only blocks meshed clients', () => {
    const m = state(
      [...XYZ, { name: 'istio-system', meshed: false }],
      pods,
      istioSystemOnlyIngress(ns, 'r', 'istio-system'),
    );
    expect(outcome(m, 'x/client-a', 'y/a', 80)).toBe('drop');
  });

  it('NETPOL-04: egress without 15008 blocks meshed x→y but not plaintext x→z', () => {
    const m = state(XYZ, pods, egressAppPortsOnly(ns, 'r', 'istio-system'));
    expect(outcome(m, 'x/client-a', 'y/a', 80)).toBe('drop');
    expect(outcome(m, 'x/client-a', 'z/a', 80)).toBe('allow');
  });

  it('NETPOL-05: 15008 alone is enough between meshed pods; a plaintext client needs the app port', () => {
    const m = state(
      XYZ,
      [
        { ns: 'y', name: 'a' },
        { ns: 'y', name: 'b' },
        { ns: 'x', name: 'a', client: true },
        { ns: 'z', name: 'a', client: true },
      ],
      hboneOnlyVersusAppPort(ns, 'r'),
    );
    expect([outcome(m, 'x/client-a', 'y/a', 80), outcome(m, 'x/client-a', 'y/a', 81)]).toEqual([
      'allow',
      'allow',
    ]);
    expect([
      outcome(m, 'z/client-a', 'y/a', 80),
      outcome(m, 'z/client-a', 'y/b', 80),
      outcome(m, 'z/client-a', 'y/b', 81),
    ]).toEqual(['drop', 'allow', 'drop']);
  });

  it('NETPOL-06: with no policy every cell connects', () => {
    const m = state(XYZ, pods, []);
    expect(m.matrix().every((c) => c.allowed)).toBe(true);
  });

  it('NETPOL-08: deny-all ingress isolates the server namespace', () => {
    const m = state(
      [
        { name: 's', meshed: false },
        { name: 'c', meshed: false },
      ],
      [
        { ns: 's', name: 'a' },
        { ns: 'c', name: 'a', client: true },
      ],
      [denyAll('s', 'r', ['Ingress'])],
    );
    expect(outcome(m, 'c/client-a', 's/a', 80)).toBe('drop');
  });
});
