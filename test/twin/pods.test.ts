import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceContext } from '../../harness/conformance/define.ts';
import { makeClients, type KubeClients } from '../../harness/kube/client.ts';
import { execInPod } from '../../harness/kube/exec.ts';
import { getViaPortForward } from '../../harness/kube/portforward.ts';
import { buildProbeScript, parseProbeOutput } from '../../harness/probe/script.ts';
import { IPSET_LIST, parseRuleSections } from '../../harness/removal/node-state.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/timeouts.ts';
import { pollUntil } from '../../harness/wait.ts';
import { clientPod, dualPortServerPod } from '../../harness/workloads.ts';
import { judgeCapture } from '../../harness/ztunnel/capture.ts';
import { capturePod, startCapture } from '../../harness/ztunnel/capture-live.ts';
import { startTwinApiServer, type TwinApiServer } from './apiserver.ts';
import { startControllers, type Controllers } from './controllers.ts';
import { AMBIENT_REDIRECTION } from './dataplane.ts';
import { ISTIO_IPSETS, attachPodRuntime, runtimeProcesses, ztunnelPort, type PodRuntime } from './pods.ts';
import { Traffic, type ConnectionRecord } from './traffic.ts';

/**
 * The pod runtime through the harness's own exec, probe, capture, ipset and port-forward code,
 * against the twin's API server and controllers: a plain pair (client-a on kind-worker, server-b on
 * kind-worker2), an enrolled pair (client-m, server-m) and an enrolled server behind a NetworkPolicy
 * that drops HBONE (server-m2), a host-network capture pod on kind-worker2.
 */

let twin: TwinApiServer;
let ctl: Controllers;
let kube: KubeClients;
let runtime: PodRuntime;
const traffic = new Traffic();
const RUN = 'run-pods';
const ip: Record<string, string> = {};
const kubeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-pods-test-'));

const portForward = (pod: { metadata: { name?: string } }, port: number) =>
  pod.metadata.name === 'server-b' && port === 15000
    ? {
        http: (req: { method: string; path: string }) => ({
          status: 200,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: `admin ${req.method} ${req.path}`,
        }),
      }
    : undefined;

async function until<T>(what: string, read: () => T | Promise<T>, done: (v: T) => boolean, timeoutMs = 5000) {
  return pollUntil({
    what,
    timeoutMs,
    intervalMs: 10,
    read: async () => read(),
    judge: (v) => ({ done: done(v), seen: JSON.stringify(v)?.slice(0, 300) ?? 'undefined' }),
  });
}

const podOf = (namespace: string, name: string) => twin.store.get<V1Pod>('pods', { namespace, name });
const exec = (namespace: string, pod: string, command: string[], timeoutMs = 5000, container = 'client') =>
  execInPod(kube, namespace, pod, container, command, timeoutMs);

beforeAll(async () => {
  twin = await startTwinApiServer({ gcDelayMs: 5, namespaceDeletionDelayMs: 20 });
  ctl = startControllers(twin.store, {
    podStartDelayMs: 10,
    failingImages: { 'nope.example/missing:1': 'ImagePullBackOff' },
  });
  runtime = attachPodRuntime({ server: twin.server, store: twin.store, traffic, portForward });
  const kc = twin.kubeconfig(path.join(kubeDir, 'kubeconfig'));
  kube = makeClients(kc, 'twin', { userAgent: 'ambient-conformance (TWIN-PODS)' });

  // istio-cni's node agent, so that pods in the ambient namespace are enrolled.
  await kube.core.createNamespace({ body: { metadata: { name: 'istio-system' } } });
  const cni = { 'k8s-app': 'istio-cni-node' };
  await kube.apps.createNamespacedDaemonSet({
    namespace: 'istio-system',
    body: {
      metadata: { name: 'istio-cni-node', labels: cni },
      spec: {
        selector: { matchLabels: cni },
        template: {
          metadata: { labels: cni },
          spec: {
            hostNetwork: true,
            tolerations: [{ operator: 'Exists' }],
            containers: [{ name: 'install-cni', image: 'docker.io/istio/install-cni:1.28.3' }],
          },
        },
      },
    },
  });
  // ztunnel on every node: enrolled pods are served (the dataplane refuses them where none runs).
  const zt = { app: 'ztunnel' };
  await kube.apps.createNamespacedDaemonSet({
    namespace: 'istio-system',
    body: {
      metadata: { name: 'ztunnel', labels: zt },
      spec: {
        selector: { matchLabels: zt },
        template: {
          metadata: { labels: zt },
          spec: {
            tolerations: [{ operator: 'Exists' }],
            containers: [{ name: 'istio-proxy', image: 'docker.io/istio/ztunnel:1.28.3' }],
          },
        },
      },
    },
  });
  await kube.core.createNamespace({ body: { metadata: { name: 'plain' } } });
  await kube.core.createNamespace({
    body: { metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
  });
  const pods: [string, V1Pod][] = [
    ['plain', clientPod({ name: 'client-a', namespace: 'plain', runId: RUN, nodeName: 'kind-worker' })],
    [
      'plain',
      dualPortServerPod({
        name: 'server-b',
        namespace: 'plain',
        runId: RUN,
        nodeName: 'kind-worker2',
        labels: { role: 'b' },
      }),
    ],
    ['plain', capturePod('capture', 'plain', 'kind-worker2', RUN)],
    ['mesh', clientPod({ name: 'client-m', namespace: 'mesh', runId: RUN, nodeName: 'kind-worker' })],
    [
      'mesh',
      dualPortServerPod({ name: 'server-m', namespace: 'mesh', runId: RUN, nodeName: 'kind-worker2' }),
    ],
    [
      'mesh',
      dualPortServerPod({
        name: 'server-m2',
        namespace: 'mesh',
        runId: RUN,
        nodeName: 'kind-worker2',
        labels: { role: 'm2' },
      }),
    ],
  ];
  for (const [namespace, body] of pods) await kube.core.createNamespacedPod({ namespace, body });
  // Ingress only to 80 and 82 of server-b (81 is dropped); only to 80 of server-m2, so HBONE (15008) is dropped.
  const onlyPorts = (name: string, role: string, ports: number[]) => ({
    metadata: { name },
    spec: {
      podSelector: { matchLabels: { role } },
      policyTypes: ['Ingress'],
      ingress: [{ ports: ports.map((port) => ({ port, protocol: 'TCP' })) }],
    },
  });
  await kube.networking.createNamespacedNetworkPolicy({
    namespace: 'plain',
    body: onlyPorts('b', 'b', [80, 82]),
  });
  await kube.networking.createNamespacedNetworkPolicy({
    namespace: 'mesh',
    body: onlyPorts('m2', 'm2', [80]),
  });
  for (const [namespace, body] of pods) {
    const name = body.metadata?.name ?? '';
    const p = await until(
      `${namespace}/${name} running`,
      () => podOf(namespace, name),
      (x) =>
        x?.status?.phase === 'Running' &&
        !!x.status.podIP &&
        (namespace !== 'mesh' || x.metadata?.annotations?.[AMBIENT_REDIRECTION] === 'enabled'),
    );
    ip[name] = p?.status?.podIP ?? '';
  }
});

afterAll(async () => {
  await runtime?.close();
  await ctl?.stop();
  await twin?.close();
  fs.rmSync(kubeDir, { recursive: true, force: true });
});

/** An upgrade request as client-node sends it, for the answers the harness does not surface (see below). */
function upgrade(pathAndQuery: string, protocols: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${twin.url}${pathAndQuery}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': protocols.join(', '),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const recordsTo = (dstIp: string, port: number) =>
  traffic.records().filter((r) => r.dst.ip === dstIp && r.dst.port === port);

describe('exec', () => {
  it('runs sh -c scripts and direct argv in the pod, with exit codes through the status channel', async () => {
    const sh = await exec('plain', 'client-a', ['sh', '-c', 'echo "$HOSTNAME"; echo oops >&2; exit 3']);
    expect(sh).toMatchObject({ stdout: 'client-a\n', stderr: 'oops\n', exitCode: 3 });
    expect(sh.status?.details?.causes).toEqual([{ reason: 'ExitCode', message: '3' }]);
    const ok = await exec('plain', 'client-a', ['echo', 'direct', 'argv']);
    expect(ok).toMatchObject({ stdout: 'direct argv\n', stderr: '', exitCode: 0 });
    expect(ok.status?.status).toBe('Success');
    // /tmp is the pod's own: another pod does not see the file.
    await exec('plain', 'client-a', ['sh', '-c', 'echo mine >/tmp/f']);
    expect((await exec('plain', 'client-a', ['sh', '-c', 'cat /tmp/f'])).stdout).toBe('mine\n');
    const other = await exec('mesh', 'client-m', ['sh', '-c', 'cat /tmp/f']);
    expect(other.exitCode).toBe(1);
    expect(
      fs.readFileSync(path.join(runtime.sandboxDir('plain', 'client-a') ?? '', 'tmp', 'f'), 'utf8'),
    ).toBe('mine\n');
  });

  it('answers as the API server and kubelet for a missing pod, a wrong container, a pod not running, a missing binary', async () => {
    // The harness sees these as rejected execs, with ws's text for the refused upgrade.
    await expect(exec('plain', 'nope', ['true'])).rejects.toThrow(
      'exec in plain/nope: true…: Unexpected server response: 404',
    );
    await expect(exec('plain', 'client-a', ['true'], 5000, 'sidecar')).rejects.toThrow(
      'Unexpected server response: 400',
    );
    await expect(getViaPortForward(kube, 'plain', 'nope', 15000, '/config_dump', 5000)).rejects.toThrow(
      'GET /config_dump on plain/nope:15000 through a port-forward: the API server refused the port-forward: Unexpected server response: 404',
    );
    const v5 = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
    const missing404 = await upgrade('/api/v1/namespaces/plain/pods/nope/exec?command=true&stdout=true', v5);
    expect(missing404.status).toBe(404);
    expect(JSON.parse(missing404.body)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'NotFound',
      message: 'pods "nope" not found',
      details: { name: 'nope', kind: 'pods' },
      code: 404,
    });
    const wrong = await upgrade(
      '/api/v1/namespaces/plain/pods/client-a/exec?command=true&container=sidecar',
      v5,
    );
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body)).toMatchObject({
      reason: 'BadRequest',
      message: 'container sidecar is not valid for pod client-a',
      code: 400,
    });
    await kube.core.createNamespacedPod({
      namespace: 'plain',
      body: {
        metadata: { name: 'stuck' },
        spec: { nodeName: 'kind-worker', containers: [{ name: 'client', image: 'nope.example/missing:1' }] },
      },
    });
    await until(
      'stuck to have a node',
      () => podOf('plain', 'stuck'),
      (p) => !!p?.status?.hostIP,
    );
    // A v4-only client is proxied to the kubelet, which refuses before upgrading.
    expect(
      await upgrade('/api/v1/namespaces/plain/pods/stuck/exec?command=true', ['v4.channel.k8s.io']),
    ).toEqual({
      status: 500,
      body: 'container not found ("client")',
    });
    const stuck = await exec('plain', 'stuck', ['true']);
    expect(stuck.exitCode).toBe(1);
    expect(stuck.status).toMatchObject({
      status: 'Failure',
      reason: 'InternalError',
      message: 'Internal error occurred: unable to upgrade connection: container not found ("client")',
    });
    const missing = await exec('plain', 'client-a', ['no-such-tool']);
    expect(missing.exitCode).toBe(1);
    expect(missing.status?.message).toBe(
      'Internal error occurred: error executing command in container: exec: "no-such-tool": executable file not found in $PATH',
    );
  });

  it('kills the command when the client goes away, sparing what it started with nohup', async () => {
    await expect(
      exec(
        'plain',
        'client-a',
        [
          'sh',
          '-c',
          'echo $$ >/tmp/sh.pid; nohup sleep 31 >/dev/null 2>&1 </dev/null & echo $! >/tmp/kept.pid; sleep 32',
        ],
        400,
      ),
    ).rejects.toThrow(/timed out/);
    const tmp = path.join(runtime.sandboxDir('plain', 'client-a') ?? '', 'tmp');
    const shPid = Number(fs.readFileSync(path.join(tmp, 'sh.pid'), 'utf8'));
    const keptPid = Number(fs.readFileSync(path.join(tmp, 'kept.pid'), 'utf8'));
    const cmdline = (pid: number) =>
      fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    const live = () => runtimeProcesses(runtime.tag).map((pid) => [pid, cmdline(pid)] as const);
    await until('the shell and its foreground sleep to be gone', live, (ps) =>
      ps.every(([pid, cmd]) => pid !== shPid && cmd !== 'sleep 32'),
    );
    expect(live()).toContainEqual([keptPid, 'sleep 31']);
  });

  it('removes a deleted pod’s processes and directory', async () => {
    await kube.core.createNamespacedPod({
      namespace: 'plain',
      body: clientPod({ name: 'brief', namespace: 'plain', runId: RUN, nodeName: 'kind-worker' }),
    });
    await until(
      'brief running',
      () => podOf('plain', 'brief'),
      (p) => p?.status?.phase === 'Running',
    );
    await exec('plain', 'brief', ['sh', '-c', 'nohup sleep 33 >/dev/null 2>&1 </dev/null & echo $! >/tmp/p']);
    const dir = runtime.sandboxDir('plain', 'brief') ?? '';
    const pid = Number(fs.readFileSync(path.join(dir, 'tmp', 'p'), 'utf8'));
    expect(runtimeProcesses(runtime.tag)).toContain(pid);
    await kube.core.deleteNamespacedPod({ namespace: 'plain', name: 'brief' });
    await until(
      'its process and directory to be gone',
      () => [runtimeProcesses(runtime.tag).includes(pid), fs.existsSync(dir)],
      (v) => v.every((x) => !x),
    );
  });
});

describe('curl', () => {
  it('answers the harness’s probe matrix with simulated timings, in well under a second', async () => {
    const plainSpecs = [
      { id: 'b80', ip: ip['server-b'] ?? '', port: 80 },
      { id: 'b81', ip: ip['server-b'] ?? '', port: 81 },
      { id: 'b82', ip: ip['server-b'] ?? '', port: 82 },
    ];
    const meshSpecs = [
      { id: 'm80', ip: ip['server-m'] ?? '', port: 80 },
      { id: 'm2', ip: ip['server-m2'] ?? '', port: 80 },
    ];
    const t0 = performance.now();
    const plain = await exec('plain', 'client-a', ['sh', '-c', buildProbeScript(plainSpecs)]);
    const mesh = await exec('mesh', 'client-m', ['sh', '-c', buildProbeScript(meshSpecs)]);
    const wallMs = performance.now() - t0;
    expect(wallMs).toBeLessThan(1000);
    const [b80, b81, b82] = parseProbeOutput(plain.stdout, ['b80', 'b81', 'b82']);
    const [m80, m2] = parseProbeOutput(mesh.stdout, ['m80', 'm2']);
    expect(b80).toMatchObject({
      class: 'connected',
      exitCode: 0,
      httpCode: 200,
      answeredBy: 'server-b',
      clientIp: ip['client-a'],
    });
    expect(b81).toMatchObject({
      class: 'timeout',
      exitCode: 28,
      httpCode: 0,
      elapsedMs: expect.closeTo(5001, -1),
    });
    expect(b81?.detail).toContain(
      `curl: (28) Failed to connect to ${ip['server-b']} port 81 after 5001 ms: Timeout was reached`,
    );
    expect(b82).toMatchObject({ class: 'refused', exitCode: 7 });
    expect(b82?.detail).toContain(
      `curl: (7) Failed to connect to ${ip['server-b']} port 82 after 0 ms: Couldn't connect to server`,
    );
    expect(m80).toMatchObject({ class: 'connected', answeredBy: 'server-m', clientIp: ip['client-m'] });
    // ztunnel gave up on 15008 after 10 s and closed curl's connection.
    expect(m2).toMatchObject({ class: 'timeout', exitCode: 56 });
    expect(m2?.elapsedMs).toBeGreaterThanOrEqual(10_000);
    expect(m2?.detail).toContain('curl: (56) Recv failure: Connection reset by peer');
  });

  it('records each connection with its endpoints, the request and response text and byte counts', () => {
    const [b80] = recordsTo(ip['server-b'] ?? '', 80).filter((r) => r.src.pod?.name === 'client-a');
    const host = ip['server-b'];
    const request = (p: string) =>
      `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n`;
    expect(b80).toMatchObject({
      src: {
        ip: ip['client-a'],
        pod: {
          namespace: 'plain',
          name: 'client-a',
          node: 'kind-worker',
          serviceAccount: 'default',
          enrolled: false,
        },
      },
      dst: {
        ip: host,
        port: 80,
        pod: { namespace: 'plain', name: 'server-b', node: 'kind-worker2', enrolled: false },
      },
      decision: { outcome: 'connected', hbone: false },
      // Both URLs of the probe went over one connection, as curl reuses it.
      request: request('/hostname') + request('/clientip'),
    } satisfies Partial<Record<keyof ConnectionRecord, unknown>>);
    const rec = b80 as ConnectionRecord;
    expect(rec.src.port).toBeGreaterThanOrEqual(32768);
    expect(rec.end.getTime()).toBe(rec.start.getTime());
    expect(rec.response).toMatch(
      /^HTTP\/1\.1 200 OK\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\nContent-Length: 8\r\nContent-Type: text\/plain; charset=utf-8\r\n\r\nserver-bHTTP\/1\.1 200 OK\r\n/,
    );
    // /clientip answered with curl's own port: no ztunnel on this path.
    expect(rec.response?.endsWith(`\r\n\r\n${ip['client-a']}:${rec.src.port}`)).toBe(true);
    expect(rec.bytesSent).toBe(Buffer.byteLength(rec.request ?? ''));
    expect(rec.bytesReceived).toBe(Buffer.byteLength(rec.response ?? ''));

    const [dropped] = recordsTo(host ?? '', 81);
    expect(dropped).toMatchObject({
      decision: { outcome: 'timeout', curlExit: 28 },
      bytesSent: 0,
      bytesReceived: 0,
    });
    expect(dropped?.request).toBeUndefined();
    expect((dropped?.end.getTime() ?? 0) - (dropped?.start.getTime() ?? 0)).toBe(5000);

    const [m80] = recordsTo(ip['server-m'] ?? '', 80);
    expect(m80).toMatchObject({
      src: { pod: { enrolled: true } },
      dst: { pod: { enrolled: true } },
      decision: { hbone: true },
    });
    // The destination's ztunnel connected to the app with a port of its own.
    expect(m80?.response?.endsWith(`${ip['client-m']}:${ztunnelPort(m80.src.port, 'inbound')}`)).toBe(true);

    const [m2] = recordsTo(ip['server-m2'] ?? '', 80);
    expect(m2).toMatchObject({
      decision: { outcome: 'timeout', curlExit: 56, seconds: 10 },
      bytesReceived: 0,
    });
    expect(m2?.request).toContain('GET /hostname HTTP/1.1'); // accepted by the source's ztunnel, then reset
    expect(m2?.response).toBeUndefined();
  });

  it('runs MTLS-03’s direct curl, and refuses options as curl 7.88.1 does', async () => {
    const marker = 'AC-MARKER-0001';
    const r = await exec('plain', 'client-a', [
      'curl',
      '-sS',
      '--max-time',
      '12',
      `http://${ip['server-b']}:80/echo?msg=${marker}`,
    ]);
    expect(r).toMatchObject({ stdout: marker, stderr: '', exitCode: 0 });
    const bad = await exec('plain', 'client-a', ['curl', '-sS', '--bogus', 'http://x/']);
    expect(bad).toMatchObject({
      stdout: '',
      stderr:
        "curl: option --bogus: is unknown\ncurl: try 'curl --help' or 'curl --manual' for more information\n",
      exitCode: 2,
    });
    const dns = await exec('plain', 'client-a', ['curl', '-sS', 'http://server-b.plain/']);
    expect(dns).toMatchObject({ stderr: 'curl: (6) Could not resolve host: server-b.plain\n', exitCode: 6 });
  });
});

describe('tcpdump', () => {
  const ctx = () =>
    ({
      kube,
      timeouts: { ...DEFAULT_TIMEOUTS, exec: 5000, pollInterval: 20 },
      scope: { attach: () => undefined },
      signal: new AbortController().signal,
    }) as unknown as ConformanceContext;

  it('shows a plain pair’s marker in clear on the app port, started and stopped as capture-live.ts does', async () => {
    const [a, b] = [ip['client-a'] ?? '', ip['server-b'] ?? ''];
    const cap = await startCapture(ctx(), 'plain', 'capture', a, b);
    const err = fs.readFileSync(
      path.join(runtime.sandboxDir('plain', 'capture') ?? '', 'tmp', 'cap.err'),
      'utf8',
    );
    expect(err).toBe(
      'tcpdump: data link type LINUX_SLL2\ntcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n' +
        'listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes\n',
    );
    const marker = 'AC-MARKER-7f3a9c';
    await exec('plain', 'client-a', ['curl', '-sS', '--max-time', '12', `http://${b}:80/echo?msg=${marker}`]);
    const packets = await cap.stop();
    expect(judgeCapture(packets, a, b, marker)).toMatchObject({ serverPorts: [80], markerSeen: true });
    // On the server's node: eth0 In, then the server's veth Out, for every packet.
    expect(packets.length % 2).toBe(0);
    const stats = fs.readFileSync(
      path.join(runtime.sandboxDir('plain', 'capture') ?? '', 'tmp', 'cap.err'),
      'utf8',
    );
    expect(stats).toMatch(
      new RegExp(
        `\\n${packets.length} packets captured\\n${packets.length} packets received by filter\\n0 packets dropped by kernel\\n$`,
      ),
    );
  });

  it('shows an enrolled pair only on 15008, unreadable', async () => {
    const [a, b] = [ip['client-m'] ?? '', ip['server-m'] ?? ''];
    const cap = await startCapture(ctx(), 'plain', 'capture', a, b);
    const marker = 'AC-MARKER-mesh42';
    const r = await exec('mesh', 'client-m', [
      'curl',
      '-sS',
      '--max-time',
      '12',
      `http://${b}:80/echo?msg=${marker}`,
    ]);
    expect(r.stdout).toBe(marker);
    const packets = await cap.stop();
    const v = judgeCapture(packets, a, b, marker);
    expect(v).toMatchObject({ serverPorts: [15008], markerSeen: false });
    expect(v.packets).toBeGreaterThan(10);
  });
});

describe('ipset', () => {
  it('lists istio-cni’s sets on a node where it runs, none in a pod’s own netns', async () => {
    const host = await exec('plain', 'capture', ['sh', '-c', IPSET_LIST], 5000, 'tcpdump');
    expect(parseRuleSections(host.stdout)).toEqual([
      { reader: 'ipset', status: 'ok', content: `${ISTIO_IPSETS.join('\n')}\n\n` },
    ]);
    const own = await exec('plain', 'client-a', ['ipset', 'list', '-n']);
    expect(own).toMatchObject({ stdout: '', exitCode: 0 });
  });
});

describe('port-forward', () => {
  it('reaches what listens on the pod port, and carries the kubelet’s refusal otherwise', async () => {
    expect(await getViaPortForward(kube, 'plain', 'server-b', 15000, '/config_dump', 5000)).toBe(
      'admin GET /config_dump',
    );
    await expect(getViaPortForward(kube, 'plain', 'server-b', 15001, '/config_dump', 5000)).rejects.toThrow(
      /the pod refused: error forwarding port 15001 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace "\/var\/run\/netns\/cni-[0-9a-f-]{36}": failed to connect to localhost:15001 inside namespace "[0-9a-f]{64}", IPv4: dial tcp4 127\.0\.0\.1:15001: connect: connection refused IPv6 dial tcp6 \[::1\]:15001: connect: connection refused$/,
    );
    await expect(getViaPortForward(kube, 'plain', 'nope', 15000, '/', 3000)).rejects.toThrow(
      /the API server refused the port-forward: Unexpected server response: 404/,
    );
    const missing = await upgrade('/api/v1/namespaces/plain/pods/nope/portforward?ports=15000', [
      'v4.channel.k8s.io',
    ]);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ reason: 'NotFound', message: 'pods "nope" not found' });
  });
});

describe('close', () => {
  it('kills every process the runtime started and removes the pod directories', async () => {
    await exec('plain', 'client-a', ['sh', '-c', 'nohup sleep 34 >/dev/null 2>&1 </dev/null &']);
    expect(runtimeProcesses(runtime.tag).length).toBeGreaterThan(0);
    await runtime.close();
    expect(runtimeProcesses(runtime.tag)).toEqual([]);
    expect(fs.existsSync(runtime.scratchRoot)).toBe(false);
  });
});
