import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PreflightError, WaitError } from './errors.ts';
import { Orchestrator } from './orchestrator.ts';
import { buildPlan, type PlanInput, type RunSettings } from './plan.ts';
import { KINDNET_HOST_TRAFFIC } from './kube/ops.ts';
import { loadProfile } from './profile/load.ts';
import { log } from './progress.ts';
import { fixture, makeFakeBin, withEnv } from '../test/helpers/fake-bin.ts';
import { kubeconfigFor, startFakeApiServer, type FakeApiServer } from '../test/helpers/fake-apiserver.ts';

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});
log.setSink({ write: () => undefined });

function setup() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'run-'));
  const runDir = path.join(root, 'reports', 'r1');
  const settings: RunSettings = {
    runId: 'r1',
    mode: 'kind',
    clusterName: 'ambient-conformance-r1r1',
    runDir,
    kubeconfig: path.join(runDir, 'kubeconfig'),
    context: 'kind-ambient-conformance-r1r1',
    useExistingIstio: false,
    keep: false,
    keepOnFailure: false,
    only: [],
    skip: [],
  };
  return { root, settings };
}

async function orchestrate(
  opts: {
    dockerUp?: boolean;
    istioReady?: boolean;
    kindCreate?: { stderr: string; exit: number };
    podReady?: string;
  } = {},
) {
  api = await startFakeApiServer({ istioReady: opts.istioReady ?? true });
  const { root, settings } = setup();
  const template = path.join(root, 'kubeconfig.template');
  writeFileSync(template, kubeconfigFor(api.url, settings.context ?? ''));
  const fake = makeFakeBin({
    docker: [
      {
        match: 'info',
        stdout: fixture(
          opts.dockerUp === false ? 'docker/info-daemon-down.stdout' : 'docker/info-daemon-up.stdout',
        ),
        ...(opts.dockerUp === false ? { stderr: fixture('docker/info-daemon-down.stderr'), exit: 1 } : {}),
      },
    ],
    kind: [
      { match: 'version', stdout: fixture('kind/version.stdout') },
      { match: 'get clusters', stderr: fixture('kind/get-clusters-none.stderr') },
      opts.kindCreate
        ? { match: 'create cluster', stderr: opts.kindCreate.stderr, exit: opts.kindCreate.exit }
        : {
            match: 'create cluster',
            stderr: fixture('kind/create-ok.stderr'),
            script: `while [ $# -gt 0 ]; do if [ "$1" = --kubeconfig ]; then cp '${template}' "$2"; fi; shift; done`,
          },
      { match: 'delete cluster', stderr: fixture('kind/delete.stderr') },
      { match: 'export logs', stdout: `${settings.runDir}/kind-logs\n` },
    ],
    helm: [
      { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
      { match: 'install', stdout: 'STATUS: deployed\n' },
    ],
  });
  const profile = loadProfile(undefined, {
    env: { AMBIENT_TIMEOUT_POD_READY: opts.podReady ?? '3s', AMBIENT_TIMEOUT_NODES_READY: '3s' },
  });
  const input: PlanInput = {
    profile,
    settings,
    kind: { name: 'kind', path: 'kind', version: 'v0.30.0', source: 'path', warnings: [] },
    helm: { name: 'helm', path: 'helm', version: 'v4.2.1', source: 'path', warnings: [], major: 4 },
  };
  const plan = buildPlan(input);
  const env = { PATH: fake.path, AMBIENT_TOOL_CACHE: path.join(root, 'cache', 'tools') };
  const orch = new Orchestrator(input, plan, undefined, { ...process.env, ...env });
  return { orch, plan, fake, env, settings };
}

const commandsOf = (plan: ReturnType<typeof buildPlan>, ids: (id: string) => boolean) =>
  plan.steps.filter((s) => s.command && ids(s.id)).map((s) => s.command?.slice(1));

describe('run executes exactly the plan (fake kind, helm, docker and API server)', () => {
  it('prepares a cluster: the executed commands are the plan’s, in order; teardown deletes the cluster', async () => {
    const { orch, plan, fake, env, settings } = await orchestrate();
    const facts = await withEnv(env, () => orch.prepare());

    expect(fake.calls('kind').filter((c) => c[0] !== 'version')).toEqual(
      commandsOf(plan, (id) => id.startsWith('cluster.')),
    );
    expect(fake.calls('helm').filter((c) => c[0] !== 'version')).toEqual(
      commandsOf(plan, (id) => id.startsWith('addons.') || id.startsWith('istio.install.')),
    );
    expect(fake.calls('docker')[0]).toEqual(plan.steps.find((s) => s.id === 'preflight')?.command?.slice(1));
    expect(statSync(settings.kubeconfig).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(settings.runDir, 'kind-config.yaml'))).toBe(true);

    expect(facts).toMatchObject({
      kubernetesVersion: 'v1.34.0',
      nodes: ['ambient-control-plane', 'ambient-worker', 'ambient-worker2'],
      installOrder: ['istio-base', 'istiod', 'istio-cni', 'ztunnel'],
    });
    expect(facts.features.metricsApi.available).toBe(true);
    // kind's kindnet never judges host traffic: NETPOL-07 is skipped there with the reason.
    expect(facts.features.hostTrafficJudged).toEqual({ available: false, reason: KINDNET_HOST_TRAFFIC });
    expect(api?.namespaces.get('loki')?.metadata).toMatchObject({
      labels: { 'istio.io/dataplane-mode': 'ambient', 'ambient-conformance.io/run-id': 'r1' },
    });
    expect((api?.namespaces.get('default')?.metadata as { labels: Record<string, string> }).labels).toEqual({
      'istio.io/dataplane-mode': 'ambient',
    });

    await withEnv(env, () => orch.teardown(false));
    expect(fake.calls('kind').at(-1)).toEqual(
      plan.steps.find((s) => s.id === 'cleanup.cluster')?.command?.slice(1),
    );
  });

  it('--keep deletes nothing', async () => {
    const { orch, fake, env } = await orchestrate();
    await withEnv(env, () => orch.prepare());
    await withEnv(env, () => orch.teardown(true));
    expect(fake.calls('kind').some((c) => c[0] === 'delete')).toBe(false);
  });

  it('stops at preflight, before touching kind, when the Docker daemon is down', async () => {
    const { orch, fake, env } = await orchestrate({ dockerUp: false });
    const e = await withEnv(env, () => orch.prepare()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as PreflightError).message).toBe('preflight failed: Docker daemon');
    expect(fake.calls('kind').filter((c) => c[0] !== 'version')).toEqual([]);
    expect(orch.phases.records.map((r) => [r.name, r.status])).toEqual([['preflight', 'failed']]);
  });

  it('a failed kind create still leaves a registered delete (half-created clusters are removed)', async () => {
    const { orch, fake, env } = await orchestrate({
      kindCreate: { stderr: fixture('kind/create-already-exists.stderr'), exit: 1 },
    });
    const e = await withEnv(env, () => orch.prepare()).catch((x: unknown) => x);
    expect((e as Error).message).toContain('already exists');
    await withEnv(env, () => orch.teardown(false));
    expect(fake.calls('kind').at(-1)?.slice(0, 2)).toEqual(['delete', 'cluster']);
  });

  it('fails fast, naming the pod, when ztunnel is in CrashLoopBackOff', async () => {
    // With a 60 s podReady timeout, failing fast means well before it (the whole prepare, with
    // its fake tools, takes a few seconds on a loaded 2-core machine).
    const { orch, env } = await orchestrate({ istioReady: false, podReady: '60s' });
    const t0 = performance.now();
    const e = await withEnv(env, () => orch.prepare()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WaitError);
    expect((e as WaitError).message).toContain(
      'istio-system/ztunnel-0 container istio-proxy is in CrashLoopBackOff after 5 restarts',
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
    await withEnv(env, () => orch.collectFailureArtifacts());
  });
});
