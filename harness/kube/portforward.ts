import net from 'node:net';
import { PassThrough } from 'node:stream';
import { PortForward } from '@kubernetes/client-node';
import type { KubeClients } from './client.ts';

/**
 * HTTP GET to a pod port through the API server's port-forward. ztunnel's admin port 15000 binds
 * to localhost only, so neither the pod IP nor the API server's pod proxy reach it; a
 * port-forward does (that is what istioctl ztunnel-config does).
 */
export async function getViaPortForward(
  kube: KubeClients,
  namespace: string,
  pod: string,
  port: number,
  urlPath: string,
  timeoutMs: number,
): Promise<string> {
  const forward = new PortForward(kube.kc, true);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const errors = new PassThrough();
    forward.portForward(namespace, pod, [port], socket, errors, socket).catch((e: unknown) => {
      socket.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  try {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('port-forward: no local port');
    const res = await fetch(`http://127.0.0.1:${address.port}${urlPath}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`GET ${urlPath} on ${namespace}/${pod}:${port}: HTTP ${res.status}`);
    return body;
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
