import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../errors.ts';
import { readManifests } from './manifests.ts';
import { ReachabilityModel } from './model.ts';
import { renderExpected } from './render.ts';
import { syntheticCluster } from './synthetic.ts';

const EXAMPLES = path.join(import.meta.dirname, '../../examples/netpol');

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'm-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(dir, n), c);
  return dir;
}

function fail(inputs: string[]): UserInputError {
  try {
    readManifests(inputs);
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('reading manifests', () => {
  it('reads a List, multi-document YAML and folders', () => {
    const { state } = readManifests([EXAMPLES]);
    expect(state.pods.map((p) => `${p.namespace}/${p.name}`).sort()).toContain('loki/loki-0');
    expect(state.networkPolicies.map((p) => `${p.namespace}/${p.name}`)).toContain('loki/loki-egress');
    const loki = state.pods.find((p) => p.name === 'loki-0');
    expect(loki).toMatchObject({
      ip: '10.244.2.20',
      serviceAccount: 'loki',
      ports: [{ name: 'http-metrics', containerPort: 3100 }],
    });
  });

  it('reads JSON and Istio policies; counts what it ignores', () => {
    const dir = tmp({
      'a.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'p', namespace: 'n' },
            spec: { containers: [{ name: 'c' }] },
            status: { podIP: '10.0.0.1' },
          },
          { kind: 'Deployment', metadata: { name: 'd' } },
        ],
      }),
      'b.yaml':
        'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: n}\nspec:\n  action: ALLOW\n  rules:\n  - from: [{source: {principals: ["cluster.local/ns/n/sa/x"], requestPrincipals: ["*"]}}]\n    to: [{operation: {ports: ["80"], methods: ["GET"]}}]\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: n}\nspec: {mtls: {mode: STRICT}}\n',
    });
    const { state, ignored } = readManifests([dir]);
    expect(ignored).toEqual({ Deployment: 1 });
    expect(state.peerAuthentications).toEqual([{ namespace: 'n', name: 'default', mode: 'STRICT' }]);
    expect(state.authorizationPolicies?.[0]).toEqual({
      namespace: 'n',
      name: 'ap',
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/n/sa/x'], l7: ['requestPrincipals'] } }],
          to: [{ operation: { ports: ['80'], l7: ['methods'] } }],
        },
      ],
    });
  });

  it('names the file, the object and the field of a bad manifest', () => {
    const dir = tmp({
      'np.yaml':
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: loki}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 99999}]\n',
    });
    const e = fail([path.join(dir, 'np.yaml')]);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      `${path.join(dir, 'np.yaml')}: NetworkPolicy loki/bad: invalid spec.ingress[0].ports[0].port`,
    );
    expect(e.details.seen).toBe('99999');
  });

  it('rejects ipBlock mixed with selectors in one peer, broken YAML and missing paths; reads a missing podSelector as {}', () => {
    const mixed = tmp({
      'x.yaml':
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: m}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]\n',
    });
    expect(fail([mixed]).details.expected).toContain('ipBlock cannot be combined');
    // networking/v1 types.go (kubernetes/api v0.34.10): podSelector is optional and defaults to {}.
    const noSel = tmp({
      'x.yaml': 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: m}\nspec: {}\n',
    });
    expect(readManifests([noSel]).state.networkPolicies[0]).toMatchObject({
      namespace: 'default',
      name: 'm',
      podSelector: {},
    });
    const broken = tmp({ 'x.yaml': 'kind: Pod\nmetadata: [\n' });
    expect(fail([broken]).message).toContain('not valid YAML or JSON');
    expect(fail(['/nope']).message).toBe('no such file or directory: /nope');
  });
});

describe('rendering', () => {
  it('prints one truth table per port with the model’s symbols', () => {
    const { state } = readManifests([path.join(EXAMPLES, 'port-15008-trap.yaml')]);
    const out = renderExpected(new ReachabilityModel(state).matrix());
    expect(out).toContain('expected TCP 3100');
    expect(out).toMatch(/monitoring\/prometheus-0\s+T/);
    expect(out).toContain('columns: 1=logging/loki-0');
  });
});

describe('speed', () => {
  it('evaluates a 1,000-pod, 300-policy, 2-port cluster within the 2 s budget (with headroom for a loaded CI machine)', () => {
    const state = syntheticCluster({ pods: 1000, policies: 300 });
    const t0 = performance.now();
    const r = new ReachabilityModel(state).countAllowed();
    const ms = performance.now() - t0;
    expect(r.cells).toBe(1000 * 999 * 2);
    expect(r.allowed).toBeGreaterThan(0);
    expect(r.allowed).toBeLessThan(r.cells);
    expect(ms).toBeLessThan(4000);
  });
});
