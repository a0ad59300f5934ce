import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClients, type KubeClients } from '../../harness/kube/client.ts';
import { connectionsBetween, parseAccessLog } from '../../harness/ztunnel/accesslog.ts';
import {
  findWorkload,
  judgeCertificate,
  parseConfigDump,
  pemText,
  spiffeOf,
  type ConfigDump,
} from '../../harness/ztunnel/configdump.ts';
import { accessLogOf, pickZtunnels } from '../../harness/ztunnel/live.ts';
import { deniedConnections, parseMetrics, select, sum, type Sample } from '../../harness/ztunnel/metrics.ts';
import { fixture } from '../helpers/fake-bin.ts';
import { istioSecurityCrds, startTwinApiServer, TwinStore, type KubeObject } from './apiserver.ts';
import { startControllers } from './controllers.ts';
import { AMBIENT_REDIRECTION, decide, type Decision, type Pod, type TwinObjects } from './dataplane.ts';
import { Traffic, type ConnectionRecord, type Endpoint } from './traffic.ts';
import { attachZtunnel, ztunnelOutcome, type ZtunnelTwin } from './ztunnel.ts';

/**
 * The twin's ztunnel, held two ways: its output against the parsers' fixtures (test/fixtures/ztunnel,
 * whose shapes were checked against istio/ztunnel@1.28.3), byte for byte where the fixture's values
 * can be reproduced; and through the harness's own parsers and judgements, as the MTLS, AUTHZ,
 * NETPOL and REMOVAL suites read a cluster.
 */

type J = any;
const W1 = 'ambient-conformance-r1-worker';
const W2 = 'ambient-conformance-r1-worker2';
const ISTIO = 'istio-system';

// ---- a small cluster, written straight into a store (no controllers: every value is chosen) ----

const T0 = '2026-11-28T06:00:00.000Z';

/** The twin clock, shared by a World and its store. */
interface Time {
  now: Date;
}

class World {
  readonly store: TwinStore;
  readonly traffic = new Traffic();
  readonly zt: ZtunnelTwin;
  readonly clock: () => Date;

  private readonly time: Time;

  constructor(store?: TwinStore, time: Time = { now: new Date(T0) }) {
    this.time = time;
    this.clock = () => new Date(this.time.now.getTime());
    this.store = store ?? new TwinStore({ clock: this.clock, gcDelayMs: 1 });
    this.zt = attachZtunnel({ store: this.store, traffic: this.traffic, clock: this.clock });
  }

  get now(): Date {
    return this.clock();
  }

  set now(d: Date) {
    this.time.now = d;
  }

  at(iso: string): this {
    this.now = new Date(iso);
    return this;
  }

  namespace(name: string, labels: Record<string, string> = {}, serviceAccounts: string[] = []): void {
    if (!this.store.get('namespaces', { name }))
      this.store.create('namespaces', { metadata: { name, labels } });
    for (const sa of serviceAccounts)
      if (!this.store.get('serviceaccounts', { namespace: name, name: sa }))
        this.store.create('serviceaccounts', { metadata: { name: sa, namespace: name } });
  }

  pod(p: {
    ns: string;
    name: string;
    node: string;
    ip?: string;
    sa?: string;
    enrolled?: boolean;
    hostNetwork?: boolean;
    labels?: Record<string, string>;
    meta?: Record<string, unknown>;
    ports?: number[];
    container?: string;
    env?: { name: string; value: string }[];
  }): KubeObject {
    this.namespace(p.ns, {}, [p.sa ?? 'default']);
    return this.store.create('pods', {
      metadata: {
        name: p.name,
        namespace: p.ns,
        ...(p.labels ? { labels: p.labels } : {}),
        ...(p.enrolled ? { annotations: { [AMBIENT_REDIRECTION]: 'enabled' } } : {}),
        ...p.meta,
      },
      spec: {
        nodeName: p.node,
        serviceAccountName: p.sa ?? 'default',
        ...(p.hostNetwork ? { hostNetwork: true } : {}),
        containers: [
          {
            name: p.container ?? 'app',
            image: 'busybox',
            ...(p.ports ? { ports: p.ports.map((containerPort) => ({ containerPort })) } : {}),
            ...(p.env ? { env: p.env } : {}),
          },
        ],
      },
      status: {
        phase: 'Running',
        ...(p.ip ? { podIP: p.ip, podIPs: [{ ip: p.ip }] } : {}),
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }

  /** A ztunnel pod as the chart names it. Without an IP unless given (so that it is no workload). */
  ztunnel(node: string, opts: { ip?: string; json?: boolean } = {}): KubeObject {
    return this.pod({
      ns: ISTIO,
      name: `ztunnel-${node.slice(-7)}`,
      node,
      sa: 'ztunnel',
      labels: { app: 'ztunnel' },
      container: 'istio-proxy',
      ...(opts.ip ? { ip: opts.ip } : {}),
      ...(opts.json ? { env: [{ name: 'LOG_FORMAT', value: 'json' }] } : {}),
    });
  }

  http(zt: KubeObject, port: number, urlPath: string, headers: Record<string, string> = {}) {
    const target = this.zt.portForward(zt, port);
    if (!target) throw new Error(`nothing listens on ${zt.metadata.name}:${port}`);
    return target.http({ method: 'GET', path: urlPath, headers });
  }

  dump(zt: KubeObject): ConfigDump {
    return parseConfigDump(this.http(zt, 15000, '/config_dump').body);
  }

  metrics(zt: KubeObject): Sample[] {
    return parseMetrics(this.http(zt, 15020, '/metrics').body);
  }

  log(zt: KubeObject): string {
    return this.store.podLog({ namespace: ISTIO, name: zt.metadata.name ?? '' }, 'istio-proxy') ?? '';
  }

  /** A connection record as the twin's curl writes it (traffic.ts). */
  record(r: {
    src: Endpoint;
    dst: Endpoint;
    decision: Decision;
    start: string;
    end?: string;
    sent?: number;
    received?: number;
  }): ConnectionRecord {
    return this.traffic.add({
      src: r.src,
      dst: r.dst,
      decision: r.decision,
      start: new Date(r.start),
      end: new Date(r.end ?? r.start),
      bytesSent: r.sent ?? 0,
      bytesReceived: r.received ?? 0,
    });
  }

  objects(): TwinObjects {
    const list = (group: string, resource: string) =>
      this.store.registry.lookup({ group, resource }) ? this.store.list<J>({ group, resource }) : [];
    return {
      namespaces: list('', 'namespaces'),
      pods: list('', 'pods'),
      networkPolicies: list('networking.k8s.io', 'networkpolicies'),
      peerAuthentications: list('security.istio.io', 'peerauthentications'),
      authorizationPolicies: list('security.istio.io', 'authorizationpolicies'),
      rootNamespace: ISTIO,
    };
  }

  /** What the twin's in-pod curl does: decide() the connection, then record it with both endpoints. */
  curl(from: { ns: string; name: string }, toIp: string, port: number): ConnectionRecord {
    const objects = this.objects();
    const decision = decide(objects, { from: { namespace: from.ns, name: from.name }, toIp, port });
    const src = objects.pods.find((p) => p.metadata.namespace === from.ns && p.metadata.name === from.name)!;
    const dst = objects.pods.find((p) => !p.spec?.hostNetwork && p.status?.podIP === toIp);
    const start = this.now;
    const connected = decision.outcome === 'connected';
    return this.traffic.add({
      src: endpoint(src, 0),
      dst: dst ? endpoint(dst, port) : { ip: toIp, port },
      decision,
      start,
      end: new Date(start.getTime() + decision.seconds * 1000),
      bytesSent: connected ? 84 : 0,
      bytesReceived: connected ? 358 : 0,
    });
  }
}

function endpoint(p: Pod | KubeObject, port: number): Endpoint {
  const q = p as J;
  return {
    ip: q.status?.podIP ?? '',
    port,
    pod: {
      namespace: q.metadata.namespace,
      name: q.metadata.name,
      uid: q.metadata.uid ?? `uid-${q.metadata.name}`,
      node: q.spec?.nodeName ?? '',
      serviceAccount: q.spec?.serviceAccountName ?? 'default',
      enrolled: q.metadata.annotations?.[AMBIENT_REDIRECTION] === 'enabled',
    },
  };
}

/** An endpoint for a pod that need not exist in the store (the fixtures' made-up peers). */
const ep = (
  ip: string,
  port: number,
  ns: string,
  name: string,
  node: string,
  sa: string,
  enrolled: boolean,
): Endpoint => ({
  ip,
  port,
  pod: { namespace: ns, name, uid: `uid-${ns}-${name}`, node, serviceAccount: sa, enrolled },
});

const decision = (d: Partial<Decision> & Pick<Decision, 'outcome' | 'why'>): Decision => ({
  curlExit: { connected: 0, timeout: 56, reset: 56, refused: 7 }[d.outcome],
  seconds: 0,
  hbone: true,
  judgedPort: 15008,
  ...d,
});

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

// ---------------------------------------------------------------------------------------------------------

describe('formats held against the fixtures', () => {
  it('config_dump.json: byte for byte, but for the certificates and the pod UID', () => {
    const w = new World();
    w.namespace('kube-system', {}, ['kube-proxy']);
    w.namespace(ISTIO, {}, ['ztunnel']);
    const ds = w.store.create('daemonsets', {
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-proxy' } },
          spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.34.0' }] },
        },
      },
    });
    w.pod({
      ns: 'kube-system',
      name: 'kube-proxy-x2x2x',
      node: W1,
      ip: '172.18.0.3',
      sa: 'kube-proxy',
      hostNetwork: true,
      labels: {
        'k8s-app': 'kube-proxy',
        'controller-revision-hash': '6c7d8b5f9',
        'pod-template-generation': '1',
      },
      meta: {
        generateName: 'kube-proxy-',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'DaemonSet',
            name: 'kube-proxy',
            uid: ds.metadata.uid,
            controller: true,
          },
        ],
      },
    });
    const client = w.pod({
      ns: 'mtls-01-x-a1b2c',
      name: 'client-a-k3j4h',
      node: W1,
      ip: '10.244.1.7',
      sa: 'probe-x',
      enrolled: true,
    });
    w.pod({ ns: 'mtls-01-y-d4e5f', name: 'a', node: W2, ip: '10.244.2.9', sa: 'probe-y', enrolled: true });
    w.pod({ ns: 'mtls-01-z-g7h8i', name: 'a', node: W2, ip: '10.244.2.11', sa: 'probe-z' });
    for (const crd of istioSecurityCrds()) w.store.create('customresourcedefinitions', crd);
    w.store.create('peerauthentications.security.istio.io', {
      metadata: { name: 'default', namespace: 'mtls-01-y-d4e5f' },
      spec: { mtls: { mode: 'STRICT' } },
    });
    // The ztunnel of W1 has no IP here, so that it is not among the workloads (the fixture is an excerpt).
    const zt = w.ztunnel(W1);
    // A connection still open when the dump is taken.
    w.record({
      src: { ...endpoint(client, 0), port: 43210 },
      dst: ep('10.244.2.9', 80, 'mtls-01-y-d4e5f', 'a', W2, 'probe-y', true),
      decision: decision({ outcome: 'connected', why: 'HBONE' }),
      start: '2026-11-28T05:59:59.000Z',
      end: '2026-11-28T06:10:00.000Z',
    });

    const want = fixture('ztunnel/config_dump.json');
    const got = w.http(zt, 15000, '/config_dump').body;
    // Masks: the pod UID the store generated; the certificates (the fixture's are made up and do
    // not belong to its workloads: an "Initializing" identity of another node, no root). They are
    // checked on their own below.
    const certsBlock = /\n {2}"certificates": \[[\s\S]*?\n {2}\],\n/;
    const masked = got
      .replaceAll(client.metadata.uid ?? '', '3f1c0e2a-6b7d-4d2a-9f0e-1a2b3c4d5e6f')
      .replace(certsBlock, want.match(certsBlock)?.[0] ?? '');
    expect(masked).toBe(want);

    // The certificate entry: the fixture's shape, a real chain for the workload's identity.
    const fixtureCert = JSON.parse(want).certificates[1];
    const [cert] = JSON.parse(got).certificates;
    expect(Object.keys(cert)).toEqual(Object.keys(fixtureCert));
    expect(cert).toMatchObject({
      identity: 'spiffe://cluster.local/ns/mtls-01-x-a1b2c/sa/probe-x',
      state: 'Available',
    });
    expect(Object.keys(cert.certChain[0])).toEqual(Object.keys(fixtureCert.certChain[0]));
    expect(cert.certChain[0].pem).toMatch(/^LS0tLS1CRUdJTi/);
    expect(cert.certChain[0].serialNumber).toMatch(/^\d+$/);
    expect(cert.certChain[0].validFrom).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(cert.rootCerts).toHaveLength(1);
    const leaf = new X509Certificate(pemText(cert.certChain[0].pem));
    const root = new X509Certificate(pemText(cert.rootCerts[0].pem));
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/mtls-01-x-a1b2c/sa/probe-x');
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(root.subject).toBe('O=cluster.local');
    expect(judgeCertificate(parseConfigDump(got), cert.identity, w.now)).toEqual([]);
  });

  it('metrics.txt: the fixture’s families byte for byte (it is an excerpt of the exposition)', () => {
    const w = new World();
    w.namespace(ISTIO, {}, ['ztunnel']);
    const client = ep('10.244.1.7', 0, 'mtls-01-x-a1b2c', 'client-a-k3j4h', W1, 'probe-x', true);
    const a = ep('10.244.2.9', 80, 'mtls-01-y-d4e5f', 'a', W2, 'probe-y', true);
    const b = ep('10.244.2.12', 80, 'authz-01-y-q1w2e', 'b', W2, 'probe-y', true);
    const a4 = ep('10.244.2.10', 80, 'mtls-04-y-u8y7t', 'a', W2, 'probe-y', true);
    for (const [e, i] of [
      [a, 9],
      [b, 12],
      [a4, 10],
      [ep('10.244.2.13', 80, 'authz-01-y-q1w2e', 'c', W2, 'probe-y', true), 13],
    ] as const)
      w.pod({
        ns: e.pod!.namespace,
        name: e.pod!.name,
        node: W2,
        ip: `10.244.2.${i}`,
        sa: 'probe-y',
        enrolled: true,
      });
    w.ztunnel(W1);
    const zt = w.ztunnel(W2);
    const t = '2026-11-28T06:01:00.000Z';
    for (let i = 0; i < 3; i++)
      w.record({
        src: client,
        dst: a,
        decision: decision({ outcome: 'connected', why: 'HBONE' }),
        start: t,
        sent: 84,
        received: 358,
      });
    for (let i = 0; i < 2; i++)
      w.record({
        src: client,
        dst: b,
        decision: decision({
          outcome: 'reset',
          why: 'HBONE 401 from authz-01-y-q1w2e/b: allow policies exist, but none allowed',
        }),
        start: t,
      });
    w.record({
      src: { ip: '10.244.0.50', port: 41000 },
      dst: a4,
      decision: decision({
        outcome: 'reset',
        hbone: false,
        judgedPort: 80,
        why: 'ztunnel at mtls-04-y-u8y7t/a (plaintext): explicitly denied by: istio-system/istio_converted_static_strict',
      }),
      start: t,
    });
    const got = w.http(zt, 15020, '/metrics');
    expect(got.headers?.['content-type']).toBe('text/plain; charset=utf-8');
    // Split the exposition into families (HELP, TYPE and samples); the fixture keeps four of them.
    const families = (text: string) =>
      new Map(
        text
          .split(/(?=^# HELP )/m)
          .filter((f) => f.startsWith('# HELP'))
          .map((f) => [f.split(' ')[2] ?? '', f.replace(/# EOF\n$/, '')] as const),
      );
    const want = fixture('ztunnel/metrics.txt');
    const mine = families(got.body);
    expect(got.body.endsWith('\n# EOF\n')).toBe(true);
    // In the same order as in the fixture.
    const positions = [...families(want).keys()].map((name) => [...mine.keys()].indexOf(name));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    const excerpt =
      [...families(want).keys()].map((name) => mine.get(name) ?? `(no ${name})\n`).join('') + '# EOF\n';
    expect(excerpt).toBe(want);
    // The families the fixture leaves out: the byte counters (labels at open, so response_flags "-").
    expect(
      select(parseMetrics(got.body), 'istio_tcp_received_bytes_total', { destination_workload: 'a' }).map(
        (s) => s.value,
      ),
    ).toEqual([252, 0]);
  });

  it('access-source.txt: line for line, but for sub-millisecond times, the pod UID and the timeout’s duration', () => {
    const w = new World();
    w.namespace(ISTIO, {}, ['ztunnel']);
    const zt = w.ztunnel(W1);
    w.ztunnel(W2);
    const before = w.log(zt).length;
    const client = (ns: string, port: number) =>
      ep('10.244.1.7', port, ns, 'client-a-k3j4h', W1, 'probe-x', true);
    w.at('2026-11-28T06:01:05.754Z').record({
      src: client('mtls-01-x-a1b2c', 33772),
      dst: ep('10.244.2.9', 80, 'mtls-01-y-d4e5f', 'a', W2, 'probe-y', true),
      decision: decision({ outcome: 'connected', why: 'HBONE' }),
      start: '2026-11-28T06:01:05.739Z',
      end: '2026-11-28T06:01:05.754Z',
      sent: 84,
      received: 358,
    });
    const pod = w.at('2026-11-28T06:01:06.101Z').pod({
      ns: 'mtls-01-x-a1b2c',
      name: 'client-a-k3j4h',
      node: W1,
      ip: '10.244.1.7',
      sa: 'probe-x',
      enrolled: true,
    });
    w.record({
      src: client('mtls-01-x-a1b2c', 33800),
      dst: ep('10.244.2.12', 80, 'authz-01-y-q1w2e', 'b', W2, 'probe-y', true),
      decision: decision({
        outcome: 'reset',
        why: 'HBONE 401 from authz-01-y-q1w2e/b: allow policies exist, but none allowed',
      }),
      start: '2026-11-28T06:01:07.218Z',
      end: '2026-11-28T06:01:07.220Z',
    });
    w.record({
      src: client('netpol-02-x-z9y8x', 33900),
      dst: ep('10.244.2.14', 80, 'netpol-02-y-a7b6c', 'a', W2, 'probe-y', true),
      decision: decision({
        outcome: 'timeout',
        seconds: 10,
        why: 'ztunnel connect to 10.244.2.14:15008 timed out (ingress of netpol-02-y-a7b6c/a on :15008)',
      }),
      start: '2026-11-28T06:01:07.230Z',
      end: '2026-11-28T06:01:17.230Z',
    });
    const subMs = (s: string) => s.replace(/(T\d\d:\d\d:\d\d\.\d{3})\d{3}Z/g, '$1µµµZ');
    const got = subMs(w.log(zt).slice(before))
      .replace(pod.metadata.uid ?? '', '3f1c0e2a-6b7d-4d2a-9f0e-1a2b3c4d5e6f')
      // ztunnel's own clock measures a little over its 10 s timeout; the twin's is exact.
      .replace('duration="10000ms"', 'duration="10001ms"');
    expect(lines(got)).toEqual(lines(subMs(fixture('ztunnel/access-source.txt'))));
    // What the harness reads from it.
    const entries = parseAccessLog(w.log(zt));
    expect(entries.map((e) => e.fields.error ?? 'ok')).toEqual([
      'ok',
      'http status: 401 Unauthorized',
      'connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed',
    ]);
  });

  it('access-dest.txt: the text lines, and the JSON line from a ztunnel with LOG_FORMAT=json', () => {
    const w = new World();
    w.namespace(ISTIO, {}, ['ztunnel']);
    w.ztunnel(W1);
    const zt = w.ztunnel(W2);
    const before = w.log(zt).length;
    const client = (port: number) =>
      ep('10.244.1.7', port, 'mtls-01-x-a1b2c', 'client-a-k3j4h', W1, 'probe-x', true);
    w.record({
      src: client(33772),
      dst: ep('10.244.2.9', 80, 'mtls-01-y-d4e5f', 'a', W2, 'probe-y', true),
      decision: decision({ outcome: 'connected', why: 'HBONE' }),
      start: '2026-11-28T06:01:05.746Z',
      end: '2026-11-28T06:01:05.760Z',
      sent: 84,
      received: 358,
    });
    w.record({
      src: client(33800),
      dst: ep('10.244.2.12', 80, 'authz-01-y-q1w2e', 'b', W2, 'probe-y', true),
      decision: decision({
        outcome: 'reset',
        why: 'HBONE 401 from authz-01-y-q1w2e/b: allow policies exist, but none allowed',
      }),
      start: '2026-11-28T06:01:07.221Z',
    });
    const [l1, l2, l3] = lines(fixture('ztunnel/access-dest.txt'));
    expect(lines(w.log(zt).slice(before))).toEqual([l1, l2]);

    const j = new World();
    j.namespace(ISTIO, {}, ['ztunnel']);
    const jzt = j.ztunnel(W2, { json: true });
    const jbefore = j.log(jzt).length;
    j.record({
      src: ep('10.244.2.11', 41000, 'mtls-04-z-p0o9i', 'a', W2, 'probe-z', false),
      dst: ep('10.244.2.9', 80, 'mtls-04-y-u8y7t', 'a', W2, 'probe-y', true),
      decision: decision({
        outcome: 'reset',
        hbone: false,
        judgedPort: 80,
        why: 'ztunnel at mtls-04-y-u8y7t/a (plaintext): explicitly denied by: istio-system/istio_converted_static_strict',
      }),
      start: '2026-11-28T06:02:00.100Z',
    });
    expect(lines(j.log(jzt).slice(jbefore))).toEqual([l3]);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('ztunnelOutcome reads decide() as ztunnel lived it', () => {
  const w = new World();
  for (const crd of istioSecurityCrds()) w.store.create('customresourcedefinitions', crd);
  w.namespace(ISTIO);
  const mesh = { 'istio.io/dataplane-mode': 'ambient' };
  w.namespace('m', mesh, ['sa']);
  w.namespace('p');
  w.pod({ ns: 'm', name: 'client', node: W1, ip: '10.244.1.10', sa: 'sa', enrolled: true });
  w.pod({ ns: 'm', name: 'server', node: W2, ip: '10.244.2.10', sa: 'sa', enrolled: true, ports: [80] });
  w.pod({
    ns: 'm',
    name: 'guarded',
    node: W2,
    ip: '10.244.2.11',
    sa: 'sa',
    enrolled: true,
    ports: [80],
    labels: { app: 'guarded' },
  });
  w.pod({
    ns: 'm',
    name: 'denied',
    node: W2,
    ip: '10.244.2.12',
    sa: 'sa',
    enrolled: true,
    ports: [80],
    labels: { app: 'denied' },
  });
  w.pod({ ns: 'p', name: 'plain', node: W1, ip: '10.244.1.20', ports: [80] });
  w.pod({
    ns: 'p',
    name: 'pending',
    node: W1,
    ip: '10.244.1.21',
    ports: [80],
    meta: { annotations: { [AMBIENT_REDIRECTION]: 'pending' } },
  });
  w.pod({ ns: 'q', name: 'fenced', node: W2, ip: '10.244.2.30', ports: [80] });
  w.store.create('authorizationpolicies.security.istio.io', {
    metadata: { name: 'only-x', namespace: 'm' },
    spec: {
      selector: { matchLabels: { app: 'guarded' } },
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/x/sa/x'] } }] }],
    },
  });
  w.store.create('authorizationpolicies.security.istio.io', {
    metadata: { name: 'no', namespace: 'm' },
    spec: { selector: { matchLabels: { app: 'denied' } }, action: 'DENY', rules: [{}] },
  });
  w.store.create('networkpolicies', {
    metadata: { name: 'only-80', namespace: 'q' },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80 }] }] },
  });
  const client = { ns: 'm', name: 'client' };
  const plain = { ns: 'p', name: 'plain' };
  const cases: [string, { ns: string; name: string }, string, number, string][] = [
    ['HBONE, connected', client, '10.244.2.10', 80, 'complete'],
    [
      'HBONE, no allow policy matches',
      client,
      '10.244.2.11',
      80,
      'denied: allow policies exist, but none allowed',
    ],
    ['HBONE, a DENY policy', client, '10.244.2.12', 80, 'denied: explicitly denied by: m/no'],
    ['HBONE, nothing listens (503)', client, '10.244.2.10', 81, 'app-refused'],
    ['plaintext into the mesh, nothing listens', plain, '10.244.2.10', 81, 'app-refused'],
    [
      'plaintext into the mesh, denied',
      plain,
      '10.244.2.11',
      80,
      'denied: allow policies exist, but none allowed',
    ],
    ['passthrough out of the mesh, refused', client, '10.244.1.20', 81, 'upstream-refused'],
    ['passthrough out of the mesh, dropped by NetworkPolicy', client, '10.244.2.30', 8080, 'connect-timeout'],
    ['passthrough to a pending pod', client, '10.244.1.21', 80, 'upstream-refused'],
    ['plaintext dropped by NetworkPolicy (curl times out)', plain, '10.244.2.30', 8080, 'untouched'],
    ['plaintext to a pending pod (refused)', plain, '10.244.1.21', 80, 'untouched'],
  ];
  it.each(cases)('%s', (_what, from, ip, port, want) => {
    const o = ztunnelOutcome(w.curl(from, ip, port));
    expect(o.kind === 'denied' ? `denied: ${o.reason}` : o.kind).toBe(want);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('through the API server and the harness’s readers', () => {
  let w: World;
  let kube: KubeClients;
  let close: () => Promise<void>;
  let zt1: KubeObject;
  let zt2: KubeObject;
  const ips = { client: '10.244.1.10', server: '10.244.2.10', plain: '10.244.2.20' };

  beforeAll(async () => {
    const time = { now: new Date(T0) };
    const api = await startTwinApiServer({ clock: () => new Date(time.now.getTime()) });
    w = new World(api.store, time);
    kube = makeClients(
      api.kubeconfig(path.join(mkdtempSync(path.join(os.tmpdir(), 'twin-zt-')), 'kubeconfig')),
      'twin',
      {
        userAgent: 'ambient-conformance (TWIN-ZT)',
      },
    );
    close = () => api.close();
    const mesh = { 'istio.io/dataplane-mode': 'ambient' };
    w.namespace(ISTIO, {}, ['ztunnel']);
    w.namespace('x', mesh, ['probe-x']);
    w.namespace('y', mesh, ['probe-y']);
    w.namespace('z', {}, ['probe-z']);
    zt1 = w.ztunnel(W1, { ip: '10.244.1.2' });
    zt2 = w.ztunnel(W2, { ip: '10.244.2.2' });
    w.pod({ ns: 'x', name: 'a', node: W1, ip: ips.client, sa: 'probe-x', enrolled: true });
    w.pod({ ns: 'y', name: 'a', node: W2, ip: ips.server, sa: 'probe-y', enrolled: true, ports: [80] });
    w.pod({ ns: 'z', name: 'a', node: W2, ip: ips.plain, sa: 'probe-z', ports: [80] });
  });
  afterAll(() => close());

  const id = (ns: string) => `spiffe://cluster.local/ns/${ns}/sa/probe-${ns}`;

  it('MTLS-01 and MTLS-05: protocols in every ztunnel, Up and a valid certificate on the own node', async () => {
    const ztunnels = pickZtunnels(
      (await kube.core.listNamespacedPod({ namespace: ISTIO, labelSelector: 'app=ztunnel' })).items,
    );
    expect([...ztunnels]).toEqual([
      [W1, zt1.metadata.name],
      [W2, zt2.metadata.name],
    ]);
    for (const zt of [zt1, zt2]) {
      const dump = w.dump(zt);
      expect(findWorkload(dump, 'x', 'a')?.protocol).toBe('HBONE');
      expect(findWorkload(dump, 'y', 'a')?.protocol).toBe('HBONE');
      expect(findWorkload(dump, 'z', 'a')?.protocol).toBe('TCP');
      expect(findWorkload(dump, ISTIO, zt.metadata.name ?? '')).toMatchObject({
        protocol: 'TCP',
        node: zt === zt1 ? W1 : W2,
      });
    }
    const d2 = w.dump(zt2);
    const server = w.store.get<J>('pods', { namespace: 'y', name: 'a' });
    const plain = w.store.get<J>('pods', { namespace: 'z', name: 'a' });
    expect(d2.workloadState).toEqual([
      { uid: server.metadata.uid, state: 'Up', name: 'a', namespace: 'y', serviceAccount: 'probe-y' },
    ]);
    expect(d2.workloadState.some((s) => s.uid === plain.metadata.uid)).toBe(false);
    expect(judgeCertificate(d2, spiffeOf(findWorkload(d2, 'y', 'a')!), w.now)).toEqual([]);
    expect(judgeCertificate(d2, spiffeOf(findWorkload(d2, 'z', 'a')!), w.now)[0]).toMatch(
      /^no certificate for/,
    );
    // W1's ztunnel holds only its own node's identities.
    expect(judgeCertificate(w.dump(zt1), id('y'), w.now)[0]).toMatch(/^no certificate for/);
    // A day later the certificate was renewed (at half its life), so it is still valid.
    w.now = new Date(w.now.getTime() + 30 * 3_600_000);
    expect(judgeCertificate(w.dump(zt2), id('y'), w.now)).toEqual([]);
    w.now = new Date(T0);
  });

  it('MTLS-02: both ztunnels log the identities; the destination counts mutual_tls with the principals', async () => {
    w.now = new Date('2026-11-28T06:05:00.000Z');
    expect(w.curl({ ns: 'x', name: 'a' }, ips.server, 80).decision.outcome).toBe('connected');
    for (const [zt, direction] of [
      [zt1, 'outbound'],
      [zt2, 'inbound'],
    ] as const) {
      const entries = connectionsBetween(
        await accessLogOf(kube, ISTIO, zt.metadata.name ?? '', 600),
        ips.client,
        ips.server,
      ).filter((e) => e.fields.direction === direction);
      expect(entries.map((e) => [e.fields['src.identity'], e.fields['dst.identity']])).toContainEqual([
        id('x'),
        id('y'),
      ]);
    }
    const mtls = (samples: Sample[], src: string) =>
      sum(
        select(samples, 'istio_tcp_connections_opened_total', {
          reporter: 'destination',
          connection_security_policy: 'mutual_tls',
          source_principal: src,
          destination_principal: id('y'),
        }),
      );
    expect(mtls(w.metrics(zt2), id('x'))).toBe(1);
    expect(
      sum(
        select(w.metrics(zt1), 'istio_tcp_connections_opened_total', {
          reporter: 'source',
          connection_security_policy: 'mutual_tls',
        }),
      ),
    ).toBe(1);

    // A client outside the mesh: plaintext through the destination's ztunnel, no identities, no mutual_tls.
    expect(w.curl({ ns: 'z', name: 'a' }, ips.server, 80).decision.outcome).toBe('connected');
    const plain = connectionsBetween(
      await accessLogOf(kube, ISTIO, zt2.metadata.name ?? '', 600),
      ips.plain,
      ips.server,
    );
    expect(plain).toHaveLength(1);
    expect(plain[0]?.fields).toMatchObject({ direction: 'inbound', 'dst.addr': `${ips.server}:80` });
    expect(plain[0]?.fields['src.identity']).toBeUndefined();
    expect(mtls(w.metrics(zt2), id('z'))).toBe(0);
    expect(
      sum(
        select(w.metrics(zt2), 'istio_tcp_connections_opened_total', {
          connection_security_policy: 'unknown',
          source_workload_namespace: 'z',
        }),
      ),
    ).toBe(1);
  });

  it('AUTHZ-01: the destination logs the policy rejection and counts DENY on close', async () => {
    w.now = new Date('2026-11-28T06:10:00.000Z');
    w.store.create('authorizationpolicies.security.istio.io', {
      metadata: { name: 'only-w', namespace: 'y' },
      spec: { rules: [{ from: [{ source: { principals: ['cluster.local/ns/w/sa/probe-w'] } }] }] },
    });
    const opened = sum(
      select(w.metrics(zt2), 'istio_tcp_connections_opened_total', { destination_workload_namespace: 'y' }),
    );
    const r = w.curl({ ns: 'x', name: 'a' }, ips.server, 80);
    expect(r.decision.outcome).toBe('reset');
    const lines = connectionsBetween(
      await accessLogOf(kube, ISTIO, zt2.metadata.name ?? '', 900),
      ips.client,
      ips.server,
    );
    expect(lines.some((e) => (e.fields.error ?? '').includes('policy rejection'))).toBe(true);
    const samples = w.metrics(zt2);
    expect(sum(deniedConnections(samples, 'y'))).toBe(1);
    // Counters only grow: the denied connection was also opened.
    expect(
      sum(select(samples, 'istio_tcp_connections_opened_total', { destination_workload_namespace: 'y' })),
    ).toBe(opened + 1);
    // The policy is in the dump as istiod converted it.
    const raw = JSON.parse(w.http(zt2, 15000, '/config_dump').body);
    expect(raw.policies).toContainEqual({
      action: 'Allow',
      name: 'only-w',
      namespace: 'y',
      rules: [[[{ principals: [{ Exact: 'cluster.local/ns/w/sa/probe-w' }] }]]],
      scope: 'Namespace',
    });
    w.store.delete('authorizationpolicies.security.istio.io', { namespace: 'y', name: 'only-w' });
  });

  it('NETPOL-02: the source ztunnel logs the HBONE connect timeout', async () => {
    w.now = new Date('2026-11-28T06:15:00.000Z');
    w.store.create('networkpolicies', {
      metadata: { name: 'app-port-only', namespace: 'y' },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80 }] }] },
    });
    expect(w.curl({ ns: 'x', name: 'a' }, ips.server, 80).decision).toMatchObject({
      outcome: 'timeout',
      hbone: true,
    });
    const needle = 'maybe a NetworkPolicy is blocking HBONE port 15008';
    const text = await kube.core.readNamespacedPodLog({
      namespace: ISTIO,
      name: zt1.metadata.name ?? '',
      container: 'istio-proxy',
      sinceSeconds: 900,
    });
    expect(text).toContain(needle);
    // Nothing reached the destination: its ztunnel logged nothing for it.
    expect(w.log(zt2)).not.toContain(needle);
    w.store.delete('networkpolicies', { namespace: 'y', name: 'app-port-only' });
  });

  it('pods/log honours sinceSeconds, timestamps and tailLines as the kubelet does', async () => {
    const name = zt1.metadata.name ?? '';
    w.now = new Date('2026-11-28T06:40:00.000Z');
    expect(await accessLogOf(kube, ISTIO, name, 600)).toEqual([]);
    expect((await accessLogOf(kube, ISTIO, name, 3600)).length).toBeGreaterThan(0);
    w.curl({ ns: 'x', name: 'a' }, ips.server, 80);
    expect((await accessLogOf(kube, ISTIO, name, 600)).map((e) => e.time)).toEqual([
      '2026-11-28T06:40:00.000000Z',
    ]);
    const stamped = await kube.core.readNamespacedPodLog({
      namespace: ISTIO,
      name,
      container: 'istio-proxy',
      tailLines: 1,
      timestamps: true,
    });
    expect(stamped).toMatch(
      /^2026-11-28T06:40:00\.000000000Z 2026-11-28T06:40:00\.000000Z\tinfo\taccess\tconnection complete\t[^\n]*\n$/,
    );
  });

  it('REMOVAL-01: an un-enrolled pod is TCP at once, leaves workloadState and loses its certificate', () => {
    w.now = new Date('2026-11-28T06:45:00.000Z');
    const before = w.metrics(zt2);
    w.store.mutate<J>('pods', { namespace: 'y', name: 'a' }, (p) => {
      delete p.metadata.annotations[AMBIENT_REDIRECTION];
    });
    const dump = w.dump(zt2);
    expect(findWorkload(dump, 'y', 'a')?.protocol).toBe('TCP');
    expect(dump.workloadState).toEqual([]);
    expect(dump.certificates).toEqual([]);
    expect(w.log(zt2)).toMatch(
      /\tinfo\tinpod::statemanager\tpod delete request, shutting down proxy\tuid="[0-9a-f-]+"\n$/,
    );
    const gauge = (s: Sample[], name: string) => select(s, name, {})[0]?.value;
    expect([
      gauge(before, 'workload_manager_active_proxy_count'),
      gauge(w.metrics(zt2), 'workload_manager_active_proxy_count'),
    ]).toEqual([1, 0]);
    expect(gauge(w.metrics(zt2), 'workload_manager_proxies_stopped_total')).toBe(1);
    // Traffic still flows, now in plaintext, and no ztunnel at the destination sees it.
    const r = w.curl({ ns: 'x', name: 'a' }, ips.server, 80);
    expect(r.decision).toMatchObject({ outcome: 'connected', hbone: false });
    expect(parseAccessLog(w.log(zt1)).at(-1)?.fields).toMatchObject({
      'dst.addr': `${ips.server}:80`,
      direction: 'outbound',
    });
  });

  it('serves only 15000 and 15020 of a serving ztunnel pod, with ztunnel’s 404s', () => {
    const server = w.store.get<KubeObject>('pods', { namespace: 'y', name: 'a' })!;
    expect(w.zt.portForward(server, 15000)).toBeUndefined();
    expect(w.zt.portForward(zt2, 15021)).toBeUndefined();
    expect(w.zt.portForward(zt2, 80)).toBeUndefined();
    expect(w.http(zt2, 15000, '/stats')).toEqual({ status: 404, body: '' });
    expect(w.http(zt2, 15020, '/config_dump')).toEqual({ status: 404, body: '' });
    const om = w.http(zt2, 15020, '/stats/prometheus', {
      Accept: 'application/openmetrics-text; version=1.0.0',
    });
    expect(om.headers?.['content-type']).toBe('application/openmetrics-text;charset=utf-8;version=1.0.0');
    expect(om.body).toContain('# TYPE istio_build gauge\nistio_build{component="ztunnel",tag="1.28.3"} 1\n');
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('with the controllers: the chart’s DaemonSet, istio-cni enrolling, the kubelet starting pods', () => {
  it('a ztunnel pod comes up, receives its node’s enrolled pods and dumps them', async () => {
    const api = await startTwinApiServer({ gcDelayMs: 5 });
    const ctl = startControllers(api.store, { clusterName: 'amb', podStartDelayMs: 10 });
    const w = new World(api.store, {
      get now() {
        return new Date();
      },
    });
    try {
      w.namespace(ISTIO, {}, ['ztunnel']);
      w.namespace('mesh', { 'istio.io/dataplane-mode': 'ambient' });
      for (const [name, labels, container] of [
        ['istio-cni-node', { 'k8s-app': 'istio-cni-node' }, 'install-cni'],
        ['ztunnel', { app: 'ztunnel' }, 'istio-proxy'],
      ] as const)
        api.store.create('daemonsets', {
          metadata: { name, namespace: ISTIO },
          spec: {
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                tolerations: [{ operator: 'Exists' }],
                containers: [{ name: container, image: `docker.io/istio/${name}:1.28.3` }],
              },
            },
          },
        });
      api.store.create('pods', {
        metadata: { name: 'app', namespace: 'mesh' },
        spec: { nodeName: 'amb-worker', containers: [{ name: 'c', image: 'busybox' }] },
      });
      const deadline = Date.now() + 5_000;
      let pod: J;
      let zt: KubeObject | undefined;
      for (;;) {
        await new Promise((r) => setTimeout(r, 20));
        pod = api.store.get<J>('pods', { namespace: 'mesh', name: 'app' });
        const pods = api.store.list<V1Pod & KubeObject>('pods', {
          namespace: ISTIO,
          labelSelector: 'app=ztunnel',
        });
        const name = pickZtunnels(pods).get('amb-worker');
        zt = pods.find((p) => p.metadata.name === name);
        if (zt && pod?.metadata.annotations?.[AMBIENT_REDIRECTION] === 'enabled') break;
        if (Date.now() > deadline) throw new Error('no enrolled pod and ztunnel on amb-worker');
      }
      const dump = w.dump(zt);
      expect(findWorkload(dump, 'mesh', 'app')).toMatchObject({
        protocol: 'HBONE',
        node: 'amb-worker',
        status: 'Healthy',
      });
      expect(dump.workloadState).toEqual([
        { uid: pod.metadata.uid, state: 'Up', name: 'app', namespace: 'mesh', serviceAccount: 'default' },
      ]);
      expect(judgeCertificate(dump, 'spiffe://cluster.local/ns/mesh/sa/default', new Date())).toEqual([]);
      const log = w.log(zt);
      expect(log).toMatch(/^\S+\tinfo\tztunnel\tversion: version\.BuildInfo\{Version:"1\.28\.3", /);
      expect(log).toContain(
        `\tinfo\tinpod::statemanager\tpod received, starting proxy\tuid="${pod.metadata.uid}" name="app" namespace="mesh"\n`,
      );
      // Other nodes' ztunnels do not hold the pod.
      const other = api.store
        .list<KubeObject>('pods', { namespace: ISTIO, labelSelector: 'app=ztunnel' })
        .find((p) => (p as J).spec.nodeName === 'amb-worker2');
      if (other && w.zt.portForward(other, 15000)) expect(w.dump(other).workloadState).toEqual([]);
    } finally {
      w.zt.stop();
      await ctl.stop();
      await api.close();
    }
  });
});
