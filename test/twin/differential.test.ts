import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { objectsToState } from '../../harness/reachability/manifests.ts';
import { ReachabilityModel } from '../../harness/reachability/model.ts';
import { rng } from '../../harness/reachability/synthetic.ts';
import {
  AMBIENT_REDIRECTION,
  decide,
  shouldEnroll,
  type Namespace,
  type Pod,
  type TwinObjects,
} from './dataplane.ts';

/**
 * The reachability model (harness/reachability) and the twin's dataplane (test/twin/dataplane.ts)
 * were written separately from the same upstream sources. Here they answer the same questions,
 * cell by cell: every pod-to-pod connection of every example and of seeded random clusters. A
 * disagreement means one of them misreads upstream; the test names the cell and both answers.
 * Sidecar pods, host-network pods and the kubelet are the model's alone for now (the dataplane
 * leaves them out), so they are not compared.
 */

type Obj = Record<string, unknown>;
const ROOT = path.join(import.meta.dirname, '../..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? filesUnder(p) : /\.ya?ml$/.test(f) ? [p] : [];
    });
}

function objectsOf(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), { merge: true })
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null)
    .flatMap((o) => (o.kind === 'List' ? ((o.items as Obj[] | undefined) ?? []) : [o]));
}

const CLASS = { allow: 'connected', drop: 'timeout', deny: 'reset' } as const;

/** Every disagreement between the model and the dataplane on these objects, as readable lines. */
function disagreements(objects: Obj[]): {
  compared: number;
  lines: string[];
  outcomes: Record<string, number>;
} {
  const { state } = objectsToState(objects.map((object) => ({ source: 'differential', object })));
  const model = new ReachabilityModel({ ...state, istioNamespace: 'istio-system' });
  const of = (kind: string) => objects.filter((o) => o.kind === kind);
  const namespaces = of('Namespace') as unknown as Namespace[];
  const nsByName = new Map(namespaces.map((n) => [n.metadata.name, n]));
  // The twin's istio-cni controller: it annotates the pods it enrols.
  const pods = (of('Pod') as unknown as Pod[]).map((p) => {
    const ns = p.metadata.namespace ?? 'default';
    if (!shouldEnroll(nsByName.get(ns) ?? { metadata: { name: ns } }, p)) return p;
    return {
      ...p,
      metadata: {
        ...p.metadata,
        annotations: { ...(p.metadata.annotations ?? {}), [AMBIENT_REDIRECTION]: 'enabled' },
      },
    };
  });
  const twin: TwinObjects = {
    namespaces,
    pods,
    networkPolicies: of('NetworkPolicy') as unknown as TwinObjects['networkPolicies'],
    peerAuthentications: of('PeerAuthentication') as unknown as TwinObjects['peerAuthentications'],
    authorizationPolicies: of('AuthorizationPolicy') as unknown as TwinObjects['authorizationPolicies'],
    rootNamespace: 'istio-system',
  };
  const comparable = (i: number) => model.role[i] !== 'sidecar';
  const lines: string[] = [];
  const outcomes: Record<string, number> = {};
  let compared = 0;
  for (let s = 0; s < model.pods.length; s++)
    for (let d = 0; d < model.pods.length; d++) {
      if (s === d || !comparable(s) || !comparable(d)) continue;
      const src = model.pods[s];
      const dst = model.pods[d];
      if (!src || !dst?.ip) continue;
      for (const port of model.portsOf(d)) {
        compared++;
        const cell = model.cell(s, d, port);
        const got = decide(twin, { from: { namespace: src.namespace, name: src.name }, toIp: dst.ip, port });
        outcomes[got.outcome] = (outcomes[got.outcome] ?? 0) + 1;
        if (CLASS[cell.outcome] !== got.outcome)
          lines.push(
            `${cell.from} -> ${cell.to}:${port}: model ${cell.outcome} (${cell.reason}) | dataplane ${got.outcome} (${got.why})`,
          );
      }
    }
  return { compared, lines, outcomes };
}

describe('model and twin dataplane agree', () => {
  it('on every example (cells between pods without a sidecar)', () => {
    const lines: string[] = [];
    let compared = 0;
    for (const file of filesUnder(path.join(ROOT, 'examples'))) {
      const r = disagreements(objectsOf(file));
      compared += r.compared;
      lines.push(...r.lines.map((l) => `${path.relative(ROOT, file)}: ${l}`));
    }
    expect(compared).toBeGreaterThan(20);
    expect(lines).toEqual([]);
  });

  it('on seeded random clusters (NetworkPolicy, PeerAuthentication with portLevelMtls, AuthorizationPolicy)', () => {
    const all: string[] = [];
    const outcomes: Record<string, number> = {};
    let compared = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = disagreements(randomCluster(seed));
      compared += r.compared;
      for (const [k, n] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
      all.push(...r.lines.map((l) => `seed ${seed}: ${l}`));
    }
    expect(compared).toBeGreaterThan(1000);
    // The clusters exercise every outcome, not only connections.
    for (const o of ['connected', 'timeout', 'reset']) expect(outcomes[o] ?? 0, o).toBeGreaterThan(50);
    expect(all.slice(0, 20)).toEqual([]);
  });
});

/**
 * A small cluster: three namespaces (enrolled or not), two pods each with service accounts and
 * ports 80 and 8080, and a few policies drawn from what users write: default-deny, allowances by
 * namespace, port, 15008 and ipBlock, egress rules, STRICT and port-level exceptions, ALLOW by
 * principal, namespace or port, DENY by namespace, and an ALLOW with an L7 field.
 */
function randomCluster(seed: number): Obj[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const names = ['ns-a', 'ns-b', 'ns-c'];
  const objects: Obj[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } }];
  let ip = 10;
  for (const ns of names) {
    const ambient = r() < 0.7;
    objects.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: ambient ? { 'istio.io/dataplane-mode': 'ambient' } : {} },
    });
    for (const app of ['a', 'b']) {
      const optOut = ambient && r() < 0.1;
      objects.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${app}-0`,
          namespace: ns,
          labels: { app, ...(optOut ? { 'istio.io/dataplane-mode': 'none' } : {}) },
        },
        spec: {
          serviceAccountName: `sa-${app}`,
          nodeName: pick(['worker', 'worker2']),
          containers: [
            { name: 'c', ports: [{ containerPort: 80 }, { containerPort: 8080, name: 'http-alt' }] },
          ],
        },
        status: { podIP: `10.244.1.${ip++}` },
      });
    }
  }
  const np = (ns: string, name: string, spec: Obj): Obj => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec,
  });
  const nsSel = (ns: string) => ({
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
  });
  const netpols: ((ns: string, i: number) => Obj)[] = [
    (ns, i) => np(ns, `deny-${i}`, { podSelector: {}, policyTypes: ['Ingress'] }),
    (ns, i) =>
      np(ns, `from-${i}`, {
        podSelector: { matchLabels: { app: pick(['a', 'b']) } },
        ingress: [{ from: [nsSel(pick(names))], ports: [{ port: pick([80, 8080, 15008]) }] }],
      }),
    (ns, i) => np(ns, `hbone-${i}`, { podSelector: {}, ingress: [{ ports: [{ port: 15008 }] }] }),
    (ns, i) =>
      np(ns, `named-${i}`, {
        podSelector: {},
        ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 'http-alt' }] }],
      }),
    (ns, i) =>
      np(ns, `ipblock-${i}`, {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '10.244.1.0/28', except: ['10.244.1.12/32'] } }] }],
      }),
    (ns, i) =>
      np(ns, `egress-${i}`, {
        podSelector: { matchLabels: { app: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [nsSel(pick(names))], ports: [{ port: pick([80, 15008]) }] }],
      }),
  ];
  for (const ns of names) {
    const n = Math.floor(r() * 3);
    for (let i = 0; i < n; i++) objects.push(pick(netpols)(ns, i));
  }
  const sec = (kind: string, ns: string, name: string, spec: Obj): Obj => ({
    apiVersion: 'security.istio.io/v1',
    kind,
    metadata: { name, namespace: ns },
    spec,
  });
  if (r() < 0.4)
    objects.push(sec('PeerAuthentication', 'istio-system', 'default', { mtls: { mode: 'STRICT' } }));
  if (r() < 0.3)
    objects.push(
      sec('PeerAuthentication', pick(names), 'ns-mode', {
        mtls: { mode: pick(['STRICT', 'PERMISSIVE', 'UNSET']) },
      }),
    );
  if (r() < 0.3)
    objects.push(
      sec('PeerAuthentication', pick(names), 'port-level', {
        selector: { matchLabels: { app: pick(['a', 'b']) } },
        ...(r() < 0.5 ? { mtls: { mode: pick(['STRICT', 'PERMISSIVE']) } } : {}),
        portLevelMtls: { [String(pick([80, 8080]))]: { mode: pick(['STRICT', 'PERMISSIVE', 'DISABLE']) } },
      }),
    );
  const aps: ((i: number) => Obj)[] = [
    (i) =>
      sec('AuthorizationPolicy', pick(names), `allow-sa-${i}`, {
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: [`cluster.local/ns/${pick(names)}/sa/sa-${pick(['a', 'b'])}`] } }],
          },
        ],
      }),
    (i) =>
      sec('AuthorizationPolicy', pick(names), `allow-ns-${i}`, {
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { namespaces: [pick(names)] } }],
            to: [{ operation: { ports: [String(pick([80, 8080]))] } }],
          },
        ],
      }),
    (i) =>
      sec('AuthorizationPolicy', pick(names), `deny-ns-${i}`, {
        action: 'DENY',
        rules: [{ from: [{ source: { namespaces: [pick(names)] } }] }],
      }),
    (i) =>
      sec('AuthorizationPolicy', pick(names), `allow-get-${i}`, {
        action: 'ALLOW',
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      }),
    (i) =>
      sec('AuthorizationPolicy', pick(names), `allow-sa-list-${i}`, {
        selector: { matchLabels: { app: pick(['a', 'b']) } },
        action: 'ALLOW',
        rules: [
          { from: [{ source: { serviceAccounts: [`sa-${pick(['a', 'b'])}`, `${pick(names)}/sa-a`] } }] },
        ],
      }),
    (i) =>
      sec('AuthorizationPolicy', pick(names), `deny-when-${i}`, {
        action: 'DENY',
        rules: [
          {
            when: [
              pick([
                { key: 'source.ip', values: ['10.244.1.10', '10.244.1.14/31'] },
                { key: 'destination.port', values: [pick(['80', '8080'])] },
                { key: 'source.namespace', notValues: [pick(names)] },
              ]),
            ],
          },
        ],
      }),
  ];
  const nAp = Math.floor(r() * 3);
  for (let i = 0; i < nAp; i++) objects.push(pick(aps)(i));
  return objects;
}
