import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { istioInstall } from '../../harness/plan.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { catalog } from '../../suites/catalog.ts';
import { runtimeProcesses } from './pods.ts';
import { kindClusters as listKindClusters, RunObjects, runCli } from './run-helpers.ts';
import { startTwin, TWIN_BIN, type Twin } from './twin.ts';

/**
 * The whole suite on the twin (issue 12): `ambient-conformance run` as a user runs it, through the
 * CLI, the plan and orchestrator, the twin's kind and helm as processes, Vitest's conformance
 * project, client-node over HTTP and WebSocket, and the reports. Every claim must pass, or skip
 * with the reason a real kind cluster gives.
 */

const MINUTE = 60_000;
let twin: Twin;

beforeAll(async () => {
  twin = await startTwin();
});
afterAll(async () => twin?.close());

const ids = catalog.map((t) => t.id);
/** Claims a kind cluster skips, and the words of the reason it gives. */
const KIND_SKIPS: Record<string, RegExp> = {
  // kindnet never judges host traffic (kube-network-policies accepts the node's root-owned packets).
  'NETPOL-07': /kindnet/,
  'REMOVAL-04': /--destructive/,
};

const kindClusters = () => listKindClusters(twin);

describe('the default run on the twin', () => {
  it(
    'runs every claim of the catalog end to end, writes and reads back every report, deletes the cluster and leaves nothing',
    async () => {
      const objects = new RunObjects(twin);
      const r = await runCli(twin, ['run'], 4 * MINUTE);
      objects.close();
      process.stderr.write(`twin: the default run took ${(r.ms / 1000).toFixed(1)}s\n`);
      expect(r.exitCode, r.out).toBe(0);

      // Every claim ran: passed, or skipped for kind's reason.
      const results = r.report.results;
      expect(Object.keys(results).sort()).toEqual([...ids].sort());
      for (const id of ids) {
        const skip = KIND_SKIPS[id];
        const res = results[id];
        if (skip) {
          expect(res?.status, `${id}: ${JSON.stringify(res)}`).toBe('SKIP');
          expect(res?.reason, id).toMatch(skip);
        } else expect(res?.status, `${id}: ${JSON.stringify(res)}\n${r.out.slice(-4000)}`).toBe('PASS');
      }
      expect(r.report.summary).toMatchObject({ failed: 0, passed: ids.length - 2, skipped: 2 });

      // The reports, read back.
      const summary = readFileSync(path.join(r.dir, 'summary.md'), 'utf8');
      for (const id of ids) expect(summary).toContain(id);
      const junit = readFileSync(path.join(r.dir, 'junit.xml'), 'utf8');
      expect(junit.match(/<testcase /g)?.length).toBe(ids.length);
      expect(junit).not.toContain('<failure');
      const allure = readdirSync(path.join(r.dir, 'allure-results')).filter((f) =>
        f.endsWith('-result.json'),
      );
      const allureIds = allure.map(
        (f) =>
          (
            JSON.parse(readFileSync(path.join(r.dir, 'allure-results', f), 'utf8')) as {
              labels: { name: string; value: string }[];
            }
          ).labels.find((l) => l.name === 'AS_ID' || l.name === 'allure_id')?.value,
      );
      expect(allure.length, 'one Allure result per claim').toBe(ids.length);
      expect(allureIds.filter(Boolean).length).toBeGreaterThanOrEqual(0);
      // What the claims attached is in the run folder: the wire capture's verdicts, the budget table.
      const verdicts = JSON.parse(
        readFileSync(path.join(r.dir, 'artifacts', 'MTLS-03', 'capture-verdicts.json'), 'utf8'),
      ) as Record<string, { markerSeen: boolean; serverPorts: number[] }>;
      expect(verdicts.plaintext?.markerSeen).toBe(true);
      expect(verdicts.meshed).toMatchObject({ markerSeen: false, serverPorts: [15008] });
      expect(readFileSync(path.join(r.dir, 'artifacts', 'BUDGET-01', 'budget.md'), 'utf8')).toContain(
        'ztunnel',
      );
      // kind delete took the cluster out of the run's kubeconfig, as the real kind does.
      expect(readFileSync(path.join(r.dir, 'kubeconfig'), 'utf8')).not.toMatch(/kind-ambient-conformance-/);

      // The cluster is gone, and the run's own cleanup had removed everything it labelled before
      // kind deleted the cluster.
      expect(await kindClusters()).toBe('No kind clusters found.');
      expect(twin.store.list({ group: '', resource: 'nodes' })).toEqual([]);
      expect(objects.created.size, 'the run labels what it creates').toBeGreaterThan(0);
      // In kind mode the run leaves its own namespaces (the profile's, created in the workloads
      // phase) to the cluster's deletion; everything the claims created was gone before.
      const profile = loadProfile(undefined, { env: {} }).doc.mesh;
      const runNamespaces = [...profile.meshedNamespaces, profile.controlNamespace]
        .filter((n) => n !== 'default')
        .map((n) => `core/namespaces ${n}`)
        .sort();
      expect(objects.atClusterDeletion).toEqual(runNamespaces);
      expect(objects.left()).toEqual([]);
      // No process of the twin's pods is left (the runtime kills them with their pods).
      expect(runtimeProcesses(twin.runtime.tag)).toEqual([]);
      expect(r.ms, 'one run of the whole catalog on the twin').toBeLessThan(2 * MINUTE);
    },
    5 * MINUTE,
  );
});

describe('the other modes, once each', () => {
  it(
    '--destructive and --keep-on-failure with a failing claim keep the cluster; --reuse then uses it again and keeps it',
    async () => {
      // A budget no ztunnel meets: BUDGET-01 fails as it would on a cluster over budget.
      const dir = path.join(twin.stateDir, 'tight');
      const profileDir = path.join(import.meta.dirname, '..', '..', 'profiles', 'homelab');
      await execa('cp', ['-r', profileDir, dir]);
      const file = path.join(dir, 'profile.yaml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8')
          .replace('ztunnel: { cpu: 100m, memory: 96Mi }', 'ztunnel: { cpu: 100m, memory: 1Mi }')
          .replace(
            '../../clusters/kind-3node.yaml',
            path.join(profileDir, '..', '..', 'clusters', 'kind-3node.yaml'),
          ),
      );
      const name = 'ambient-conformance-kept';
      const failed = await runCli(
        twin,
        [
          'run',
          '--profile',
          file,
          '--destructive',
          '--keep-on-failure',
          '--cluster-name',
          name,
          '--only',
          'BUDGET-01,REMOVAL-04',
        ],
        3 * MINUTE,
      );
      expect(failed.exitCode, failed.out).toBe(1);
      // REMOVAL-04 uninstalls the data plane from under enrolled pods and puts it back.
      expect(failed.report.results['REMOVAL-04']?.status, failed.out.slice(-3000)).toBe('PASS');
      expect(failed.report.results['BUDGET-01']?.status).toBe('FAIL');
      expect(JSON.stringify(failed.report.results['BUDGET-01'])).toMatch(/ztunnel/);
      expect(await kindClusters(), 'kept after a failure').toBe(name);
      const kept = twin.store
        .list({ group: '', resource: 'namespaces' })
        .map((n) => n.metadata.name ?? '')
        .filter((n) => n.startsWith('budget-01'));
      expect(kept.length, 'the failing claim’s namespaces are kept for inspection').toBeGreaterThan(0);

      const again = await runCli(
        twin,
        ['run', '--reuse', '--cluster-name', name, '--only', 'INSTALL-02,MTLS-01'],
        3 * MINUTE,
      );
      expect(again.exitCode, again.out).toBe(0);
      expect(again.report.results['MTLS-01']?.status, again.out.slice(-3000)).toBe('PASS');
      expect(await kindClusters(), 'a reused cluster is kept again').toBe(name);
      const del = await execa(path.join(TWIN_BIN, 'kind'), ['delete', 'cluster', '--name', name], {
        env: twin.env(),
        extendEnv: false,
        reject: false,
      });
      expect(del.exitCode).toBe(0);
    },
    6 * MINUTE,
  );

  it(
    'an existing cluster (--kubeconfig): the run installs Istio, tests, and removes only what it installed and created; with --use-existing-istio it tests the Istio it finds and leaves it',
    async () => {
      // The user's cluster, made outside any run.
      const kubeconfig = path.join(twin.stateDir, 'user.kubeconfig');
      const tools = { env: twin.env(), extendEnv: false, reject: false } as const;
      const config = path.join(import.meta.dirname, '..', '..', 'clusters', 'kind-3node.yaml');
      const made = await execa(
        path.join(TWIN_BIN, 'kind'),
        ['create', 'cluster', '--name', 'users', '--config', config, '--kubeconfig', kubeconfig],
        tools,
      );
      expect(made.exitCode, String(made.stderr)).toBe(0);
      const istioDeployments = () =>
        twin.store
          .list({ group: 'apps', resource: 'deployments' })
          .filter((d) => d.metadata.namespace === 'istio-system');

      const objects = new RunObjects(twin);
      const own = await runCli(
        twin,
        ['run', '--kubeconfig', kubeconfig, '--only', 'INSTALL-02,MTLS-02'],
        3 * MINUTE,
      );
      objects.close();
      expect(own.exitCode, own.out).toBe(0);
      expect(own.report.results['MTLS-02']?.status, own.out.slice(-3000)).toBe('PASS');
      expect(await kindClusters(), 'the user’s cluster stays').toBe('users');
      expect(istioDeployments(), 'the Istio this run installed is uninstalled').toEqual([]);
      expect(objects.left()).toEqual([]);

      // Istio installed by its owner, as the profile says, outside any run.
      const profile = loadProfile(undefined, { env: {} });
      for (const release of profile.releases) {
        const { command } = istioInstall(profile, release, {
          helm: { path: path.join(TWIN_BIN, 'helm'), major: 4 },
          target: { kubeconfig, context: 'kind-users' },
          runDir: twin.stateDir,
          timeoutMs: 60_000,
          createNamespace: true,
          upgrade: false,
        });
        const r = await execa(command[0] ?? '', command.slice(1), tools);
        expect(r.exitCode, String(r.stderr)).toBe(0);
      }
      const before = istioDeployments().map((d) => `${d.metadata.name}@${d.metadata.resourceVersion}`);
      const theirs = new RunObjects(twin);
      const r = await runCli(
        twin,
        ['run', '--kubeconfig', kubeconfig, '--use-existing-istio', '--only', 'INSTALL-02,MTLS-01,AUTHZ-01'],
        3 * MINUTE,
      );
      theirs.close();
      expect(r.exitCode, r.out).toBe(0);
      for (const id of ['INSTALL-02', 'MTLS-01', 'AUTHZ-01'])
        expect(r.report.results[id]?.status, `${id}\n${r.out.slice(-3000)}`).toBe('PASS');
      expect(
        istioDeployments().map((d) => `${d.metadata.name}@${d.metadata.resourceVersion}`),
        'the owner’s Istio is left exactly as it was',
      ).toEqual(before);
      expect(theirs.created.size).toBeGreaterThan(0);
      expect(theirs.left()).toEqual([]);
      await execa(path.join(TWIN_BIN, 'kind'), ['delete', 'cluster', '--name', 'users'], tools);
    },
    6 * MINUTE,
  );
});
