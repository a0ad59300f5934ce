import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec.ts';
import { helmList, installArgv, uninstallArgv, type HelmTool } from '../../harness/helm.ts';
import { createArgv, deleteArgv, listClusters, exportLogsArgv } from '../../harness/kind.ts';
import { makeClients } from '../../harness/kube/client.ts';
import { waitApiServiceAvailable } from '../../harness/kube/ops.ts';
import { PINS } from '../../harness/pins.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/timeouts.ts';
import { nodeExec } from '../../harness/removal/live.ts';
import {
  NET_D_DUMP,
  RULES_DUMP,
  istioCniLeftovers,
  judgeNodeRules,
  parseRuleSections,
  splitDump,
} from '../../harness/removal/node-state.ts';
import { fixture, withEnv } from '../helpers/fake-bin.ts';
import { startTwinApiServer, type TwinApiServer } from './apiserver.ts';
import { startControllers } from './controllers.ts';
import { addonInventoryFor, allObjects, findObject, inventoryFor } from './inventory/index.ts';
import { plannedHelmInstall } from './inventory/plan-step.ts';
import { decodeRelease } from './tools/helm.ts';
import { Kube } from './tools/kube.ts';

const BIN = path.join(import.meta.dirname, 'tools', 'bin');
const CLUSTER = 'ambient-conformance-twin';
const NS = 'istio-system';
const RELEASES = [
  { name: 'istio-base', chart: 'base', values: [] as string[] },
  { name: 'istiod', chart: 'istiod', values: ['profiles/homelab/istiod-values.yaml'] },
  { name: 'istio-cni', chart: 'cni', values: ['profiles/homelab/cni-values.yaml'] },
  { name: 'ztunnel', chart: 'ztunnel', values: ['profiles/homelab/ztunnel-values.yaml'] },
];
const ROOT = path.join(import.meta.dirname, '..', '..');
const HELM: HelmTool = { path: 'helm', major: 4 };
const T = 20_000;
const PINNED_MS = PINS.metricsServer;

let api: TwinApiServer;
let dir: string;
let kubeconfig: string;
let env: Record<string, string>;

/** Marks every Deployment and DaemonSet Ready through the status subresource (the controllers' job). */
async function markReady(): Promise<void> {
  for (const [res, kind] of [
    ['deployments', 'Deployment'],
    ['daemonsets', 'DaemonSet'],
  ] as const) {
    const list = (await (await fetch(`${api.url}/apis/apps/v1/${res}`)).json()) as {
      items: {
        metadata: { name: string; namespace: string; generation?: number };
        spec: { replicas?: number };
      }[];
    };
    for (const o of list.items) {
      const n = o.spec.replicas ?? 3;
      const status =
        kind === 'Deployment'
          ? {
              observedGeneration: o.metadata.generation,
              replicas: n,
              readyReplicas: n,
              updatedReplicas: n,
              availableReplicas: n,
            }
          : {
              observedGeneration: o.metadata.generation,
              desiredNumberScheduled: 3,
              currentNumberScheduled: 3,
              numberReady: 3,
              updatedNumberScheduled: 3,
              numberAvailable: 3,
              numberMisscheduled: 0,
            };
      const url = `${api.url}/apis/apps/v1/namespaces/${o.metadata.namespace}/${res}/${o.metadata.name}/status`;
      const r = await fetch(url, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: JSON.stringify({ status }),
      });
      expect(r.status, await r.clone().text()).toBe(200);
    }
  }
}

function helmInstall(r: (typeof RELEASES)[number], timeoutMs: number, version = '1.28.3') {
  return installArgv(
    HELM,
    {
      release: r.name,
      namespace: NS,
      chart: { repository: 'oci://gcr.io/istio-release/charts', chart: r.chart, version },
      valuesFiles: r.values.map((v) => path.join(ROOT, v)),
      timeoutMs,
      createNamespace: true,
      upgrade: true,
    },
    { kubeconfig, context: `kind-${CLUSTER}` },
  );
}

const inEnv = <T>(fn: () => Promise<T>) => withEnv(env, fn);

beforeAll(async () => {
  api = await startTwinApiServer({ crds: [] });
  dir = mkdtempSync(path.join(os.tmpdir(), 'twin-tools-'));
  writeFileSync(path.join(dir, 'api.json'), JSON.stringify({ url: api.url }));
  kubeconfig = path.join(dir, 'kubeconfig');
  env = {
    TWIN_STATE_DIR: dir,
    PATH: [BIN, path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
  };
});
afterAll(async () => api.close());

describe('twin tools through the harness adapters', () => {
  it('kind: refuses what kind v0.30.0 refuses, prints its version', async () => {
    await inEnv(async () => {
      const bad = await run(['kind', 'create', 'cluster', '--nodes', '3'], { timeoutMs: T });
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toBe('ERROR: unknown flag: --nodes\n');
      const v = await run(['kind', 'version'], { timeoutMs: T });
      expect(v.stdout).toBe(fixture('kind/version.stdout'));
      expect(await listClusters('kind', T)).toEqual([]);
    });
  });

  it('kind create cluster writes a 0600 kubeconfig the harness clients use', async () => {
    await inEnv(async () => {
      const config = path.join(dir, 'kind-config.yaml');
      writeFileSync(
        config,
        'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n',
      );
      const r = await run(
        createArgv('kind', {
          name: CLUSTER,
          configPath: config,
          image: 'kindest/node:v1.34.0',
          kubeconfig,
          waitMs: 300_000,
        }),
        { timeoutMs: T },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain(`Set kubectl context to "kind-${CLUSTER}"`);
      expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
      const kube = makeClients(kubeconfig);
      const nodes = await kube.core.listNode();
      expect(nodes.items.map((n) => n.metadata?.name)).toEqual([
        `${CLUSTER}-control-plane`,
        `${CLUSTER}-worker`,
        `${CLUSTER}-worker2`,
      ]);
      expect(await listClusters('kind', T)).toEqual([CLUSTER]);
      const again = await run(
        createArgv('kind', {
          name: CLUSTER,
          configPath: config,
          image: 'kindest/node:v1.34.0',
          kubeconfig,
          waitMs: 1000,
        }),
        { timeoutMs: T },
      );
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain('node(s) already exist for a cluster with the name');
      const logs = await run(exportLogsArgv('kind', CLUSTER, path.join(dir, 'logs')), { timeoutMs: T });
      expect(logs.exitCode).toBe(0);
    });
  });

  it('docker: info and version as doctor reads them; node net.d is kindnet only before Istio', async () => {
    await inEnv(async () => {
      const info = await run(['docker', 'info', '--format', '{{json .}}'], { timeoutMs: T });
      expect((JSON.parse(info.stdout) as { ServerVersion: string }).ServerVersion).toBe('28.2.2');
      const v = await run(['docker', 'version', '--format', '{{.Client.Version}}'], { timeoutMs: T });
      expect(v.stdout).toBe('28.2.2\n');
      const dump = await nodeExec(`${CLUSTER}-worker`, NET_D_DUMP, T);
      expect(dump).toBe(fixture('node/net.d-clean.txt'));
      const rules = await nodeExec(`${CLUSTER}-worker`, RULES_DUMP, T);
      expect(rules).toBe(fixture('node/rules-clean.txt').replace(/==> ipset <==\n$/, ''));
      const missing = await run(['docker', 'exec', 'nope-control-plane', 'cat', '/etc/hostname'], {
        timeoutMs: T,
      });
      expect(missing.stderr).toBe('Error response from daemon: No such container: nope-control-plane\n');
    });
  });

  it('helm: a missing chart version, then --wait timing out while nothing is Ready', async () => {
    await inEnv(async () => {
      const missing = await run(helmInstall(RELEASES[1]!, 5000, '9.9.9'), { timeoutMs: T });
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toBe(
        'Error: failed to perform "FetchReference" on source: gcr.io/istio-release/charts/istiod:9.9.9: not found\n',
      );
      const bad = await run(['helm', 'list', '--all', '-o', 'json'], { timeoutMs: T });
      expect(bad.stderr).toBe('Error: unknown flag: --all\n');
      const r = await run(helmInstall(RELEASES[3]!, 1000), { timeoutMs: T });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('resource DaemonSet/istio-system/ztunnel not ready');
      expect(r.stderr).toContain('context deadline exceeded');
      const rows = await helmList(HELM, { kubeconfig }, T);
      expect(rows.map((x) => [x.name, x.status])).toEqual([['ztunnel', 'failed']]);
    });
  });

  it('helm upgrade --install of the four charts creates the inventory with helm metadata', async () => {
    const inv = inventoryFor('1.28.3', 'homelab');
    await inEnv(async () => {
      for (const rel of RELEASES) {
        const p = run(helmInstall(rel, 15_000), { timeoutMs: T });
        // Play the controllers: make the workloads Ready while helm waits.
        const ticker = setInterval(() => void markReady().catch(() => undefined), 200);
        const r = await p.finally(() => clearInterval(ticker));
        expect(r.exitCode, r.stderr).toBe(0);
      }
      const kube = makeClients(kubeconfig);
      const dep = await kube.apps.readNamespacedDeployment({ name: 'istiod', namespace: NS });
      expect(dep.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
      expect(dep.metadata?.annotations?.['meta.helm.sh/release-name']).toBe('istiod');
      expect(dep.metadata?.annotations?.['meta.helm.sh/release-namespace']).toBe(NS);
      expect(dep.spec?.template.spec?.containers[0]?.image).toBe(
        findObject(inv, 'Deployment', 'istiod')?.workload?.containers[0]?.image,
      );
      expect(dep.spec?.template.spec?.containers[0]?.resources?.requests).toEqual({
        cpu: '50m',
        memory: '128Mi',
      });
      const crd = await kube.apiext.readCustomResourceDefinition({
        name: 'peerauthentications.security.istio.io',
      });
      expect(crd.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');
      const ds = await kube.apps.readNamespacedDaemonSet({ name: 'istio-cni-node', namespace: NS });
      expect(ds.metadata?.annotations?.['meta.helm.sh/release-name']).toBe('istio-cni');
      const webhook = await kube.admission.readMutatingWebhookConfiguration({
        name: 'istio-sidecar-injector',
      });
      expect(webhook.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');

      const secrets = await kube.core.listNamespacedSecret({ namespace: NS, labelSelector: 'owner=helm' });
      const byName = Object.fromEntries(secrets.items.map((s) => [s.metadata?.name, s]));
      const istiod = byName['sh.helm.release.v1.istiod.v1'];
      expect(istiod?.type).toBe('helm.sh/release.v1');
      expect(istiod?.metadata?.labels).toMatchObject({
        owner: 'helm',
        name: 'istiod',
        status: 'deployed',
        version: '1',
      });
      expect(decodeRelease(istiod?.data?.release ?? '').config).toMatchObject({
        profile: 'ambient',
        replicaCount: 1,
      });
      // ztunnel was installed once already (failed): this was revision 2.
      expect(byName['sh.helm.release.v1.ztunnel.v2']?.metadata?.labels?.status).toBe('deployed');

      const rows = await helmList(HELM, { kubeconfig }, T);
      expect(rows.map((x) => [x.name, x.namespace, x.status, x.chart, x.app_version])).toEqual([
        ['istio-base', NS, 'deployed', 'base-1.28.3', '1.28.3'],
        ['istio-cni', NS, 'deployed', 'cni-1.28.3', '1.28.3'],
        ['istiod', NS, 'deployed', 'istiod-1.28.3', '1.28.3'],
        ['ztunnel', NS, 'deployed', 'ztunnel-1.28.3', '1.28.3'],
      ]);
      expect(rows[0]?.updated).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);

      // Every inventory object exists, with helm's metadata.
      const twin = new Kube(api.url);
      for (const o of allObjects(inv)) {
        const live = await twin.get(o.apiVersion, o.kind, o.name, o.namespace);
        expect(live?.metadata.annotations?.['meta.helm.sh/release-name'], `${o.kind} ${o.name}`).toBe(
          o.release,
        );
        expect(live?.metadata.labels).toMatchObject(o.labels);
      }
      const status = await run(['helm', 'status', 'istiod', '-n', NS], { timeoutMs: T });
      expect(status.stdout).toContain('STATUS: deployed\nREVISION: 1\n');
    });
  });

  it('docker exec sees istio-cni chained and its host rules while it runs', async () => {
    await inEnv(async () => {
      const dump = await nodeExec(`${CLUSTER}-worker`, NET_D_DUMP, T);
      expect(dump).toBe(fixture('node/net.d-with-istio.txt'));
      expect(istioCniLeftovers(splitDump(dump))).toEqual([
        '/etc/cni/net.d/10-kindnet.conflist: plugin "istio-cni" still chained',
      ]);
      const verdict = judgeNodeRules(parseRuleSections(await nodeExec(`${CLUSTER}-worker`, RULES_DUMP, T)), [
        'iptables-nft-save',
        'nft',
      ]);
      expect(verdict.leftovers).toContain('iptables-nft-save: chain ISTIO_POSTRT');
    });
  });

  it('helm uninstall --wait removes the releases but keeps resource-policy keep objects', async () => {
    await inEnv(async () => {
      for (const rel of [...RELEASES].reverse()) {
        const r = await run(uninstallArgv(HELM, rel.name, NS, 10_000, { kubeconfig }), { timeoutMs: T });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toContain(`release "${rel.name}" uninstalled`);
        if (rel.name === 'istio-base')
          expect(r.stdout).toContain(
            'These resources were kept due to the resource policy:\n[CustomResourceDefinition] ',
          );
      }
      const kube = makeClients(kubeconfig);
      expect((await kube.apps.listNamespacedDeployment({ namespace: NS })).items).toEqual([]);
      expect((await kube.apps.listNamespacedDaemonSet({ namespace: NS })).items).toEqual([]);
      expect(
        (await kube.core.listNamespacedSecret({ namespace: NS, labelSelector: 'owner=helm' })).items,
      ).toEqual([]);
      const crds = (await kube.apiext.listCustomResourceDefinition()).items.map((c) => c.metadata?.name);
      expect(crds).toHaveLength(14);
      expect(await helmList(HELM, { kubeconfig }, T)).toEqual([]);
      const again = await run(uninstallArgv(HELM, 'istiod', NS, 10_000, { kubeconfig }), { timeoutMs: T });
      expect(again.stderr).toBe('Error: uninstall: Release not loaded: istiod: release: not found\n');
      expect(await nodeExec(`${CLUSTER}-worker`, NET_D_DUMP, T)).toBe(fixture('node/net.d-clean.txt'));
    });
  });

  it('helm: metrics-server as the plan installs it; the harness’s APIService wait passes; uninstall removes it', async () => {
    const inv = addonInventoryFor('metrics-server', PINNED_MS.chartVersion);
    const target = { kubeconfig, context: `kind-${CLUSTER}` };
    const planned = plannedHelmInstall('addons.metrics-server', target);
    const MS_NS = planned.namespace;
    const NAME = 'v1beta1.metrics.k8s.io';
    const withArgv = (argv: string[], edit: (a: string, i: number) => string) => argv.map(edit);
    await inEnv(async () => {
      // Only the metrics-server repository serves the chart, and only its recorded version.
      const otherRepo = await run(
        withArgv(planned.argv, (a) => (a === planned.repo ? 'https://charts.example.com/' : a)),
        { timeoutMs: T },
      );
      expect(otherRepo.stderr).toBe(
        `Error: INSTALLATION FAILED: chart "metrics-server" version "${planned.version}" not found in https://charts.example.com/ repository\n`,
      );
      const otherVersion = await run(
        withArgv(planned.argv, (a) => (a === planned.version ? '3.12.2' : a)),
        { timeoutMs: T },
      );
      expect(otherVersion.stderr).toBe(
        `Error: INSTALLATION FAILED: chart "metrics-server" version "3.12.2" not found in ${planned.repo} repository\n`,
      );
      const otherChart = await run(
        withArgv(planned.argv, (a, i) => (i === 3 && a === planned.chart ? 'base' : a)),
        { timeoutMs: T },
      );
      expect(otherChart.stderr).toBe(
        `Error: INSTALLATION FAILED: chart "base" version "${planned.version}" not found in ${planned.repo} repository\n`,
      );

      const ctl = startControllers(api.store, {
        clusterName: CLUSTER,
        podStartDelayMs: 5,
        metricResolutionMs: 20,
      });
      try {
        // The plan's own command (harness/plan.ts through installArgv), run through the twin's helm.
        const r = await run(planned.argv, { timeoutMs: T });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toContain(`NAME: metrics-server\nLAST DEPLOYED: `);

        const kube = makeClients(kubeconfig);
        const dep = await kube.apps.readNamespacedDeployment({ name: 'metrics-server', namespace: MS_NS });
        const c = dep.spec?.template.spec?.containers.find((x) => x.name === 'metrics-server');
        expect(c?.image).toBe(PINNED_MS.image);
        expect(c?.args).toContain('--kubelet-insecure-tls');
        expect(dep.metadata?.annotations?.['meta.helm.sh/release-name']).toBe('metrics-server');
        // Every recorded object exists with helm's metadata, the APIService among them.
        const twin = new Kube(api.url);
        for (const o of inv.release.objects) {
          const live = await twin.get(o.apiVersion, o.kind, o.name, o.namespace);
          expect(live?.metadata.annotations?.['meta.helm.sh/release-namespace'], `${o.kind} ${o.name}`).toBe(
            MS_NS,
          );
          expect(live?.metadata.labels).toMatchObject(o.labels);
        }
        const secret = await kube.core.readNamespacedSecret({
          name: 'sh.helm.release.v1.metrics-server.v1',
          namespace: MS_NS,
        });
        expect(secret.type).toBe('helm.sh/release.v1');
        expect(secret.metadata?.labels).toMatchObject({
          owner: 'helm',
          name: 'metrics-server',
          status: 'deployed',
        });
        expect(decodeRelease(secret.data?.release ?? '').config).toEqual(inv.release.values);
        const rows = await helmList(HELM, target, T);
        expect(rows.map((x) => [x.name, x.namespace, x.status, x.chart, x.app_version])).toEqual([
          ['metrics-server', MS_NS, 'deployed', `metrics-server-${planned.version}`, inv.release.appVersion],
        ]);

        // The run's next metrics step: the harness's own wait, as the orchestrator calls it.
        await waitApiServiceAvailable(kube, NAME, {
          ...DEFAULT_TIMEOUTS,
          pollInterval: 20,
          metricsAvailable: 10_000,
        });
        const apisvc = await kube.apireg.readAPIService({ name: NAME });
        expect(apisvc.status?.conditions?.find((x) => x.type === 'Available')).toMatchObject({
          status: 'True',
          reason: 'Passed',
        });

        // Other image values rebuild the image as the chart's helper does; other values are refused.
        const reuse = plannedHelmInstall('addons.metrics-server', { ...target, mode: 'kind-reuse' });
        const mirror = withArgv(reuse.argv, (a) =>
          a.startsWith('image.repository=')
            ? 'image.repository=mirror.example/metrics-server'
            : a.startsWith('image.tag=')
              ? 'image.tag='
              : a,
        );
        const up = await run(mirror, { timeoutMs: T });
        expect(up.exitCode, up.stderr).toBe(0);
        const dep2 = await kube.apps.readNamespacedDeployment({ name: 'metrics-server', namespace: MS_NS });
        expect(dep2.spec?.template.spec?.containers[0]?.image).toBe(
          `mirror.example/metrics-server:v${inv.release.appVersion}`,
        );
        expect((await helmList(HELM, target, T))[0]?.revision).toBe('2');
        const noArgs = await run(
          withArgv(reuse.argv, (a) => (a === 'args={--kubelet-insecure-tls}' ? 'args={}' : a)),
          { timeoutMs: T },
        );
        expect(noArgs.exitCode).toBe(1);
        expect(noArgs.stderr).toContain('twin: metrics-server 3.13.1 is recorded with the values');

        const un = await run(uninstallArgv(HELM, 'metrics-server', MS_NS, 10_000, target), { timeoutMs: T });
        expect(un.exitCode, un.stderr).toBe(0);
        expect(un.stdout).toBe('release "metrics-server" uninstalled\n');
        for (const o of inv.release.objects)
          expect(
            await twin.get(o.apiVersion, o.kind, o.name, o.namespace),
            `${o.kind} ${o.name}`,
          ).toBeUndefined();
        expect(
          (await kube.core.listNamespacedSecret({ namespace: MS_NS, labelSelector: 'owner=helm' })).items,
        ).toEqual([]);
        expect(await helmList(HELM, target, T)).toEqual([]);
      } finally {
        await ctl.stop();
      }
    });
  });

  it('kind delete cluster removes the cluster, its kubeconfig context and its objects', async () => {
    await inEnv(async () => {
      const r = await run(deleteArgv('kind', CLUSTER, kubeconfig), { timeoutMs: T });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe(
        `Deleting cluster "${CLUSTER}" ...\nDeleted nodes: ["${CLUSTER}-control-plane" "${CLUSTER}-worker" "${CLUSTER}-worker2"]\n`,
      );
      expect(await listClusters('kind', T)).toEqual([]);
      expect(readFileSync(kubeconfig, 'utf8')).not.toContain(`kind-${CLUSTER}`);
      const left = (await (await fetch(`${api.url}/api/v1/nodes`)).json()) as { items: unknown[] };
      expect(left.items).toEqual([]);
      const gone = await run(['docker', 'exec', `${CLUSTER}-worker`, 'sh', '-c', NET_D_DUMP], {
        timeoutMs: T,
      });
      expect(gone.exitCode).toBe(1);
    });
  });
});
