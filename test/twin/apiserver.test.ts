import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ApisApi,
  ApiException,
  PatchStrategy,
  setHeaderMiddleware,
  setHeaderOptions,
  Watch,
  type ConfigurationOptions,
  type RequestContext,
  type V1ConfigMap,
  type V1Deployment,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podMetrics } from '../../harness/budget/collect.ts';
import { makeClients, statusOf, type KubeClients } from '../../harness/kube/client.ts';
import { deleteMarker, listMarkers, markerLease, MarkerHandle } from '../../harness/kube/marker.ts';
import { deleteNamespaceAndWait, ensureNamespace, serverVersion } from '../../harness/kube/ops.ts';
import { toTyped } from '../../harness/kube/wire.ts';
import { AUTHZ_CASES, peerAuthentication } from '../../harness/netpol/istio-policies.ts';
import {
  denyAll,
  documentedPolicies,
  KUBELET_PROBE_SNAT_V4,
  policy,
  tcp,
} from '../../harness/netpol/policies.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/timeouts.ts';
import { clientPod, dualPortServerPod, pauseDeployment, probeServerPod } from '../../harness/workloads.ts';
import { capturePod } from '../../harness/ztunnel/capture-live.ts';
import { startTwinApiServer, type TwinApiServer } from './apiserver.ts';

/**
 * The twin API server through the real @kubernetes/client-node, built by the project's own
 * makeClients from a kubeconfig the twin writes: what client-node sends and what it makes of the
 * answers is what the harness will see.
 */

let twin: TwinApiServer;
let kube: KubeClients;
let kubeconfig = '';
const timeouts = { ...DEFAULT_TIMEOUTS, pollInterval: 20, namespaceDelete: 5_000 };

beforeAll(async () => {
  twin = await startTwinApiServer({ namespaceDeletionDelayMs: 150, gcDelayMs: 10 });
  kubeconfig = twin.kubeconfig(path.join(mkdtempSync(path.join(os.tmpdir(), 'twin-')), 'kubeconfig'));
  kube = makeClients(kubeconfig, 'twin', { userAgent: 'ambient-conformance (TWIN-01)' });
});
afterAll(() => twin.close());

/** The Status a failed call carried, as client-node surfaces it (ApiException.body is the raw JSON). */
async function failure(p: Promise<unknown>): Promise<{ code: number | undefined; status: any }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'the call should have failed').toBeInstanceOf(ApiException);
  const body = (e as ApiException<unknown>).body;
  return { code: statusOf(e), status: typeof body === 'string' ? JSON.parse(body) : body };
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

async function namespace(name: string, labels: Record<string, string> = {}) {
  await kube.core.createNamespace({ body: { metadata: { name, labels } } });
}

describe('discovery and version', () => {
  it('answers /version as VersionApi.getCode and the harness read it', async () => {
    expect((await kube.version.getCode()).gitVersion).toBe('v1.34.0');
    expect(await serverVersion(kube)).toBe('v1.34.0');
    expect((await kube.version.getCode()).minor).toBe('34');
  });

  it('lists groups, versions and resources with kinds, scopes, verbs and subresources', async () => {
    const groups = await kube.kc.makeApiClient(ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    for (const g of [
      'apps',
      'networking.k8s.io',
      'rbac.authorization.k8s.io',
      'admissionregistration.k8s.io',
      'apiextensions.k8s.io',
      'coordination.k8s.io',
      'apiregistration.k8s.io',
      'metrics.k8s.io',
      'security.istio.io',
    ])
      expect(names).toContain(g);
    const istio = groups.groups.find((g) => g.name === 'security.istio.io');
    expect(istio?.preferredVersion?.version).toBe('v1');
    expect(istio?.versions.map((v) => v.version)).toEqual(['v1', 'v1beta1']);

    const core = await kube.core.getAPIResources();
    const pods = core.resources.find((r) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'] });
    expect(pods?.verbs).toEqual(
      expect.arrayContaining(['create', 'get', 'list', 'watch', 'patch', 'delete']),
    );
    expect(core.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['pods/status', 'pods/log']));
    expect(core.resources.find((r) => r.name === 'namespaces')?.namespaced).toBe(false);

    const apps = await kube.apps.getAPIResources();
    expect(apps.resources.find((r) => r.name === 'deployments/scale')).toMatchObject({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
    const pa = await kube.custom.getAPIResources({ group: 'security.istio.io', version: 'v1' });
    expect(pa.resources.find((r) => r.name === 'peerauthentications')).toMatchObject({
      kind: 'PeerAuthentication',
      namespaced: true,
      shortNames: ['pa'],
    });
    const metrics = await kube.custom.getAPIResources({ group: 'metrics.k8s.io', version: 'v1beta1' });
    expect(metrics.resources.find((r) => r.name === 'pods')?.verbs).toEqual(['get', 'list']);
  });

  it('starts like a new cluster and writes a private kubeconfig', async () => {
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const nss = (await kube.core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(nss).toEqual(expect.arrayContaining(['default', 'kube-system', 'kube-public', 'kube-node-lease']));
    const sa = await kube.core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' });
    expect(sa.metadata?.uid).toBeTruthy();
    const svc = await kube.core.readNamespacedService({ namespace: 'default', name: 'kubernetes' });
    expect(svc.spec?.clusterIP).toBe('10.96.0.1');
  });
});

describe('create, read, list', () => {
  beforeAll(() => namespace('crud'));

  it('fills metadata: uid, resourceVersion, creationTimestamp, generation, generateName, namespace', async () => {
    const before = Number(
      (await kube.core.listNamespacedConfigMap({ namespace: 'crud' })).metadata?.resourceVersion,
    );
    const cm = await kube.core.createNamespacedConfigMap({
      namespace: 'crud',
      body: { metadata: { generateName: 'cm-' }, data: { a: '1' } },
    });
    expect(cm.metadata?.name).toMatch(/^cm-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(cm.metadata?.namespace).toBe('crud');
    expect(cm.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(cm.metadata?.resourceVersion)).toBeGreaterThan(before);
    expect(cm.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(cm.metadata?.generation).toBeUndefined();
    const raw = twin.store.get('configmaps', { namespace: 'crud', name: cm.metadata?.name ?? '' });
    expect(raw?.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const d = await kube.apps.createNamespacedDeployment({ namespace: 'crud', body: deployment('web') });
    expect(d.metadata?.generation).toBe(1);
    expect(d.spec?.replicas).toBe(1);
    const read = await kube.apps.readNamespacedDeployment({ namespace: 'crud', name: 'web' });
    expect(read.metadata?.uid).toBe(d.metadata?.uid);
    const replaced = await kube.apps.replaceNamespacedDeployment({
      namespace: 'crud',
      name: 'web',
      body: { ...read, spec: { ...read.spec!, replicas: 3 } },
    });
    expect(replaced.metadata?.generation).toBe(2);
    const relabelled = await kube.apps.replaceNamespacedDeployment({
      namespace: 'crud',
      name: 'web',
      body: { ...replaced, metadata: { ...replaced.metadata, labels: { tier: 'front' } } },
    });
    expect(relabelled.metadata?.generation).toBe(2); // metadata is not spec
  });

  it('selects by label (=, ==, !=, in, notin, exists, !key) and by field', async () => {
    for (const [name, labels] of [
      ['a', { app: 'web', tier: 'front' }],
      ['b', { app: 'web', tier: 'back' }],
      ['c', { app: 'db' }],
    ] as const)
      await kube.core.createNamespacedConfigMap({ namespace: 'crud', body: { metadata: { name, labels } } });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (
        await kube.core.listNamespacedConfigMap({
          namespace: 'crud',
          ...(labelSelector ? { labelSelector } : {}),
          ...(fieldSelector ? { fieldSelector } : {}),
        })
      ).items
        .map((c) => c.metadata?.name)
        .filter((n) => n && ['a', 'b', 'c'].includes(n));
    expect(await names('app=web')).toEqual(['a', 'b']);
    expect(await names('app==web,tier=front')).toEqual(['a']);
    expect(await names('tier!=front')).toEqual(['b', 'c']);
    expect(await names('tier in (front, back)')).toEqual(['a', 'b']);
    expect(await names('app notin (web)')).toEqual(['c']);
    expect(await names('tier')).toEqual(['a', 'b']);
    expect(await names('!tier')).toEqual(['c']);
    expect(await names(undefined, 'metadata.name=b')).toEqual(['b']);
    expect(await names(undefined, 'metadata.name!=b,metadata.namespace=crud')).toEqual(['a', 'c']);

    const list = await kube.core.listNamespacedConfigMap({ namespace: 'crud' });
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const all = await kube.core.listConfigMapForAllNamespaces({ labelSelector: 'app=db' });
    expect(all.items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`)).toEqual(['crud/c']);
  });

  it('selects pods by spec.nodeName and status.phase, and events by involvedObject.name', async () => {
    await kube.core.createNamespacedPod({ namespace: 'crud', body: pod('p1', 'node-a') });
    await kube.core.createNamespacedPod({ namespace: 'crud', body: pod('p2', 'node-b') });
    twin.store.mutate(
      'pods',
      { namespace: 'crud', name: 'p2' },
      (p: any) => (p.status = { phase: 'Running' }),
    );
    const pods = async (fieldSelector: string) =>
      (await kube.core.listNamespacedPod({ namespace: 'crud', fieldSelector })).items.map(
        (p) => p.metadata?.name,
      );
    expect(await pods('spec.nodeName=node-a')).toEqual(['p1']);
    expect(await pods('status.phase=Running')).toEqual(['p2']);
    expect(await pods('status.phase!=Running')).toEqual(['p1']);
    const p1 = await kube.core.readNamespacedPod({ namespace: 'crud', name: 'p1' });
    expect(p1.status?.phase).toBe('Pending'); // a create's status is the server's
    expect(p1.spec?.serviceAccountName).toBe('default');

    await kube.core.createNamespacedEvent({
      namespace: 'crud',
      body: {
        metadata: { name: 'p1.1' },
        involvedObject: { kind: 'Pod', name: 'p1', namespace: 'crud' },
        reason: 'Scheduled',
        message: 'assigned',
      },
    });
    const ev = await kube.core.listNamespacedEvent({
      namespace: 'crud',
      fieldSelector: 'involvedObject.name=p1',
    });
    expect(ev.items.map((e) => e.reason)).toEqual(['Scheduled']);

    const bad = await failure(
      kube.core.listNamespacedPod({ namespace: 'crud', fieldSelector: 'spec.foo=x' }),
    );
    expect(bad.code).toBe(400);
    expect(bad.status.message).toBe('field label not supported: spec.foo');
  });

  it('refuses a pod whose service account does not exist, as the ServiceAccount admission does', async () => {
    const body = pod('p3', 'node-a');
    body.spec!.serviceAccountName = 'ghost';
    const { code, status } = await failure(kube.core.createNamespacedPod({ namespace: 'crud', body }));
    expect(code).toBe(403);
    expect(status.message).toBe(
      'pods "p3" is forbidden: error looking up service account crud/ghost: serviceaccount "ghost" not found',
    );
    await kube.core.createNamespacedServiceAccount({
      namespace: 'crud',
      body: { metadata: { name: 'ghost' } },
    });
    await expect(kube.core.createNamespacedPod({ namespace: 'crud', body })).resolves.toBeTruthy();
  });

  it('serves pods/log from the store', async () => {
    twin.store.appendPodLog({ namespace: 'crud', name: 'p2' }, 'app', 'one\ntwo\nthree\n');
    expect(await kube.core.readNamespacedPodLog({ namespace: 'crud', name: 'p2', container: 'app' })).toBe(
      'one\ntwo\nthree\n',
    );
    expect(await kube.core.readNamespacedPodLog({ namespace: 'crud', name: 'p2', tailLines: 1 })).toBe(
      'three\n',
    );
  });
});

describe('errors as client-node surfaces them', () => {
  beforeAll(() => namespace('errs'));

  it('404 NotFound', async () => {
    const { code, status } = await failure(kube.core.readNamespacedPod({ namespace: 'errs', name: 'nope' }));
    expect(code).toBe(404);
    expect(status).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'pods "nope" not found',
      details: { name: 'nope', kind: 'pods' },
    });
    const d = await failure(kube.apps.readNamespacedDeployment({ namespace: 'errs', name: 'x' }));
    expect(d.status.message).toBe('deployments.apps "x" not found');
    expect(d.status.details).toEqual({ name: 'x', group: 'apps', kind: 'deployments' });
    const ns = await failure(
      kube.core.createNamespacedConfigMap({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }),
    );
    expect(ns.code).toBe(404);
    expect(ns.status.message).toBe('namespaces "nowhere" not found');
  });

  it('409 AlreadyExists and 409 Conflict on a stale resourceVersion', async () => {
    const dup = await failure(kube.core.createNamespace({ body: { metadata: { name: 'errs' } } }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({
      reason: 'AlreadyExists',
      message: 'namespaces "errs" already exists',
    });

    const cm = await kube.core.createNamespacedConfigMap({
      namespace: 'errs',
      body: { metadata: { name: 'cfg' }, data: { v: '1' } },
    });
    await kube.core.replaceNamespacedConfigMap({
      namespace: 'errs',
      name: 'cfg',
      body: { ...cm, data: { v: '2' } },
    });
    const stale = await failure(
      kube.core.replaceNamespacedConfigMap({
        namespace: 'errs',
        name: 'cfg',
        body: { ...cm, data: { v: '3' } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'cfg', kind: 'configmaps' },
    });
    // Without a resourceVersion the update is unconditional (ConfigMap allows it).
    const { resourceVersion: _rv, ...meta } = cm.metadata!;
    const forced = await kube.core.replaceNamespacedConfigMap({
      namespace: 'errs',
      name: 'cfg',
      body: { metadata: meta, data: { v: '4' } },
    });
    expect(forced.data).toEqual({ v: '4' });
  });

  it('422 Invalid for a bad name and a Lease update without resourceVersion', async () => {
    const bad = await failure(kube.core.createNamespace({ body: { metadata: { name: 'Bad_Name' } } }));
    expect(bad.code).toBe(422);
    expect(bad.status.message).toBe(
      `Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
    expect(bad.status.details.causes[0]).toMatchObject({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
    });

    const none = await failure(
      kube.core.createNamespacedConfigMap({ namespace: 'errs', body: { metadata: {} } }),
    );
    expect(none.status.message).toBe(
      'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
    );

    await kube.coordination.createNamespacedLease({
      namespace: 'errs',
      body: { metadata: { name: 'l' }, spec: { holderIdentity: 'me' } },
    });
    const lease = await failure(
      kube.coordination.replaceNamespacedLease({
        namespace: 'errs',
        name: 'l',
        body: { metadata: { name: 'l' }, spec: { holderIdentity: 'you' } },
      }),
    );
    expect(lease.code).toBe(422);
    expect(lease.status.message).toBe(
      'leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update',
    );
  });

  it('fieldValidation=Strict refuses unknown fields with the decoder’s message', async () => {
    // client-node's typed models drop unknown fields, so a built-in type is sent as raw JSON.
    const res = await fetch(`${twin.url}/api/v1/namespaces/errs/configmaps?fieldValidation=Strict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'strict', foo: 1 }, data: {}, spec: {} }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.foo", unknown field "spec"',
    );
    // Warn (the default): accepted, the fields dropped, a Warning header per field.
    const warned = await fetch(`${twin.url}/api/v1/namespaces/errs/configmaps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'warned' }, spec: {} }),
    });
    expect(warned.status).toBe(201);
    expect(warned.headers.get('warning')).toBe('299 - "unknown field \\"spec\\""');
    expect(((await warned.json()) as any).spec).toBeUndefined();

    const custom = await failure(
      kube.custom.createNamespacedCustomObject({
        group: 'security.istio.io',
        version: 'v1',
        namespace: 'errs',
        plural: 'peerauthentications',
        fieldValidation: 'Strict',
        body: {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'pa' },
          spec: { mtls: { mode: 'STRICT', foo: true } },
        },
      }),
    );
    expect(custom.code).toBe(400);
    expect(custom.status.message).toBe(
      'PeerAuthentication in version "v1" cannot be handled as a PeerAuthentication: strict decoding error: unknown field "spec.mtls.foo"',
    );

    const bogus = await failure(
      kube.core.createNamespacedConfigMap({
        namespace: 'errs',
        fieldValidation: 'Bogus',
        body: { metadata: { name: 'x' } },
      }),
    );
    expect(bogus.code).toBe(422);
    expect(bogus.status.message).toBe(
      'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus": supported values: "", "Ignore", "Strict", "Warn"',
    );
  });

  it('a strict patch naming an unknown field is 422 Invalid', async () => {
    await kube.custom.createNamespacedCustomObject({
      group: 'security.istio.io',
      version: 'v1',
      namespace: 'errs',
      plural: 'peerauthentications',
      body: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'p' },
        spec: {},
      },
    });
    const { code, status } = await failure(
      kube.custom.patchNamespacedCustomObject(
        {
          group: 'security.istio.io',
          version: 'v1',
          namespace: 'errs',
          plural: 'peerauthentications',
          name: 'p',
          fieldValidation: 'Strict',
          body: { spec: { foo: 1 } },
        },
        merge,
      ),
    );
    expect(code).toBe(422);
    expect(status.reason).toBe('Invalid');
    expect(status.message).toMatch(
      /^ "" is invalid: patch: Invalid value: "\{.*\}": strict decoding error: unknown field "spec\.foo"$/,
    );
  });

  it('403 for a namespace that may not be deleted, 405 for a write to metrics.k8s.io', async () => {
    const { code, status } = await failure(kube.core.deleteNamespace({ name: 'kube-system' }));
    expect(code).toBe(403);
    expect(status.message).toBe('namespaces "kube-system" is forbidden: this namespace may not be deleted');
    const res = await fetch(`${twin.url}/apis/metrics.k8s.io/v1beta1/namespaces/errs/pods`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'x' } }),
    });
    expect(res.status).toBe(405);
    expect(((await res.json()) as any).message).toBe(
      'create is not supported on resources of kind "pods.metrics.k8s.io"',
    );
  });
});

describe('strict decoding and validation of built-in types', () => {
  const ns = 'valid';
  beforeAll(async () => {
    await namespace(ns);
    await kube.core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'probe-x' } },
    });
  });

  /** Options that edit the JSON client-node sends: its models drop a field they do not know. */
  function editBody(edit: (body: any) => void): ConfigurationOptions {
    const mw = setHeaderMiddleware('X-Twin-Test', 'edited');
    return {
      middleware: [
        {
          pre: (ctx: RequestContext) => {
            const body = JSON.parse(ctx.getBody() as string);
            edit(body);
            ctx.setBody(JSON.stringify(body));
            return mw.pre(ctx);
          },
          post: (res) => mw.post(res),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }
  const opts = (name: string) => ({ name, namespace: ns, runId: 'run-1', serviceAccountName: 'probe-x' });
  const nested = editBody((b) => (b.spec.containers[0].foo = 'bar'));

  it('Strict: an unknown field in a container is 400 with the decoder’s message', async () => {
    const { code, status } = await failure(
      kube.core.createNamespacedPod(
        { namespace: ns, body: clientPod(opts('strict')), fieldValidation: 'Strict' },
        nested,
      ),
    );
    expect(code).toBe(400);
    expect(status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].foo"',
      reason: 'BadRequest',
      code: 400,
    });
    expect(twin.store.get('pods', { namespace: ns, name: 'strict' })).toBeUndefined();
  });

  it('Warn (the default): created without the field, a Warning header; Ignore: no header', async () => {
    const warned = await kube.core.createNamespacedPodWithHttpInfo(
      { namespace: ns, body: clientPod(opts('warned')) },
      nested,
    );
    expect(warned.httpStatusCode).toBe(201);
    expect(warned.headers.warning).toBe('299 - "unknown field \\"spec.containers[0].foo\\""');
    const stored: any = twin.store.get('pods', { namespace: ns, name: 'warned' });
    expect(stored.spec.containers[0]).not.toHaveProperty('foo');
    const req = twin.requests.findLast(
      (r) => r.method === 'POST' && r.path === `/api/v1/namespaces/${ns}/pods`,
    );
    expect(req?.warnings).toEqual(['unknown field "spec.containers[0].foo"']);
    const ignored = await kube.core.createNamespacedPodWithHttpInfo(
      { namespace: ns, body: clientPod(opts('ignored')), fieldValidation: 'Ignore' },
      nested,
    );
    expect(ignored.httpStatusCode).toBe(201);
    expect(ignored.headers.warning).toBeUndefined();
  });

  it('Strict on a strategic merge patch: 422 "patch" with the patch map as Go prints it', async () => {
    const { code, status } = await failure(
      kube.core.patchNamespacedPod(
        {
          namespace: ns,
          name: 'warned',
          fieldValidation: 'Strict',
          body: { spec: { containers: [{ name: 'client', bogus: 1 }] } },
        },
        strategic,
      ),
    );
    expect(code).toBe(422);
    expect(status.message).toBe(
      ' "" is invalid: patch: Invalid value: "map[spec:map[containers:[map[bogus:1 name:client]]]]": strict decoding error: unknown field "spec.containers[0].bogus"',
    );
  });

  it('passes everything the harness builds under Strict, with no warning', async () => {
    const responses: { what: string; code: number; warning: string | undefined }[] = [];
    const record = (what: string, r: { httpStatusCode: number; headers: Record<string, string> }) =>
      responses.push({ what, code: r.httpStatusCode, warning: r.headers.warning });
    const strict = { namespace: ns, fieldValidation: 'Strict' };
    for (const body of [
      probeServerPod(opts('h-server')),
      dualPortServerPod(opts('h-dual')),
      clientPod({ ...opts('h-client'), labels: { pod: 'a' } }),
      capturePod('h-capture', ns, 'kind-worker', 'run-1'),
    ])
      record(body.metadata?.name ?? '', await kube.core.createNamespacedPodWithHttpInfo({ ...strict, body }));
    for (const [name, serve] of [
      ['h-load', false],
      ['h-serve', true],
    ] as const) {
      const body = pauseDeployment({ name, namespace: ns, runId: 'run-1', replicas: 2, serve });
      record(name, await kube.apps.createNamespacedDeploymentWithHttpInfo({ ...strict, body }));
    }
    const netpols = [
      ...documentedPolicies({
        calls: new Map([[ns, ['other']]]),
        istioNamespace: 'istio-system',
        appPorts: [80, 81],
        runId: 'run-1',
      }),
      denyAll(ns, 'run-1', ['Ingress', 'Egress']),
      policy(ns, 'kubelet-probes', 'run-1', {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: KUBELET_PROBE_SNAT_V4 } }], ports: tcp(8080) }],
      }),
    ];
    for (const np of netpols) {
      // The wire JSON as the builders write it (a dry run), then through the typed model as the
      // harness sends it (createNetworkPolicy).
      const res = await fetch(
        `${twin.url}/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies?fieldValidation=Strict&dryRun=All`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(np) },
      );
      responses.push({
        what: `${np.metadata.name} (wire)`,
        code: res.status,
        warning: res.headers.get('warning') ?? undefined,
      });
      const body = toTyped<V1NetworkPolicy>(np);
      record(
        np.metadata.name,
        await kube.networking.createNamespacedNetworkPolicyWithHttpInfo({ ...strict, body }),
      );
    }
    const lease = {
      ...markerLease('h-run', 'host/1', new Date(), [{ name: 'istiod', namespace: 'istio-system' }]),
    };
    lease.metadata = { ...lease.metadata, namespace: ns };
    record('marker', await kube.coordination.createNamespacedLeaseWithHttpInfo({ ...strict, body: lease }));
    const mesh = { x: ns, y: ns, w: ns };
    for (const o of [
      peerAuthentication(ns, 'STRICT'),
      ...AUTHZ_CASES.allowPrincipalX(mesh),
      ...AUTHZ_CASES.allowNamespaceW(mesh).map((p) => ({ ...p, metadata: { ...p.metadata, name: 'ns-w' } })),
      ...AUTHZ_CASES.denyWinsOverAllow(mesh).map((p) => ({
        ...p,
        metadata: { ...p.metadata, name: `d-${p.metadata.name}` },
      })),
      ...AUTHZ_CASES.l7WithoutWaypoint(mesh),
      ...AUTHZ_CASES.allowNothing(mesh),
    ]) {
      const plural = o.kind === 'AuthorizationPolicy' ? 'authorizationpolicies' : 'peerauthentications';
      record(
        `${o.kind}/${o.metadata.name}`,
        await kube.custom.createNamespacedCustomObjectWithHttpInfo({
          group: 'security.istio.io',
          version: 'v1',
          namespace: ns,
          plural,
          fieldValidation: 'Strict',
          body: o,
        }),
      );
    }
    expect(responses.length).toBe(22);
    expect(responses.filter((r) => r.code !== 201 || r.warning !== undefined)).toEqual([]);
  });

  /** The 422 a create draws, through client-node. */
  async function refused(p: Promise<unknown>) {
    const { code, status } = await failure(p);
    expect(code).toBe(422);
    expect(status.reason).toBe('Invalid');
    return status;
  }

  it('422 Invalid in upstream’s Status shape: a pod without containers', async () => {
    const body = clientPod(opts('empty'));
    body.spec!.containers = [];
    expect(await refused(kube.core.createNamespacedPod({ namespace: ns, body }))).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Pod "empty" is invalid: spec.containers: Required value',
      reason: 'Invalid',
      details: {
        name: 'empty',
        kind: 'Pod',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers' }],
      },
      code: 422,
    });
  });

  it('422 for a container without name and image, with every error as a cause', async () => {
    const body = clientPod(opts('anon'));
    body.spec!.containers = [
      { name: '', image: '', ports: [{ containerPort: 8080, name: 'serve-8080-tcp-1' }] },
    ];
    const status = await refused(kube.core.createNamespacedPod({ namespace: ns, body }));
    expect(status.message).toBe(
      'Pod "anon" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required value, spec.containers[0].ports[0].name: Invalid value: "serve-8080-tcp-1": must be no more than 15 characters]',
    );
    expect(status.details.causes).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].name' },
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' },
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: "serve-8080-tcp-1": must be no more than 15 characters',
        field: 'spec.containers[0].ports[0].name',
      },
    ]);
  });

  it('422 for a namespace name that is not a DNS-1123 label, and for a label value', async () => {
    const status = await refused(kube.core.createNamespace({ body: { metadata: { name: 'x-1.y' } } }));
    expect(status.message).toBe(
      'Namespace "x-1.y" is invalid: metadata.name: Invalid value: "x-1.y": must not contain dots',
    );
    const labelled = await refused(
      kube.core.createNamespace({
        body: { metadata: { name: 'run-x', labels: { 'ambient-conformance.io/run-id': 'run/1' } } },
      }),
    );
    expect(labelled.details.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        message: expect.stringMatching(/^Invalid value: "run\/1": a valid label must be an empty string/),
        field: 'metadata.labels',
      },
    ]);
  });

  it('422 for a NetworkPolicy port’s protocol', async () => {
    const np = policy(ns, 'icmp', 'run-1', {
      podSelector: {},
      ingress: [{ ports: [{ protocol: 'ICMP' as 'TCP', port: 80 }] }],
    });
    const status = await refused(
      kube.networking.createNamespacedNetworkPolicy({ namespace: ns, body: toTyped(np) }),
    );
    expect(status.message).toBe(
      'NetworkPolicy.networking.k8s.io "icmp" is invalid: spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
    );
    expect(status.details).toMatchObject({ group: 'networking.k8s.io', kind: 'NetworkPolicy', name: 'icmp' });
  });

  it('422 for a Deployment whose selector does not match its template, on create and on update', async () => {
    const body = pauseDeployment({ name: 'mismatch', namespace: ns, runId: 'run-1', replicas: 1 });
    body.spec!.selector = { matchLabels: { app: 'other' } };
    const status = await refused(kube.apps.createNamespacedDeployment({ namespace: ns, body }));
    expect(status.message).toBe(
      'Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value: {"ambient-conformance.io/run-id":"run-1","app":"mismatch","app.kubernetes.io/managed-by":"ambient-conformance"}: `selector` does not match template `labels`',
    );
    const good = await kube.apps.readNamespacedDeployment({ namespace: ns, name: 'h-load' });
    await refused(
      kube.apps.replaceNamespacedDeployment({
        namespace: ns,
        name: 'h-load',
        body: { ...good, spec: { ...good.spec!, selector: { matchLabels: { app: 'other' } } } },
      }),
    );
    const patched = await refused(
      kube.apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: 'h-load',
          body: { spec: { template: { spec: { containers: [{ name: 'app', image: '' }] } } } },
        },
        strategic,
      ),
    );
    expect(patched.message).toBe(
      'Deployment.apps "h-load" is invalid: spec.template.spec.containers[0].image: Required value',
    );
  });

  it('an update answers NotFound and Conflict before it validates, as the registry does', async () => {
    const good = await kube.apps.readNamespacedDeployment({ namespace: ns, name: 'h-load' });
    const bad = { ...good, spec: { ...good.spec!, selector: { matchLabels: { app: 'other' } } } };
    const missing = await failure(
      kube.apps.replaceNamespacedDeployment({
        namespace: ns,
        name: 'nope',
        body: { ...bad, metadata: { ...bad.metadata, name: 'nope' } },
      }),
    );
    expect(missing.code).toBe(404);
    const stale = await failure(
      kube.apps.replaceNamespacedDeployment({
        namespace: ns,
        name: 'h-load',
        body: { ...bad, metadata: { ...bad.metadata, resourceVersion: '1' } },
      }),
    );
    expect(stale.code).toBe(409);
  });

  it('422 for a Lease without a positive duration', async () => {
    const lease = markerLease('bad-lease', 'host/1', new Date(), []);
    lease.metadata = { ...lease.metadata, namespace: ns };
    lease.spec = { ...lease.spec, leaseDurationSeconds: 0 };
    const status = await refused(kube.coordination.createNamespacedLease({ namespace: ns, body: lease }));
    expect(status.message).toBe(
      'Lease.coordination.k8s.io "ambient-conformance-bad-lease" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
    );
  });
});

describe('patch', () => {
  beforeAll(() => namespace('patch'));

  it('applies JSON patch (client-node’s default), merge and strategic merge patches', async () => {
    await kube.apps.createNamespacedDeployment({ namespace: 'patch', body: deployment('app') });
    const key = { namespace: 'patch', name: 'app' };

    const jp = await kube.apps.patchNamespacedDeployment({
      ...key,
      body: [
        { op: 'replace', path: '/spec/replicas', value: 2 },
        { op: 'add', path: '/metadata/labels', value: { team: 'a' } },
      ],
    });
    expect(jp.spec?.replicas).toBe(2);
    expect(jp.metadata?.labels).toEqual({ team: 'a' });
    expect(jp.metadata?.generation).toBe(2);
    expect(twin.requests.at(-1)?.contentType).toBe('application/json-patch+json');

    const mp = await kube.apps.patchNamespacedDeployment(
      { ...key, body: { metadata: { labels: { team: null, tier: 'x' } } } },
      merge,
    );
    expect(mp.metadata?.labels).toEqual({ tier: 'x' });

    // Strategic: containers merge by name (a merge patch would replace the list).
    const sp = await kube.apps.patchNamespacedDeployment(
      {
        ...key,
        body: { spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'busybox' }] } } } },
      },
      strategic,
    );
    expect(sp.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['app', 'sidecar']);
    const mp2 = await kube.apps.patchNamespacedDeployment(
      {
        ...key,
        body: { spec: { template: { spec: { containers: [{ name: 'only', image: 'busybox' }] } } } },
      },
      merge,
    );
    expect(mp2.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['only']);

    const failed = await failure(
      kube.apps.patchNamespacedDeployment({
        ...key,
        body: [{ op: 'test', path: '/spec/replicas', value: 9 }],
      }),
    );
    expect(failed.code).toBe(422);
  });

  it('server-side apply creates, then merges, and needs a fieldManager', async () => {
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'applied', namespace: 'patch' },
      data: { a: '1' },
    };
    const created = await kube.core.patchNamespacedConfigMap(
      { namespace: 'patch', name: 'applied', body, fieldManager: 'twin-test' },
      apply,
    );
    expect(created.data).toEqual({ a: '1' });
    const merged = await kube.core.patchNamespacedConfigMap(
      {
        namespace: 'patch',
        name: 'applied',
        body: { ...body, data: { b: '2' } },
        fieldManager: 'twin-test',
        force: true,
      },
      apply,
    );
    expect(merged.data).toEqual({ a: '1', b: '2' });
    const { code, status } = await failure(
      kube.core.patchNamespacedConfigMap({ namespace: 'patch', name: 'applied', body }, apply),
    );
    expect(code).toBe(422);
    expect(status.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
  });

  it('patches status and scale subresources', async () => {
    const key = { namespace: 'patch', name: 'app' };
    const st = await kube.apps.patchNamespacedDeploymentStatus(
      { ...key, body: { status: { availableReplicas: 2 }, spec: { replicas: 7 } } },
      merge,
    );
    expect(st.status?.availableReplicas).toBe(2);
    expect(st.spec?.replicas).toBe(2); // a status write leaves spec alone
    const scale = await kube.apps.replaceNamespacedDeploymentScale({
      ...key,
      body: { metadata: { name: 'app', namespace: 'patch' }, spec: { replicas: 5 } },
    });
    expect(scale.spec?.replicas).toBe(5);
    expect(scale.status?.selector).toBe('app=app');
    expect((await kube.apps.readNamespacedDeployment(key)).spec?.replicas).toBe(5);
    // A PUT of the main resource leaves status alone.
    const d = await kube.apps.readNamespacedDeployment(key);
    const put = await kube.apps.replaceNamespacedDeployment({ ...key, body: { ...d, status: {} } });
    expect(put.status?.availableReplicas).toBe(2);
  });
});

describe('delete, namespace lifecycle and garbage collection', () => {
  it('a namespace goes Terminating, refuses new content, loses its content and goes', async () => {
    await ensureNamespace(kube, 'doomed', { purpose: 'test' });
    expect(await ensureNamespace(kube, 'doomed', { more: 'x' })).toBe(false);
    expect((await kube.core.readNamespace({ name: 'doomed' })).metadata?.labels).toMatchObject({
      purpose: 'test',
      more: 'x',
      'kubernetes.io/metadata.name': 'doomed',
    });
    await kube.core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'c' } } });
    await kube.apps.createNamespacedDeployment({ namespace: 'doomed', body: deployment('d') });

    // The API answers with the Namespace (client-node's declared V1Status is not what arrives).
    const ns = (await kube.core.deleteNamespace({ name: 'doomed' })) as unknown as V1Namespace;
    expect(ns.status?.phase).toBe('Terminating');
    expect((await kube.core.readNamespace({ name: 'doomed' })).metadata?.deletionTimestamp).toBeInstanceOf(
      Date,
    );
    const { code, status } = await failure(
      kube.core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'late' } } }),
    );
    expect(code).toBe(403);
    expect(status.message).toBe(
      'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    );
    expect(status.details.causes).toEqual([
      {
        reason: 'NamespaceTerminating',
        message: 'namespace doomed is being terminated',
        field: 'metadata.namespace',
      },
    ]);

    await deleteNamespaceAndWait(kube, 'doomed', timeouts);
    expect((await failure(kube.core.readNamespace({ name: 'doomed' }))).code).toBe(404);
    expect(twin.store.list('configmaps', { namespace: 'doomed' })).toEqual([]);
    expect(twin.store.list('deployments', { namespace: 'doomed' })).toEqual([]);
  });

  it('collects dependents of a deleted owner, orphans on request', async () => {
    await namespace('gc');
    const owner = await kube.apps.createNamespacedDeployment({ namespace: 'gc', body: deployment('owner') });
    const ref = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'owner',
      uid: owner.metadata?.uid ?? '',
      controller: true,
    };
    await kube.apps.createNamespacedReplicaSet({
      namespace: 'gc',
      body: { metadata: { name: 'owned', ownerReferences: [ref] }, spec: deployment('x').spec },
    });
    const status = await kube.apps.deleteNamespacedDeployment({ namespace: 'gc', name: 'owner' });
    expect(status).toMatchObject({
      status: 'Success',
      details: { name: 'owner', group: 'apps', kind: 'deployments' },
    });
    await twin.store.idle();
    expect((await failure(kube.apps.readNamespacedReplicaSet({ namespace: 'gc', name: 'owned' }))).code).toBe(
      404,
    );

    const owner2 = await kube.apps.createNamespacedDeployment({
      namespace: 'gc',
      body: deployment('owner2'),
    });
    await kube.apps.createNamespacedReplicaSet({
      namespace: 'gc',
      body: {
        metadata: {
          name: 'kept',
          ownerReferences: [{ ...ref, name: 'owner2', uid: owner2.metadata?.uid ?? '' }],
        },
        spec: deployment('x').spec,
      },
    });
    await kube.apps.deleteNamespacedDeployment({
      namespace: 'gc',
      name: 'owner2',
      propagationPolicy: 'Orphan',
    });
    await twin.store.idle();
    const kept = await kube.apps.readNamespacedReplicaSet({ namespace: 'gc', name: 'kept' });
    expect(kept.metadata?.ownerReferences).toBeUndefined();
  });

  it('holds an object with finalizers until they are removed', async () => {
    await namespace('fin');
    await kube.core.createNamespacedConfigMap({
      namespace: 'fin',
      body: { metadata: { name: 'held', finalizers: ['example.com/hold'] } },
    });
    const marked = await kube.core.deleteNamespacedConfigMap({ namespace: 'fin', name: 'held' });
    expect(marked).toBeTruthy();
    const held = await kube.core.readNamespacedConfigMap({ namespace: 'fin', name: 'held' });
    expect(held.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await kube.core.patchNamespacedConfigMap(
      { namespace: 'fin', name: 'held', body: { metadata: { finalizers: null } } },
      merge,
    );
    expect((await failure(kube.core.readNamespacedConfigMap({ namespace: 'fin', name: 'held' }))).code).toBe(
      404,
    );
  });
});

describe('watch', () => {
  it('streams ADDED, MODIFIED and DELETED to client-node’s Watch, and resumes from a resourceVersion', async () => {
    await namespace('w');
    const events: string[] = [];
    const watch = new Watch(kube.kc);
    const seen = (n: number) => expect.poll(() => events.length, { timeout: 2_000, interval: 10 }).toBe(n);
    const ctl = await watch.watch(
      '/api/v1/namespaces/w/configmaps',
      { labelSelector: 'watched=yes' },
      (type, obj: V1ConfigMap) => events.push(`${type} ${obj.metadata?.name} ${obj.data?.v ?? ''}`.trim()),
      () => undefined,
    );
    await kube.core.createNamespacedConfigMap({
      namespace: 'w',
      body: { metadata: { name: 'x', labels: { watched: 'yes' } }, data: { v: '1' } },
    });
    await kube.core.createNamespacedConfigMap({ namespace: 'w', body: { metadata: { name: 'unwatched' } } });
    await kube.core.patchNamespacedConfigMap(
      { namespace: 'w', name: 'x', body: { data: { v: '2' } } },
      merge,
    );
    await kube.core.deleteNamespacedConfigMap({ namespace: 'w', name: 'x' });
    await seen(3);
    expect(events).toEqual(['ADDED x 1', 'MODIFIED x 2', 'DELETED x 2']);
    ctl.abort();

    // From a list's resourceVersion: the changes after it, none before.
    const rv = (await kube.core.listNamespacedConfigMap({ namespace: 'w' })).metadata?.resourceVersion ?? '';
    await kube.core.createNamespacedConfigMap({ namespace: 'w', body: { metadata: { name: 'y' } } });
    events.length = 0;
    const ctl2 = await watch.watch(
      '/api/v1/namespaces/w/configmaps',
      { resourceVersion: rv },
      (type, obj: V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    await seen(1);
    expect(events).toEqual(['ADDED y']);
    ctl2.abort();
    expect(twin.requests.some((r) => r.query.watch === 'true' && r.query.resourceVersion === rv)).toBe(true);
  });
});

describe('watch edges', () => {
  it('sends DELETED when an object stops matching the selector and ADDED when it starts', async () => {
    await namespace('w2');
    const events: string[] = [];
    const ctl = await new Watch(kube.kc).watch(
      '/api/v1/namespaces/w2/configmaps',
      { labelSelector: 'on=yes' },
      (type, obj: V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    await kube.core.createNamespacedConfigMap({
      namespace: 'w2',
      body: { metadata: { name: 'flip', labels: { on: 'yes' } } },
    });
    await kube.core.patchNamespacedConfigMap(
      { namespace: 'w2', name: 'flip', body: { metadata: { labels: { on: 'no' } } } },
      merge,
    );
    await kube.core.patchNamespacedConfigMap(
      { namespace: 'w2', name: 'flip', body: { metadata: { labels: { on: 'yes' } } } },
      merge,
    );
    await expect
      .poll(() => events, { timeout: 2_000, interval: 10 })
      .toEqual(['ADDED flip', 'DELETED flip', 'ADDED flip']);
    ctl.abort();
  });

  it('answers a resourceVersion older than the kept history with an ERROR event (410 Expired)', async () => {
    const small = await startTwinApiServer({ historyLimit: 3 });
    try {
      const k = makeClients(small.kubeconfig(path.join(mkdtempSync(path.join(os.tmpdir(), 'twin-')), 'kc')));
      const rv =
        (await k.core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion ?? '';
      for (const name of ['a', 'b', 'c', 'd'])
        await k.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name } } });
      const got: { type: string; obj: any }[] = [];
      let ended = false;
      await new Watch(k.kc).watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: rv },
        (type, obj) => got.push({ type, obj }),
        () => (ended = true),
      );
      await expect.poll(() => ended, { timeout: 2_000, interval: 10 }).toBe(true);
      expect(got).toHaveLength(1);
      expect(got[0]?.type).toBe('ERROR');
      expect(got[0]?.obj).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
      expect(got[0]?.obj.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    } finally {
      await small.close();
    }
  });
});

describe('collections and dry runs', () => {
  it('pages a list with limit and continue, deletes a collection by selector, dry-runs a create', async () => {
    await namespace('coll');
    for (const name of ['a', 'b', 'c'])
      await kube.core.createNamespacedConfigMap({
        namespace: 'coll',
        body: { metadata: { name, labels: { batch: '1' } } },
      });
    const page1 = await kube.core.listNamespacedConfigMap({
      namespace: 'coll',
      labelSelector: 'batch=1',
      limit: 2,
    });
    expect(page1.items.map((c) => c.metadata?.name)).toEqual(['a', 'b']);
    expect(page1.metadata?.remainingItemCount).toBe(1);
    const page2 = await kube.core.listNamespacedConfigMap({
      namespace: 'coll',
      labelSelector: 'batch=1',
      limit: 2,
      _continue: page1.metadata?._continue ?? '',
    });
    expect(page2.items.map((c) => c.metadata?.name)).toEqual(['c']);
    expect(page2.metadata?._continue).toBeUndefined();

    const dry = await kube.core.createNamespacedConfigMap({
      namespace: 'coll',
      dryRun: 'All',
      body: { metadata: { name: 'dry' } },
    });
    expect(dry.metadata?.uid).toBeTruthy();
    expect((await failure(kube.core.readNamespacedConfigMap({ namespace: 'coll', name: 'dry' }))).code).toBe(
      404,
    );

    await kube.core.deleteCollectionNamespacedConfigMap({ namespace: 'coll', labelSelector: 'batch=1' });
    const left = await kube.core.listNamespacedConfigMap({ namespace: 'coll' });
    expect(left.items.map((c) => c.metadata?.name)).toEqual(['kube-root-ca.crt']);
  });
});

describe('custom resources and metrics', () => {
  it('serves security.istio.io through CustomObjectsApi: create, get, list, patch, delete', async () => {
    await namespace('mesh');
    const base = { group: 'security.istio.io', version: 'v1', namespace: 'mesh' };
    const ap = await kube.custom.createNamespacedCustomObject({
      ...base,
      plural: 'authorizationpolicies',
      body: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'deny-all', labels: { policy: 'deny' } },
        spec: { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] },
      },
    });
    expect(ap.metadata.generation).toBe(1);
    expect(ap.apiVersion).toBe('security.istio.io/v1');
    const list = await kube.custom.listNamespacedCustomObject({
      ...base,
      plural: 'authorizationpolicies',
      labelSelector: 'policy=deny',
    });
    expect(list.kind).toBe('AuthorizationPolicyList');
    expect(list.items.map((i: any) => [i.kind, i.metadata.name])).toEqual([
      ['AuthorizationPolicy', 'deny-all'],
    ]);
    const patched = await kube.custom.patchNamespacedCustomObject(
      { ...base, plural: 'authorizationpolicies', name: 'deny-all', body: { spec: { action: 'ALLOW' } } },
      merge,
    );
    expect(patched.spec.action).toBe('ALLOW');
    expect(patched.spec.rules).toHaveLength(1);
    expect(patched.metadata.generation).toBe(2);
    const v1beta1 = await kube.custom.getNamespacedCustomObject({
      ...base,
      version: 'v1beta1',
      plural: 'authorizationpolicies',
      name: 'deny-all',
    });
    expect(v1beta1.apiVersion).toBe('security.istio.io/v1beta1');
    const smp = await failure(
      kube.custom.patchNamespacedCustomObject(
        { ...base, plural: 'authorizationpolicies', name: 'deny-all', body: {} },
        strategic,
      ),
    );
    expect(smp.code).toBe(415);
    await kube.custom.deleteNamespacedCustomObject({
      ...base,
      plural: 'authorizationpolicies',
      name: 'deny-all',
    });
    const gone = await failure(
      kube.custom.getNamespacedCustomObject({ ...base, plural: 'authorizationpolicies', name: 'deny-all' }),
    );
    expect(gone.status.message).toBe('authorizationpolicies.security.istio.io "deny-all" not found');
  });

  it('serves a CRD created through the API, and stops when it is deleted', async () => {
    await kube.apiext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'widgets.example.com' },
        spec: {
          group: 'example.com',
          scope: 'Cluster',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              // The typed model's name for x-kubernetes-preserve-unknown-fields.
              schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
            },
          ],
        },
      },
    });
    const crd = await kube.apiext.readCustomResourceDefinition({ name: 'widgets.example.com' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    const w = { group: 'example.com', version: 'v1', plural: 'widgets' };
    await kube.custom.createClusterCustomObject({
      ...w,
      body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, anything: 1 },
    });
    expect((await kube.custom.getClusterCustomObject({ ...w, name: 'w1' })).anything).toBe(1);
    await kube.apiext.deleteCustomResourceDefinition({ name: 'widgets.example.com' });
    const gone = await failure(kube.custom.listClusterCustomObject(w));
    expect(gone.code).toBe(404);
    expect(gone.status.message).toBe('the server could not find the requested resource');
  });

  it('lists metrics.k8s.io PodMetrics fed through the store, as the budget suite reads them', async () => {
    await namespace('metered');
    twin.store.create('pods.metrics.k8s.io', {
      metadata: { name: 'ztunnel-abc', namespace: 'metered', labels: { app: 'ztunnel' } },
      timestamp: '2025-01-01T00:00:00Z',
      window: '15s',
      containers: [{ name: 'istio-proxy', usage: { cpu: '1234567n', memory: '12345Ki' } }],
    });
    const items = await podMetrics(kube, 'metered');
    expect(items.map((i: any) => [i.metadata.name, i.containers[0].usage.cpu])).toEqual([
      ['ztunnel-abc', '1234567n'],
    ]);
  });
});

describe('the harness against the twin', () => {
  it('keeps run markers (Leases with MicroTime and read-modify-write renewal)', async () => {
    const marker = new MarkerHandle(
      () => kube,
      () => kube,
      'twin-run-1',
    );
    await marker.create();
    await marker.addRelease({ name: 'istiod', namespace: 'istio-system' });
    marker.stopRenewing();
    const markers = await listMarkers(kube);
    expect(markers.find((m) => m.runId === 'twin-run-1')?.releases).toEqual([
      { name: 'istiod', namespace: 'istio-system' },
    ]);
    const lease = twin.store.list('leases', { namespace: 'default' })[0] as any;
    expect(lease.spec.renewTime).toMatch(/\.\d{6}Z$/);
    await deleteMarker(kube, 'twin-run-1');
    expect(await listMarkers(kube)).toEqual([]);
  });

  it('records every request with its user agent', () => {
    expect(twin.requests.length).toBeGreaterThan(20);
    expect(new Set(twin.requests.filter((r) => r.path.startsWith('/api')).map((r) => r.userAgent))).toContain(
      'ambient-conformance (TWIN-01)',
    );
    const get = twin.requests.find(
      (r) => r.method === 'GET' && r.path === '/api/v1/namespaces/errs/pods/nope',
    );
    expect(get).toMatchObject({ status: 404, userAgent: 'ambient-conformance (TWIN-01)' });
  });
});

function deployment(name: string): V1Deployment {
  return {
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'nginx' }] },
      },
    },
  };
}

function pod(name: string, nodeName: string): V1Pod {
  return { metadata: { name }, spec: { nodeName, containers: [{ name: 'app', image: 'nginx' }] } };
}
