import net from 'node:net';
import { PassThrough } from 'node:stream';
import { PortForward } from '@kubernetes/client-node';
import { asInterrupted, errorText, throwIfInterrupted } from '../errors.ts';
import type { KubeClients } from './client.ts';

/**
 * HTTP GET to a pod port through the API server's port-forward. ztunnel's admin port 15000 binds
 * to localhost only, so neither the pod IP nor the API server's pod proxy reach it; a
 * port-forward does (that is what istioctl ztunnel-config does). `kube.signal` cancels it.
 */
export async function getViaPortForward(
  kube: KubeClients,
  namespace: string,
  pod: string,
  port: number,
  urlPath: string,
  timeoutMs: number,
): Promise<string> {
  throwIfInterrupted(kube.signal, `port-forward to ${namespace}/${pod}:${port}`);
  const forward = new PortForward(kube.kc, true);
  const sockets = new Set<net.Socket>();
  // The error channel carries what went wrong inside the pod (e.g. "connect: connection
  // refused"); its first 2 bytes (the port) are stripped by client-node. Read it, and stop the
  // request with that message instead of waiting for the timeout.
  const failed = new AbortController();
  let podError = '';
  // Why the API server refused the port-forward itself, when it did.
  let forwardError = '';
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const errors = new PassThrough();
    errors.on('data', (chunk: Buffer) => {
      podError += chunk.toString('utf8');
      if (podError.trim() !== '') {
        failed.abort(new Error(podError.trim()));
        socket.destroy();
      }
    });
    forward
      .portForward(namespace, pod, [port], socket, errors, socket)
      .then((ws) => {
        // Close the WebSocket with the local connection (isomorphic-ws ships no types here),
        // also when the local connection closed before the WebSocket was open.
        const close = () => (ws as unknown as { close(): void }).close();
        if (socket.destroyed || socket.closed) close();
        else socket.once('close', close);
      })
      .catch((e: unknown) => {
        // The API server refused the forward (no such pod, not running, forbidden): stop the
        // request with that text; fetch alone would only say "fetch failed". Without a listener
        // the destroy would also surface as an uncaught 'error' event.
        forwardError ||= errorText(e);
        failed.abort(new Error(forwardError));
        socket.once('error', () => undefined);
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const what = `GET ${urlPath} on ${namespace}/${pod}:${port} through a port-forward`;
  try {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('port-forward: no local port');
    const signal = AbortSignal.any([
      AbortSignal.timeout(timeoutMs),
      failed.signal,
      ...(kube.signal ? [kube.signal] : []),
    ]);
    let res: Response;
    let body: string;
    try {
      res = await fetch(`http://127.0.0.1:${address.port}${urlPath}`, { signal });
      body = await res.text();
    } catch (e) {
      if (kube.signal?.aborted) throw asInterrupted(kube.signal, what);
      if (podError.trim() !== '') throw new Error(`${what}: the pod refused: ${podError.trim()}`);
      if (forwardError !== '')
        throw new Error(`${what}: the API server refused the port-forward: ${forwardError}`);
      if (signal.aborted && !failed.signal.aborted)
        throw new Error(`${what}: no answer within ${Math.round(timeoutMs / 1000)}s`);
      throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok) throw new Error(`${what}: HTTP ${res.status}`);
    return body;
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
