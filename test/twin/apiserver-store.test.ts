import { afterEach, describe, expect, it } from 'vitest';
import type { ApiError } from './apiserver.ts';
import { TwinStore, type KubeObject, type StoreEvent } from './apiserver.ts';

/** The store as in-process controllers use it: typed helpers, change listeners, background work. */

let store: TwinStore;
afterEach(() => store.close());

function fresh(): TwinStore {
  store = new TwinStore({ namespaceDeletionDelayMs: 10, gcDelayMs: 1 });
  store.create('namespaces', { metadata: { name: 'ns' } });
  return store;
}

interface Deployment extends KubeObject {
  spec: { replicas?: number };
  status?: { readyReplicas?: number };
}

describe('TwinStore', () => {
  it('creates, reads, lists, mutates and deletes, telling listeners in commit order', () => {
    fresh();
    const seen: string[] = [];
    const stop = store.watch(
      (e: StoreEvent) => {
        seen.push(`${e.type} ${e.object.metadata.name} ${e.resourceVersion}`);
        // A controller reacting to a Deployment by writing a ReplicaSet: delivered after this event.
        if (e.type === 'ADDED')
          store.create('replicasets', {
            metadata: { name: `${e.object.metadata.name}-rs`, namespace: 'ns' },
            spec: {},
          });
      },
      { resource: 'deployments.apps' },
    );
    const d = store.create<Deployment>('deployments', {
      metadata: { name: 'web', namespace: 'ns' },
      spec: {},
    });
    expect(d.spec.replicas).toBe(1);
    expect(store.get('replicasets', { namespace: 'ns', name: 'web-rs' })).toBeDefined();
    const updated = store.mutate<Deployment>('deployments', { namespace: 'ns', name: 'web' }, (x) => {
      x.status = { readyReplicas: 1 };
    });
    expect(updated.status?.readyReplicas).toBe(1); // an in-process write may set status
    expect(updated.metadata.generation).toBe(1);
    expect(store.list<Deployment>('Deployment', { namespace: 'ns' }).map((x) => x.metadata.name)).toEqual([
      'web',
    ]);
    const { deleted } = store.delete('deployments', { namespace: 'ns', name: 'web' });
    expect(deleted).toBe(true);
    stop();
    expect(seen.map((s) => s.replace(/ \d+$/, ''))).toEqual(['ADDED web', 'MODIFIED web', 'DELETED web']);
    const rvs = seen.map((s) => Number(s.split(' ')[2]));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
  });

  it('throws the API’s errors: 404, 409, 403 on a Terminating namespace', async () => {
    fresh();
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as ApiError;
      }
      throw new Error('no error');
    };
    expect(err(() => store.mustGet('pods', { namespace: 'ns', name: 'x' })).status.message).toBe(
      'pods "x" not found',
    );
    store.create('configmaps', { metadata: { name: 'c', namespace: 'ns' } });
    expect(err(() => store.create('configmaps', { metadata: { name: 'c', namespace: 'ns' } })).code).toBe(
      409,
    );
    store.delete('namespaces', { name: 'ns' });
    const e = err(() => store.create('configmaps', { metadata: { generateName: 'g-', namespace: 'ns' } }));
    expect(e.code).toBe(403);
    expect(e.status.message).toBe(
      'configmaps "g-" is forbidden: unable to create new content in namespace ns because it is being terminated',
    );
    await store.idle();
    expect(store.get('namespaces', { name: 'ns' })).toBeUndefined();
    expect(store.list('configmaps', { namespace: 'ns' })).toEqual([]);
  });

  it('dry runs change nothing', () => {
    fresh();
    const rv = store.resourceVersion;
    const c = store.create('configmaps', { metadata: { name: 'c', namespace: 'ns' } }, { dryRun: true });
    expect(c.metadata.uid).toBeTruthy();
    expect(store.get('configmaps', { namespace: 'ns', name: 'c' })).toBeUndefined();
    expect(store.resourceVersion).toBe(rv);
  });

  it('deletes in the foreground: dependents first, then the owner', async () => {
    fresh();
    const owner = store.create('deployments', { metadata: { name: 'o', namespace: 'ns' }, spec: {} });
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'o', uid: owner.metadata.uid ?? '' };
    store.create('replicasets', {
      metadata: { name: 'r', namespace: 'ns', ownerReferences: [ref] },
      spec: {},
    });
    const { object, deleted } = store.delete(
      'deployments',
      { namespace: 'ns', name: 'o' },
      {
        propagationPolicy: 'Foreground',
      },
    );
    expect(deleted).toBe(false);
    expect(object.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(object.metadata.deletionTimestamp).toBeTruthy();
    await store.idle();
    expect(store.get('replicasets', { namespace: 'ns', name: 'r' })).toBeUndefined();
    expect(store.get('deployments', { namespace: 'ns', name: 'o' })).toBeUndefined();
  });

  it('collects an object whose owner never existed, as the garbage collector does', async () => {
    fresh();
    store.create('configmaps', {
      metadata: {
        name: 'orphan',
        namespace: 'ns',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: 'no-such-uid' }],
      },
    });
    await store.idle();
    expect(store.get('configmaps', { namespace: 'ns', name: 'orphan' })).toBeUndefined();
  });

  it('resumes from a resourceVersion, or says 410 Expired once the history is gone', () => {
    store = new TwinStore({ historyLimit: 3 });
    store.create('namespaces', { metadata: { name: 'a' } });
    const rv = Number(store.resourceVersion);
    store.create('configmaps', { metadata: { name: 'x', namespace: 'a' } });
    expect(store.eventsSince(rv).map((e) => e.object.metadata.name)).toEqual(['x']);
    for (const n of ['b', 'c', 'd', 'e'])
      store.create('configmaps', { metadata: { name: n, namespace: 'a' } });
    expect(() => store.eventsSince(rv)).toThrow(/too old resource version/);
  });
});
