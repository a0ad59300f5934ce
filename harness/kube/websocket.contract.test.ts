import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor } from '../../test/helpers/fake-apiserver.ts';
import { attachWebSocketApi, type WsApi } from '../../test/helpers/fake-ws.ts';
import { InterruptedError } from '../errors.ts';
import { pollUntil } from '../wait.ts';
import { makeClients } from './client.ts';
import { execInPod } from './exec.ts';
import { getViaPortForward } from './portforward.ts';

/**
 * Exec and port-forward through the real client-node 2.x WebSocket code against a loopback server
 * speaking the v5/v4.channel.k8s.io protocols (test/helpers/fake-ws.ts).
 */
// Illustrative kubelet text for a refused in-pod connect (what the container runtime reports;
// kubectl adds its own "an error occurred forwarding" prefix on the client side, which this is not).
const REFUSED =
  'error forwarding port 15000 to pod 0123, uid : failed to execute portforward in network namespace "/var/run/netns/cni-1": failed to connect to localhost:15000 inside namespace "0123", IPv4: dial tcp4 127.0.0.1:15000: connect: connection refused';

let server: http.Server;
let ws: WsApi;
let kubeconfig = '';
beforeAll(async () => {
  server = http.createServer((_req, res) => res.writeHead(404).end());
  ws = attachWebSocketApi(server, {
    exec: ({ command }) =>
      command.includes('hang')
        ? { hang: true }
        : command.includes('fail')
          ? { stderr: 'curl: (56) Recv failure', exitCode: 56 }
          : { stdout: 'hello' },
    portForward: ({ pod, port }) =>
      pod === 'no-admin'
        ? { error: REFUSED }
        : { http: (req) => ({ status: 200, body: `port ${port} ${req.split(' ')[1] ?? ''}` }) },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    kubeconfigFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'c'),
    {
      mode: 0o600,
    },
  );
});
afterAll(() => {
  ws.close();
  return new Promise<void>((r) => server.close(() => r()));
});

describe('exec over WebSocket', () => {
  it('returns stdout and exit codes from the status channel', async () => {
    const kube = makeClients(kubeconfig, 'c');
    expect(await execInPod(kube, 'ns', 'p', 'c', ['sh', '-c', 'echo'], 5000)).toMatchObject({
      stdout: 'hello',
      exitCode: 0,
    });
    expect(await execInPod(kube, 'ns', 'p', 'c', ['fail'], 5000)).toMatchObject({
      stderr: 'curl: (56) Recv failure',
      exitCode: 56,
    });
  });

  it('closes the WebSocket when the exec times out, so no remote shell is left running', async () => {
    const kube = makeClients(kubeconfig, 'c');
    await expect(execInPod(kube, 'ns', 'p', 'c', ['hang'], 300)).rejects.toThrow(/timed out/);
    await pollUntil({
      what: 'the server to see the exec WebSocket closed',
      timeoutMs: 3000,
      intervalMs: 50,
      read: () => Promise.resolve(ws.open.exec.size),
      judge: (n) => ({ done: n === 0, seen: `${n} open` }),
    });
  });
});

describe('cancellation (the run’s Ctrl-C or a test’s budget, through kube.signal)', () => {
  it('an exec in flight is stopped at once: the WebSocket is closed and the call rejects with the interruption', async () => {
    const ctl = new AbortController();
    const kube = makeClients(kubeconfig, 'c', { signal: ctl.signal });
    const pending = execInPod(kube, 'ns', 'p', 'c', ['hang'], 60_000);
    await pollUntil({
      what: 'the exec WebSocket to be open',
      timeoutMs: 3000,
      intervalMs: 20,
      read: () => Promise.resolve(ws.open.exec.size),
      judge: (n) => ({ done: n > 0, seen: `${n} open` }),
    });
    ctl.abort(new InterruptedError('interrupted by SIGINT during tests', 'SIGINT'));
    await expect(pending).rejects.toThrow('interrupted by SIGINT during tests');
    await pollUntil({
      what: 'the server to see the exec WebSocket closed',
      timeoutMs: 3000,
      intervalMs: 50,
      read: () => Promise.resolve(ws.open.exec.size),
      judge: (n) => ({ done: n === 0, seen: `${n} open` }),
    });
  });

  it('an aborted signal starts no exec and no port-forward', async () => {
    const kube = makeClients(kubeconfig, 'c', { signal: AbortSignal.abort(new InterruptedError('stop')) });
    await expect(execInPod(kube, 'ns', 'p', 'c', ['sh'], 5000)).rejects.toBeInstanceOf(InterruptedError);
    await expect(getViaPortForward(kube, 'istio-system', 'z', 15000, '/', 5000)).rejects.toBeInstanceOf(
      InterruptedError,
    );
  });
});

describe('port-forward over WebSocket', () => {
  it('GETs a pod port', async () => {
    const kube = makeClients(kubeconfig, 'c');
    expect(await getViaPortForward(kube, 'istio-system', 'ztunnel-a', 15000, '/config_dump', 5000)).toBe(
      'port 15000 /config_dump',
    );
  });

  it('a refused in-pod connect fails at once with the error channel’s message, not a timeout', async () => {
    const kube = makeClients(kubeconfig, 'c');
    const t0 = Date.now();
    const e = await getViaPortForward(kube, 'istio-system', 'no-admin', 15000, '/config_dump', 20_000).catch(
      (x: unknown) => x as Error,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain('the pod refused');
    expect((e as Error).message).toContain('connect: connection refused');
  });
});
