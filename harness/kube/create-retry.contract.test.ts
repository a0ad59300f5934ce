import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor } from '../../test/helpers/fake-apiserver.ts';
import { createWithRetry, makeClients, statusOf } from './client.ts';

/**
 * A create whose first attempt commits but whose answer is lost (the connection drops): the
 * retried attempt meets 409 AlreadyExists, which is the run's own object. Real client-node over
 * HTTP against a loopback server that does exactly that.
 */
let server: http.Server;
let url = '';
const posts: string[] = [];
const existing = new Set<string>(['taken']);
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const name = (JSON.parse(body || '{}') as { metadata?: { name?: string } }).metadata?.name ?? '';
      posts.push(name);
      if (existing.has(name)) {
        res.writeHead(409, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'AlreadyExists',
            code: 409,
            message: `namespaces "${name}" already exists`,
          }),
        );
        return;
      }
      existing.add(name); // committed
      req.socket.destroy(); // … and the answer is lost
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function clients() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kc-'));
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(file, kubeconfigFor(url, 'c'), { mode: 0o600 });
  return makeClients(file, 'c');
}

describe('createWithRetry', () => {
  it('treats 409 on a retried attempt as its own committed create', async () => {
    const kube = clients();
    await expect(
      createWithRetry('create namespace mine', () =>
        kube.core.createNamespace({ body: { metadata: { name: 'mine' } } }),
      ),
    ).resolves.toBeUndefined();
    expect(posts.filter((p) => p === 'mine')).toHaveLength(2);
  }, 20_000);

  it('a 409 on the first attempt is someone else’s object and fails', async () => {
    const kube = clients();
    const e = await createWithRetry('create namespace taken', () =>
      kube.core.createNamespace({ body: { metadata: { name: 'taken' } } }),
    ).catch((x: unknown) => x);
    expect(statusOf(e)).toBe(409);
  });
});
