import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../../test/helpers/fake-apiserver.ts';
import { createNetworkPolicy, readState } from '../netpol/matrix-case.ts';
import { fromNamespace, policy, tcp } from '../netpol/policies.ts';
import { InterruptedError } from '../errors.ts';
import { isTransient, makeClients, userAgentFor } from './client.ts';
import { toTyped, toWire } from './wire.ts';

/**
 * client-node's typed NetworkPolicy rule calls `from` `_from`. A wire-JSON policy handed to it
 * as is would go out without `from` (an ingress rule that allows every source) and come back
 * with `_from` (a model that sees "all peers"). Both directions are pinned here.
 */
let api: FakeApiServer;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

const np = policy('y', 'from-x', 'r1', {
  podSelector: {},
  policyTypes: ['Ingress'],
  ingress: [{ from: [fromNamespace('x')], ports: tcp(15008, 80) }],
});

describe('API clients', () => {
  it('name the test in their User-Agent', async () => {
    const kc = path.join(mkdtempSync(path.join(os.tmpdir(), 'kc-')), 'kubeconfig');
    writeFileSync(kc, kubeconfigFor(api.url, 'fake'));
    await makeClients(kc, 'fake', userAgentFor('NETPOL-02')).version.getCode();
    expect(api.agents.at(-1)).toBe('ambient-conformance (NETPOL-02)');
  });
});

describe('every request is bounded and cancellable', () => {
  it('a request the server never answers fails after requestTimeoutMs (a TimeoutError, which withRetry retries)', async () => {
    const hung = await startFakeApiServer({ hang: /^\/version$/ });
    try {
      const kc = path.join(mkdtempSync(path.join(os.tmpdir(), 'kc-')), 'kubeconfig');
      writeFileSync(kc, kubeconfigFor(hung.url, 'fake'));
      const t0 = Date.now();
      const e = await makeClients(kc, 'fake', { requestTimeoutMs: 300 })
        .version.getCode()
        .catch((x: unknown) => x);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect((e as { name?: string }).name).toBe('TimeoutError');
      expect(isTransient(e)).toBe(true);
    } finally {
      await hung.close();
    }
  });

  it('the clients’ signal aborts a request in flight with its reason, which is never retried', async () => {
    const hung = await startFakeApiServer({ hang: /^\/version$/ });
    try {
      const kc = path.join(mkdtempSync(path.join(os.tmpdir(), 'kc-')), 'kubeconfig');
      writeFileSync(kc, kubeconfigFor(hung.url, 'fake'));
      const ctl = new AbortController();
      const pending = makeClients(kc, 'fake', { signal: ctl.signal }).version.getCode();
      setTimeout(
        () => ctl.abort(new InterruptedError('interrupted by SIGTERM during cluster', 'SIGTERM')),
        100,
      );
      const e = await pending.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InterruptedError);
      expect(isTransient(e)).toBe(false);
    } finally {
      await hung.close();
    }
  });
});

describe('wire JSON and the client’s typed models', () => {
  it('round-trips `from` through `_from`', () => {
    const typed = toTyped<{ spec: { ingress: Record<string, unknown>[] } }>(np);
    expect(Object.keys(typed.spec.ingress[0] ?? {})).toContain('_from');
    expect(toWire(typed, 'networking.k8s.io/v1', 'NetworkPolicy')).toMatchObject({
      spec: { ingress: [{ from: [fromNamespace('x')] }] },
    });
  });

  it('leaves Istio custom objects (no typed model) as they are', () => {
    const ap = toWire(
      {
        metadata: { name: 'a', namespace: 'y' },
        spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['p'] } }] }] },
      },
      'security.istio.io/v1',
      'AuthorizationPolicy',
    );
    expect(ap.spec).toEqual({ action: 'ALLOW', rules: [{ from: [{ source: { principals: ['p'] } }] }] });
  });

  it('sends `from` on the wire and reads it back into the model', async () => {
    const kc = path.join(mkdtempSync(path.join(os.tmpdir(), 'kc-')), 'kubeconfig');
    writeFileSync(kc, kubeconfigFor(api.url, 'fake'));
    const kube = makeClients(kc, 'fake');
    api.namespaces.set('y', { metadata: { name: 'y', labels: {} } });
    await createNetworkPolicy(kube, np);
    const sent = api.bodies.get('/apis/networking.k8s.io/v1/namespaces/y/networkpolicies')?.[0] as {
      spec: { ingress: Record<string, unknown>[] };
    };
    expect(sent.spec.ingress[0]).toEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }],
      ports: [
        { port: 15008, protocol: 'TCP' },
        { port: 80, protocol: 'TCP' },
      ],
    });
    const state = await readState(kube, ['y'], 'istio-system');
    expect(state.networkPolicies[0]?.ingress[0]?.peers).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } },
    ]);
  });
});
