import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readManifests } from './manifests.ts';
import { countCells, ReachabilityModel, type ModelOptions } from './model.ts';
import { expectedChunks } from './render.ts';

/**
 * Issue 11, parts 3 and 4: pods with an Istio sidecar in an ambient mesh, and sources that are
 * the node itself (the kubelet's probes, host-network pods). Facts, all at istio/istio 1.28.3:
 * pilot/pkg/serviceregistry/kube/controller/ambient/workloads.go setTunnelProtocol (the
 * `networking.istio.io/tunnel: http` label makes a pod an HBONE endpoint), the injection template
 * (the label and `security.istio.io/tlsMode: istio`), pilot/pkg/xds/endpoints/endpoint_builder.go
 * (a sidecar uses Istio mTLS to a tlsMode=istio endpoint, HBONE to an ambient one),
 * cni/pkg/iptables/iptables.go (connections from the node's sockets to its enrolled pods are SNATed
 * to 169.254.7.127 and bypass ztunnel).
 */

type Obj = Record<string, unknown>;
const ns = (name: string, ambient = false): Obj => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, ...(ambient ? { labels: { 'istio.io/dataplane-mode': 'ambient' } } : {}) },
});
const pod = (
  namespace: string,
  name: string,
  ip: string,
  extra: { labels?: Obj; annotations?: Obj; spec?: Obj; node?: string } = {},
): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace,
    labels: { app: name, ...(extra.labels ?? {}) },
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  },
  spec: {
    nodeName: extra.node ?? 'worker',
    containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }],
    ...(extra.spec ?? {}),
  },
  status: { podIP: ip, hostIP: '172.18.0.2' },
});
const sidecar = (namespace: string, name: string, ip: string, hbone = true): Obj =>
  pod(namespace, name, ip, {
    labels: {
      'security.istio.io/tlsMode': 'istio',
      ...(hbone ? { 'networking.istio.io/tunnel': 'http' } : {}),
    },
    annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' },
  });
const netpol = (namespace: string, name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

const peerAuth = (namespace: string, name: string, spec: Obj): Obj => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace },
  spec,
});
const strictIn = (namespace: string): Obj => peerAuth(namespace, 'strict', { mtls: { mode: 'STRICT' } });

function model(objects: Obj[], opts: ModelOptions = {}): ReachabilityModel {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sh-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return new ReachabilityModel(readManifests([file]).state, opts);
}

function cell(m: ReachabilityModel, from: string, to: string, port = 8080) {
  const s = from.startsWith('[')
    ? m.sourceCount - m.hostSources.length + m.hostSources.findIndex((h) => h.key === from)
    : m.podIndex(from);
  return m.cell(s ?? -1, m.podIndex(to) ?? -1, port);
}

describe('sidecar pods in an ambient mesh', () => {
  const base = [
    ns('ns-amb', true),
    ns('ns-side'),
    ns('ns-plain'),
    pod('ns-amb', 'amb-client', '10.244.1.10'),
    sidecar('ns-side', 'side-server', '10.244.1.20'),
    pod('ns-plain', 'plain', '10.244.1.30'),
    netpol('ns-side', 'admit-amb-8080', {
      podSelector: {},
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns-amb' } } }],
          ports: [{ port: 8080 }],
        },
      ],
    }),
  ];

  it('issue 11 failing input: an ambient client reaches a sidecar pod over HBONE, so a policy admitting 8080 only drops it (T, judged on 15008)', () => {
    const c = cell(model(base), 'ns-amb/amb-client', 'ns-side/side-server');
    expect(c).toMatchObject({ outcome: 'drop', judgedPort: 15008, hbone: true });
    expect(c.reason).toContain(
      'TCP 15008 (HBONE: ns-side/side-server is an HBONE endpoint (networking.istio.io/tunnel: http)',
    );
  });
  it('admitting 15008 lets it through', () => {
    const m = model([
      ...base,
      netpol('ns-side', 'admit-hbone', { podSelector: {}, ingress: [{ ports: [{ port: 15008 }] }] }),
    ]);
    expect(cell(m, 'ns-amb/amb-client', 'ns-side/side-server').outcome).toBe('allow');
  });
  it('a sidecar without the tunnel label gets plaintext from ztunnel on the app port', () => {
    const m = model([
      ...base.slice(0, 4),
      sidecar('ns-side', 'side-server', '10.244.1.20', false),
      ...base.slice(5),
    ]);
    expect(cell(m, 'ns-amb/amb-client', 'ns-side/side-server')).toMatchObject({
      outcome: 'allow',
      judgedPort: 8080,
      hbone: false,
    });
  });
  it('a sidecar client sends to a pod IP as plaintext on the app port, so STRICT on an enrolled pod resets it (passthrough cluster, istio/istio#37431)', () => {
    const m = model([...base, strictIn('ns-amb')]);
    const c = cell(m, 'ns-side/side-server', 'ns-amb/amb-client');
    expect(c).toMatchObject({ outcome: 'deny', judgedPort: 8080, hbone: false });
    expect(cell(m, 'ns-plain/plain', 'ns-amb/amb-client').outcome).toBe('deny');
    const open = cell(model(base), 'ns-side/side-server', 'ns-amb/amb-client');
    expect(open.reason).toContain('sends to a pod IP through its passthrough cluster, without mTLS or HBONE');
  });
  it('so an ALLOW by principal does not see the sidecar pod’s identity', () => {
    const m = model([
      ...base,
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'only-side', namespace: 'ns-amb' },
        spec: {
          action: 'ALLOW',
          rules: [{ from: [{ source: { principals: ['cluster.local/ns/ns-side/sa/default'] } }] }],
        },
      },
    ]);
    expect(cell(m, 'ns-side/side-server', 'ns-amb/amb-client').outcome).toBe('deny');
  });
  it('and a NetworkPolicy admitting only 15008 drops it: the app port is judged', () => {
    const m = model([
      ...base,
      netpol('ns-amb', 'hbone-only', { podSelector: {}, ingress: [{ ports: [{ port: 15008 }] }] }),
    ]);
    expect(cell(m, 'ns-side/side-server', 'ns-amb/amb-client')).toMatchObject({
      outcome: 'drop',
      judgedPort: 8080,
    });
  });
  it('the sidecar enforces its own policies as the destination: STRICT resets plaintext, a DENY by namespace resets the ambient client', () => {
    const m = model([
      ...base.slice(0, 6),
      strictIn('ns-side'),
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'no-amb', namespace: 'ns-side' },
        spec: { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['ns-amb'] } }] }] },
      },
    ]);
    const plain = cell(m, 'ns-plain/plain', 'ns-side/side-server');
    expect(plain.outcome).toBe('deny');
    expect(plain.reason).toContain('the sidecar of ns-side/side-server enforces STRICT on port 8080');
    const amb = cell(m, 'ns-amb/amb-client', 'ns-side/side-server');
    expect(amb.outcome).toBe('deny');
    expect(amb.reason).toContain('enforced by the sidecar of ns-side/side-server');
  });
  it('a DENY with only L7 fields: a sidecar’s TCP filter drops them and denies everyone; ztunnel never matches it', () => {
    const denyGet = (ns: string) => ({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'no-get', namespace: ns },
      spec: { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] },
    });
    const m = model([...base.slice(0, 6), denyGet('ns-side'), denyGet('ns-amb')]);
    const side = cell(m, 'ns-plain/plain', 'ns-side/side-server');
    expect(side.outcome).toBe('deny');
    expect(side.reason).toContain('ignores a DENY');
    expect(cell(m, 'ns-plain/plain', 'ns-amb/amb-client').outcome).toBe('allow');
  });
  it('a sidecar with portLevelMtls follows the sidecar merge: the port’s own mode wins', () => {
    const m = model([
      ...base.slice(0, 6),
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'mesh', namespace: 'istio-system' },
        spec: { mtls: { mode: 'STRICT' } },
      },
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'port', namespace: 'ns-side' },
        spec: {
          selector: { matchLabels: { app: 'side-server' } },
          portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
        },
      },
    ]);
    expect(cell(m, 'ns-plain/plain', 'ns-side/side-server').outcome).toBe('allow');
    expect(cell(m, 'ns-plain/plain', 'ns-side/side-server', 9090).outcome).toBe('deny');
  });
  it('two sidecars by pod IP: plaintext, which the destination’s STRICT resets', () => {
    const strict = strictIn('ns-side');
    const m = model([...base.slice(0, 6), sidecar('ns-side', 'side-client', '10.244.1.21'), strict]);
    expect(cell(m, 'ns-side/side-client', 'ns-side/side-server')).toMatchObject({
      outcome: 'deny',
      judgedPort: 8080,
      hbone: false,
    });
  });
  it('a sidecar does not capture 15090, 15021, 15020 or the pod’s excludeInboundPorts: no sidecar policy applies there', () => {
    const strict = strictIn('ns-side');
    const excl = pod('ns-side', 'excl', '10.244.1.22', {
      labels: { 'security.istio.io/tlsMode': 'istio' },
      annotations: {
        'sidecar.istio.io/status': '{}',
        'traffic.sidecar.istio.io/excludeInboundPorts': '15020,9999',
      },
    });
    const m = model([...base.slice(0, 6), excl, strict]);
    expect(cell(m, 'ns-plain/plain', 'ns-side/excl', 9999).outcome).toBe('allow');
    expect(cell(m, 'ns-plain/plain', 'ns-side/excl', 15021).outcome).toBe('allow');
    expect(cell(m, 'ns-plain/plain', 'ns-side/excl', 8080).outcome).toBe('deny');
  });
  it('a root-namespace PeerAuthentication with `selector: {}` is mesh-wide for a sidecar (getConfigsForWorkload), though ambient ignores it', () => {
    const meshSel = {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'mesh', namespace: 'istio-system' },
      spec: { selector: {}, mtls: { mode: 'STRICT' } },
    };
    const m = model([...base.slice(0, 6), meshSel]);
    expect(cell(m, 'ns-plain/plain', 'ns-side/side-server').outcome).toBe('deny');
    expect(cell(m, 'ns-plain/plain', 'ns-amb/amb-client').outcome).toBe('allow');
  });
});

describe('kubelet probes and host-network sources', () => {
  const probed = pod('ns-a', 'app-1', '10.244.1.5', {
    spec: {
      nodeName: 'worker',
      containers: [
        {
          name: 'app',
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { port: 'http', path: '/ready' } },
          livenessProbe: { exec: { command: ['true'] } },
        },
      ],
    },
  });
  const denyAll = netpol('ns-a', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] });
  const admitProbe = netpol('ns-a', 'allow-probes', {
    podSelector: {},
    ingress: [{ from: [{ ipBlock: { cidr: '169.254.7.127/32' } }] }],
  });
  const objects = [ns('ns-a', true), probed, pod('ns-a', 'app-2', '10.244.1.6'), denyAll];

  it('issue 11 failing input: the kubelet’s probe of an enrolled pod is dropped under default-deny, and allowed with the 169.254.7.127 ipBlock', () => {
    const without = cell(model(objects), '[kubelet]', 'ns-a/app-1');
    expect(without).toMatchObject({ from: '[kubelet]', outcome: 'drop', judgedPort: 8080 });
    expect(without.reason).toContain('readiness httpGet probe of container app');
    expect(without.reason).toContain('add an ingress rule with ipBlock 169.254.7.127/32');
    const withIt = cell(model([...objects, admitProbe]), '[kubelet]', 'ns-a/app-1');
    expect(withIt.outcome).toBe('allow');
    expect(withIt.reason).toContain('ingress allowed by ns-a/allow-probes (ingress rule 0)');
  });
  it('the outputs differ: the kubelet row of the table says T without the allowance and . with it', () => {
    const table = (m: ReachabilityModel) => [...expectedChunks(m)].join('');
    expect(table(model(objects))).toMatch(/\[kubelet\]\s+T/);
    expect(table(model([...objects, admitProbe]))).toMatch(/\[kubelet\]\s+\./);
  });
  it('--host-traffic exempt (kindnet) accepts the probe without the allowance, and says why', () => {
    const c = cell(model(objects, { hostTraffic: 'exempt' }), '[kubelet]', 'ns-a/app-1');
    expect(c.outcome).toBe('allow');
    expect(c.reason).toContain('meta skuid 0 accept');
  });
  it('the kubelet has cells only for probed ports (exec probes make none), and only to pods that declare them', () => {
    const m = model(objects);
    const kubelet = [...m.cells()].filter((c) => c.from === '[kubelet]');
    expect(kubelet.map((c) => `${c.to}:${c.port}`)).toEqual(['ns-a/app-1:8080']);
    expect(countCells(readManifestsOf(objects), undefined)).toBe(m.matrix().length);
  });
  it('the probe of a pod that is not enrolled is always allowed: traffic from the pod’s own node', () => {
    const m = model([ns('ns-a'), probed, denyAll]);
    expect(cell(m, '[kubelet]', 'ns-a/app-1').outcome).toBe('allow');
  });
  it('a host-network pod is a source row, not dropped: on the same node it is SNATed like the kubelet; on another node it is judged by its address and plaintext to ztunnel', () => {
    const apiserver = pod('kube-system', 'kube-apiserver-cp', '172.18.0.2', {
      node: 'worker',
      spec: { hostNetwork: true },
    });
    const remote = pod('kube-system', 'agent-remote', '172.18.0.9', {
      node: 'other',
      spec: { hostNetwork: true },
    });
    const m = model([...objects, apiserver, remote, admitProbe]);
    expect(m.hostSources.map((h) => h.key)).toEqual([
      '[kubelet]',
      '[host] kube-system/kube-apiserver-cp',
      '[host] kube-system/agent-remote',
    ]);
    expect(cell(m, '[host] kube-system/kube-apiserver-cp', 'ns-a/app-2').outcome).toBe('allow');
    const far = cell(m, '[host] kube-system/agent-remote', 'ns-a/app-2');
    expect(far.outcome).toBe('drop');
    expect(far.reason).toContain('from node other');
    const admitNode = netpol('ns-a', 'allow-nodes', {
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: '172.18.0.0/16' } }] }],
    });
    const strict = strictIn('ns-a');
    const m2 = model([...objects, remote, admitNode, strict]);
    expect(cell(m2, '[host] kube-system/agent-remote', 'ns-a/app-2').outcome).toBe('deny');
  });
  it('a host-network pod on the same node as a STRICT sidecar pod is reset by the sidecar (its iptables capture host traffic too)', () => {
    const agent = pod('kube-system', 'agent', '172.18.0.2', { node: 'worker', spec: { hostNetwork: true } });
    const strict = strictIn('ns-side');
    const m = model([ns('ns-side'), sidecar('ns-side', 'side', '10.244.1.40'), agent, strict]);
    expect(cell(m, '[host] kube-system/agent', 'ns-side/side').outcome).toBe('deny');
    expect(cell(m, '[host] kube-system/agent', 'ns-side/side', 15021).outcome).toBe('allow');
  });
  it('reads the probes of restartable init containers, and a named probe port whatever its protocol', () => {
    const native = pod('ns-a', 'app-4', '10.244.1.8', {
      spec: {
        initContainers: [
          {
            name: 'proxy',
            restartPolicy: 'Always',
            ports: [{ name: 'health', containerPort: 7070 }],
            readinessProbe: { httpGet: { port: 'health' } },
          },
          { name: 'setup', ports: [{ containerPort: 1 }] },
        ],
        containers: [
          {
            name: 'app',
            ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }],
            livenessProbe: { tcpSocket: { port: 'dns' } },
          },
        ],
      },
    });
    const m = model([ns('ns-a', true), native]);
    expect(m.pods[0]?.probes).toEqual([
      { probe: 'liveness', container: 'app', handler: 'tcpSocket', port: 5353 },
      { probe: 'readiness', container: 'proxy', handler: 'httpGet', port: 7070 },
    ]);
  });
  it('the table has a column for a probed port the pod does not declare', () => {
    const undeclared = pod('ns-a', 'app-3', '10.244.1.7', {
      spec: {
        containers: [
          { name: 'app', ports: [{ containerPort: 8080 }], livenessProbe: { tcpSocket: { port: 9999 } } },
        ],
      },
    });
    const m = model([ns('ns-a', true), undeclared]);
    const table = [...expectedChunks(m)].join('');
    expect(table).toContain('expected TCP 9999');
    expect(table).toMatch(/\[kubelet\]\s+\./);
  });
  it('exempt covers root-owned sockets only: a host-network pod running as non-root is judged by the node’s address, before the SNAT', () => {
    const agent = pod('kube-system', 'agent', '172.18.0.2', {
      node: 'worker',
      spec: { hostNetwork: true, securityContext: { runAsUser: 1000 } },
    });
    // kindnet judges it before istio-cni's SNAT: 169.254.7.127 does not admit it, the node's address does.
    const probeRule = cell(
      model([...objects, agent, admitProbe], { hostTraffic: 'exempt' }),
      '[host] kube-system/agent',
      'ns-a/app-2',
    );
    expect(probeRule.outcome).toBe('drop');
    const nodeRule = netpol('ns-a', 'allow-node', {
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: '172.18.0.2/32' } }] }],
    });
    expect(
      cell(
        model([...objects, agent, nodeRule], { hostTraffic: 'exempt' }),
        '[host] kube-system/agent',
        'ns-a/app-2',
      ).outcome,
    ).toBe('allow');
    // Not enrolled: still judged, unlike the Kubernetes documentation's "always allowed".
    const plainNs = [
      ns('ns-p'),
      pod('ns-p', 'p', '10.244.1.50'),
      netpol('ns-p', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
    ];
    expect(
      cell(model([...plainNs, agent], { hostTraffic: 'exempt' }), '[host] kube-system/agent', 'ns-p/p')
        .outcome,
    ).toBe('drop');
  });
  it('exempt covers root-owned sockets only: a host-network pod running as non-root is judged', () => {
    const agent = pod('kube-system', 'agent', '172.18.0.2', {
      node: 'worker',
      spec: { hostNetwork: true, securityContext: { runAsUser: 1000 } },
    });
    const c = cell(
      model([...objects, agent], { hostTraffic: 'exempt' }),
      '[host] kube-system/agent',
      'ns-a/app-2',
    );
    expect(c.outcome).toBe('drop');
    expect(c.reason).toContain('runs as non-root');
  });
});

function readManifestsOf(objects: Obj[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sh-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return readManifests([file]).state.pods;
}

describe('kube-system', () => {
  it('is predicted never enrolled, and a pod there labelled for ambient gets the 1.28/1.29 caveat', () => {
    const m = model([
      ns('kube-system'),
      pod('kube-system', 'asked', '10.244.1.90', { labels: { 'istio.io/dataplane-mode': 'ambient' } }),
      pod('kube-system', 'quiet', '10.244.1.91'),
    ]);
    expect(m.enrolled).toEqual([false, false]);
    expect(m.enrollmentWhy[0]).toContain('the 1.28 and 1.29 node agent may still enrol it');
    expect(m.enrollmentWhy[1]).toBe('namespace kube-system is excluded by istio-cni');
  });
});

describe('found by trying the CLI as a user would', () => {
  it('a host-network pod without status.podIP is refused, as any pod: its address decides ipBlocks', () => {
    expect(() =>
      model([
        ns('ns-a'),
        { ...pod('kube-system', 'agent', '1.1.1.1', { spec: { hostNetwork: true } }), status: {} },
      ]),
    ).toThrow(/missing status\.podIP/);
  });
  it('an init container is checked as a container: bad ports, names shared with a container, probes without restartPolicy Always', () => {
    const withInit = (init: Record<string, unknown>) =>
      pod('ns-a', 'p', '10.244.1.2', { spec: { initContainers: [init], containers: [{ name: 'app' }] } });
    expect(() =>
      model([withInit({ name: 'i', restartPolicy: 'Always', ports: [{ containerPort: 99999 }] })]),
    ).toThrow(/spec\.initContainers\[0\]\.ports\[0\]\.containerPort/);
    expect(() => model([withInit({ name: 'app' })])).toThrow(/spec\.initContainers\[0\]\.name/);
    expect(() => model([withInit({ name: 'i', porst: [] })])).toThrow(/porst/);
    expect(() => model([withInit({ name: 'i', restartPolicy: 'always' })])).toThrow(/restartPolicy/);
    expect(() => model([withInit({ name: 'i', readinessProbe: { tcpSocket: { port: 1 } } })])).toThrow(
      /invalid spec\.initContainers\[0\]\.readinessProbe$/,
    );
  });
  it('runAsNonRoot without runAsUser is a non-root socket: kindnet judges it under exempt', () => {
    const agent = pod('kube-system', 'agent', '172.18.0.2', {
      node: 'worker',
      spec: { hostNetwork: true, securityContext: { runAsNonRoot: true } },
    });
    const m = model(
      [
        ns('ns-a', true),
        pod('ns-a', 'app', '10.244.1.5'),
        netpol('ns-a', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
        agent,
      ],
      { hostTraffic: 'exempt' },
    );
    expect(m.hostSources[0]?.pod?.hostUser).toBe('non-root');
    expect(cell(m, '[host] kube-system/agent', 'ns-a/app').outcome).toBe('drop');
  });
  it('an injected pod’s excludeInboundPorts must be what the injector accepts', () => {
    const bad = (v: string) =>
      pod('ns-a', 'p', '10.244.1.2', {
        annotations: { 'sidecar.istio.io/status': '{}', 'traffic.sidecar.istio.io/excludeInboundPorts': v },
      });
    for (const v of ['http', '70000', '9000;8080', '9000,,', '-1', '9000.0'])
      expect(() => model([bad(v)]), v).toThrow(/excludeInboundPorts/);
    expect(() => model([bad(' 9000 , 15020 ')])).not.toThrow();
  });
  it('a tcpSocket probe of a STRICT sidecar pod connects (Envoy accepts it); an httpGet probe is reset', () => {
    const strict = strictIn('ns-s');
    const probed = (name: string, probe: Record<string, unknown>) => ({
      ...sidecar('ns-s', name, name === 'tcp' ? '10.244.1.60' : '10.244.1.61'),
      spec: {
        nodeName: 'worker',
        containers: [{ name: 'app', ports: [{ containerPort: 8080 }], livenessProbe: probe }],
      },
    });
    const m = model([
      ns('ns-s'),
      probed('tcp', { tcpSocket: { port: 8080 } }),
      probed('http', { httpGet: { port: 8080 } }),
      strict,
    ]);
    const tcp = cell(m, '[kubelet]', 'ns-s/tcp');
    expect(tcp.outcome).toBe('allow');
    expect(tcp.reason).toContain('a tcpSocket probe only opens a connection');
    expect(cell(m, '[kubelet]', 'ns-s/http').outcome).toBe('deny');
  });
  it('a probe naming no port of its container warns on stderr and makes no cell', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sh-'));
    const file = path.join(dir, 'm.yaml');
    writeFileSync(
      file,
      stringify(
        pod('ns-a', 'p', '10.244.1.2', {
          spec: {
            containers: [
              {
                name: 'app',
                ports: [{ name: 'http', containerPort: 80 }],
                readinessProbe: { httpGet: { port: 'nosuch' } },
              },
            ],
          },
        }),
      ),
    );
    const r = readManifests([file]);
    expect(r.warnings).toEqual([
      expect.stringContaining(
        'Pod ns-a/p: spec.containers[0].readinessProbe.httpGet.port: container app has no port named "nosuch" (it has "http")',
      ),
    ]);
    expect(r.state.pods[0]?.probes).toBeUndefined();
  });
  it('YAML merge keys are resolved, as kubectl does', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sh-'));
    const file = path.join(dir, 'm.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns-a}\nspec:\n  <<: &base {containers: [{name: app}]}\n  nodeName: n2\nstatus: {podIP: 10.244.1.2}\n',
    );
    expect(readManifests([file]).state.pods[0]).toMatchObject({ name: 'p', nodeName: 'n2' });
  });
  it('for a sidecar, tied creationTimestamps go by name (sortConfigByCreationTime), so the choice is settled', () => {
    const t = '2026-11-01T00:00:00Z';
    const pa = (name: string, mode: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name, namespace: 'ns-s', creationTimestamp: t },
      spec: { selector: { matchLabels: { app: 'srv' } }, mtls: { mode }, ...extra },
    });
    const m = model([
      ns('ns-s'),
      ns('ns-plain'),
      pod('ns-plain', 'plain', '10.244.1.30'),
      {
        ...sidecar('ns-s', 'srv', '10.244.1.40'),
        metadata: {
          name: 'srv',
          namespace: 'ns-s',
          labels: { app: 'srv', 'security.istio.io/tlsMode': 'istio' },
          annotations: { 'sidecar.istio.io/status': '{}' },
        },
      },
      pa('b-permissive', 'PERMISSIVE'),
      pa('a-strict', 'STRICT'),
    ]);
    const c = cell(m, 'ns-plain/plain', 'ns-s/srv');
    expect(c.outcome).toBe('deny');
    expect(c.reason).not.toContain('a cluster may differ');
  });
  it('without nodeName, nodes are matched by status.hostIP', () => {
    const noNode = (p: Record<string, unknown>) => ({
      ...p,
      spec: { ...(p.spec as object), nodeName: undefined },
    });
    const agent = noNode(pod('kube-system', 'agent', '172.18.0.2', { spec: { hostNetwork: true } }));
    const app = noNode(pod('ns-a', 'app', '10.244.1.5'));
    const m = model([
      ns('ns-a'),
      app,
      agent,
      netpol('ns-a', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
    ]);
    // Same address as the app's status.hostIP (172.18.0.2): the app's own node, which NetworkPolicy always lets in.
    expect(cell(m, '[host] kube-system/agent', 'ns-a/app').outcome).toBe('allow');
  });
});
