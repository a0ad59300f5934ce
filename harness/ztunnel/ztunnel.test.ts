import { describe, expect, it } from 'vitest';
import { pickZtunnels } from './live.ts';
import { fixture } from '../../test/helpers/fake-bin.ts';
import { connectionsBetween, parseAccessLog } from './accesslog.ts';
import { judgeCapture, parseTcpdump } from './capture.ts';
import {
  findWorkload,
  judgeCertificate,
  parseConfigDump,
  pemText,
  serialToDecimal,
  spiffeOf,
} from './configdump.ts';
import { parseIstioctlWorkloads } from './istioctl.ts';
import { deniedConnections, parseMetrics, select, sum } from './metrics.ts';

const dump = parseConfigDump(fixture('ztunnel/config_dump.json'));
const available = () => dump.certificates.find((c) => c.state === 'Available');

describe('config_dump', () => {
  it('reads workloads with protocol, node and identity parts', () => {
    const w = findWorkload(dump, 'mtls-01-y-d4e5f', 'a');
    expect(w).toMatchObject({
      protocol: 'HBONE',
      node: 'ambient-conformance-r1-worker2',
      serviceAccount: 'probe-y',
      workloadIps: ['10.244.2.9'],
      authorizationPolicies: ['istio-system/istio_converted_static_strict'],
    });
    expect(spiffeOf(w!)).toBe('spiffe://cluster.local/ns/mtls-01-y-d4e5f/sa/probe-y');
    expect(findWorkload(dump, 'mtls-01-z-g7h8i', 'a')?.protocol).toBe('TCP');
  });
  it('reads workloadState keyed by pod UID', () => {
    expect(dump.workloadState).toEqual([
      {
        uid: '3f1c0e2a-6b7d-4d2a-9f0e-1a2b3c4d5e6f',
        state: 'Up',
        name: 'client-a-k3j4h',
        namespace: 'mtls-01-x-a1b2c',
        serviceAccount: 'probe-x',
      },
    ]);
  });
  it('also reads the older map-keyed workloads', () => {
    const old = parseConfigDump(
      JSON.stringify({
        workloads: {
          '10.244.2.58': {
            name: 'sleep',
            namespace: 'default',
            protocol: 'HBONE',
            workloadIps: ['10.244.2.58'],
            serviceAccount: 'sleep',
          },
        },
      }),
    );
    expect(old.workloads[0]).toMatchObject({
      name: 'sleep',
      protocol: 'HBONE',
      trustDomain: 'cluster.local',
    });
  });
  it('reads certificates as ztunnel 1.28.3 dumps them: base64 of the PEM, decimal serial', () => {
    const raw = JSON.parse(fixture('ztunnel/config_dump.json')) as {
      certificates: { certChain: { pem: string; serialNumber: string }[] }[];
    };
    const wire = raw.certificates.find((c) => c.certChain.length > 0)?.certChain[0];
    expect(wire?.pem.startsWith('LS0tLS1CRUdJTi')).toBe(true);
    expect(wire?.serialNumber).toMatch(/^\d+$/);
    expect(available()?.chain[0]?.pem?.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
    expect(pemText('-----BEGIN CERTIFICATE-----\nX\n')).toBe('-----BEGIN CERTIFICATE-----\nX\n');
    expect(serialToDecimal('FF')).toBe('255');
  });
  it('judges certificates: Available, valid now, SAN names the identity', () => {
    const now = new Date(Date.parse(available()?.chain[0]?.validFrom ?? '') + 3600_000);
    expect(judgeCertificate(dump, 'spiffe://cluster.local/ns/netpol-x/sa/probe-x', now)).toEqual([]);
    const later = new Date(Date.parse(available()?.chain[0]?.expirationTime ?? '') + 1000);
    expect(judgeCertificate(dump, 'spiffe://cluster.local/ns/netpol-x/sa/probe-x', later)[0]).toMatch(
      /expired at/,
    );
    expect(judgeCertificate(dump, 'spiffe://cluster.local/ns/mtls-01-y-d4e5f/sa/probe-y', now)).toEqual([
      'spiffe://cluster.local/ns/mtls-01-y-d4e5f/sa/probe-y: state Initializing, expected Available',
      'spiffe://cluster.local/ns/mtls-01-y-d4e5f/sa/probe-y: empty certificate chain',
    ]);
    expect(judgeCertificate(dump, 'spiffe://cluster.local/ns/q/sa/none', now)[0]).toMatch(
      /^no certificate for/,
    );
  });
});

describe('access log', () => {
  const src = parseAccessLog(fixture('ztunnel/access-source.txt'));
  const dst = parseAccessLog(fixture('ztunnel/access-dest.txt'));
  it('reads text lines with quoted and unquoted fields, and skips other scopes', () => {
    expect(src).toHaveLength(3);
    expect(src[0]?.fields).toMatchObject({
      'src.identity': 'spiffe://cluster.local/ns/mtls-01-x-a1b2c/sa/probe-x',
      'dst.addr': '10.244.2.9:15008',
      direction: 'outbound',
      bytes_sent: '84',
    });
    expect(src[2]?.fields.error).toBe(
      'connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed',
    );
  });
  it('reads JSON lines', () => {
    expect(dst[2]).toMatchObject({
      level: 'error',
      message: 'connection complete',
      fields: {
        error:
          'connection closed due to policy rejection: explicitly denied by: istio-system/istio_converted_static_strict',
      },
    });
    expect(dst[2]?.fields['src.identity']).toBeUndefined();
  });
  it('finds the connections between two pods on either side', () => {
    expect(connectionsBetween(src, '10.244.1.7', '10.244.2.9').map((e) => e.fields.direction)).toEqual([
      'outbound',
    ]);
    expect(connectionsBetween(dst, '10.244.1.7', '10.244.2.12')[0]?.fields.error).toBe(
      'connection closed due to policy rejection: allow policies exist, but none allowed',
    );
  });
});

describe('metrics', () => {
  const samples = parseMetrics(fixture('ztunnel/metrics.txt'));
  it('parses counters with labels', () => {
    expect(select(samples, 'istio_build', { component: 'ztunnel' })[0]?.labels.tag).toBe('1.28.3');
    const mtls = select(samples, 'istio_tcp_connections_opened_total', {
      connection_security_policy: 'mutual_tls',
      source_principal: 'spiffe://cluster.local/ns/mtls-01-x-a1b2c/sa/probe-x',
      response_flags: '-',
    });
    // 3 allowed + 2 later denied: every connection is counted as opened with "-".
    expect(sum(mtls)).toBe(5);
    // ztunnel 1.28.3 opens every connection with "-": a denial shows only on the closed counter.
    expect(select(samples, 'istio_tcp_connections_opened_total', { response_flags: 'DENY' })).toEqual([]);
    expect(sum(deniedConnections(samples, 'authz-01-y-q1w2e'))).toBe(2);
    expect(sum(deniedConnections(samples, 'mtls-01-y-d4e5f'))).toBe(0);
    expect(select(samples, 'workload_manager_active_proxy_count', {})[0]?.value).toBe(4);
  });
});

describe('istioctl ztunnel-config workloads', () => {
  it('parses the tabwriter table by its header (POD NAME has a space)', () => {
    const rows = parseIstioctlWorkloads(fixture('ztunnel/istioctl-workloads.txt'));
    expect(rows[2]).toEqual({
      namespace: 'mtls-01-y-d4e5f',
      podName: 'a',
      address: '10.244.2.9',
      node: 'ambient-conformance-r1-worker2',
      waypoint: 'None',
      protocol: 'HBONE',
    });
    expect(rows.map((r) => r.protocol)).toEqual(['TCP', 'HBONE', 'HBONE', 'TCP']);
  });
  it('refuses the stale docs header', () => {
    expect(() => parseIstioctlWorkloads('NAMESPACE POD NAME IP NODE WAYPOINT PROTOCOL\n')).toThrow(
      /unexpected istioctl header/,
    );
  });
});

describe('wire capture (real tcpdump 4.99 output)', () => {
  it('sees the marker in clear on a plaintext pair', () => {
    const v = judgeCapture(
      parseTcpdump(fixture('tcpdump/plaintext-marker.txt')),
      '127.0.0.1',
      '127.0.0.2',
      'AC-MARKER-7f3a9c',
    );
    expect(v).toEqual({ serverPorts: [18080], markerSeen: true, packets: 10 });
  });
  it('sees only 15008 and no marker when the pair talks TLS', () => {
    const v = judgeCapture(
      parseTcpdump(fixture('tcpdump/tls-15008.txt')),
      '127.0.0.1',
      '127.0.0.2',
      'AC-MARKER-7f3a9c',
    );
    expect(v.serverPorts).toEqual([15008]);
    expect(v.markerSeen).toBe(false);
    expect(v.packets).toBeGreaterThan(5);
  });
});

describe('the ztunnel of each node', () => {
  const pod = (
    name: string,
    node: string,
    created: string,
    opts: { terminating?: boolean; ready?: boolean } = {},
  ) => ({
    metadata: {
      name,
      creationTimestamp: new Date(created),
      ...(opts.terminating ? { deletionTimestamp: new Date('2026-11-29T10:05:00Z') } : {}),
    },
    spec: { nodeName: node, containers: [] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  });
  it('skips a terminating or unready ztunnel during a rollout', () => {
    const picked = pickZtunnels([
      pod('ztunnel-new', 'w1', '2026-11-29T10:04:00Z'),
      pod('ztunnel-old', 'w1', '2026-11-28T10:00:00Z', { terminating: true }),
      pod('ztunnel-w2-starting', 'w2', '2026-11-29T10:04:30Z', { ready: false }),
      pod('ztunnel-w2', 'w2', '2026-11-28T10:00:00Z'),
    ]);
    expect(Object.fromEntries(picked)).toEqual({ w1: 'ztunnel-new', w2: 'ztunnel-w2' });
  });
});
