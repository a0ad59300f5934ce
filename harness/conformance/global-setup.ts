import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import type { RunFacts } from '../facts.ts';
import { makeClients } from '../kube/client.ts';
import { serverVersion } from '../kube/ops.ts';
import { Orchestrator } from '../orchestrator.ts';
import { buildPlan } from '../plan.ts';
import { loadProfile } from '../profile/load.ts';
import { log } from '../progress.ts';
import { envSwitch, resolveSettings } from '../settings.ts';
import { helmMajor, resolveTool } from '../tools.ts';

/**
 * globalSetup of the conformance project: preflight, cluster and install happen once, before any
 * test, and only serializable facts (paths, versions, IDs, features) reach the tests through
 * provide/inject.
 *
 * Through the CLI (`ambient-conformance run`, the usual way), the CLI has already executed the
 * plan's preparation steps, so that preflight fails without a stack trace, keep-on-failure can see
 * the results and Ctrl-C cleans up in one process; it hands over the facts in AMBIENT_RUN_STATE and
 * this only checks that the cluster still answers. Run directly (`vitest run --project
 * conformance`), this executes the same plan itself (embedded profile or AMBIENT_PROFILE) and
 * removes what it created afterwards, unless AMBIENT_KEEP=1 (AMBIENT_ONLY/AMBIENT_SKIP select tests,
 * AMBIENT_CLUSTER_NAME names the kind cluster).
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const stateFile = process.env.AMBIENT_RUN_STATE;
  if (stateFile) {
    const facts = JSON.parse(readFileSync(stateFile, 'utf8')) as RunFacts;
    const kube = makeClients(facts.kubeconfig, facts.context);
    facts.kubernetesVersion = await serverVersion(kube);
    project.provide('facts', facts);
    return undefined;
  }
  // Checked before anything is created: AMBIENT_KEEP=true must not be read as "do not keep".
  const keep = envSwitch(process.env, 'AMBIENT_KEEP');
  // Empty variables count as unset here, as for AMBIENT_TIMEOUT_*.
  const profile = loadProfile(process.env.AMBIENT_PROFILE || undefined);
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const settings = resolveSettings(
    {
      reportsDir: process.env.AMBIENT_REPORTS_DIR || 'reports',
      ...(process.env.AMBIENT_CLUSTER_NAME ? { clusterName: process.env.AMBIENT_CLUSTER_NAME } : {}),
      only: list(process.env.AMBIENT_ONLY),
      skip: list(process.env.AMBIENT_SKIP),
    },
    [],
    {
      names: {
        clusterName: 'AMBIENT_CLUSTER_NAME',
        reportsDir: 'AMBIENT_REPORTS_DIR',
        only: 'AMBIENT_ONLY',
        skip: 'AMBIENT_SKIP',
      },
    },
  );
  const timeoutMs = profile.timeouts.preflight;
  const [kind, helm] = await Promise.all([
    resolveTool('kind', { timeoutMs }),
    resolveTool('helm', { timeoutMs }),
  ]);
  const input = { profile, settings, kind, helm: { ...helm, major: helmMajor(helm.version) } };
  const orch = new Orchestrator(input, buildPlan(input));
  try {
    project.provide('facts', await orch.prepare());
  } catch (e) {
    await orch.collectFailureArtifacts().catch(() => undefined);
    await orch.teardown(keep);
    throw e;
  }
  return async () => {
    const problems = await orch.teardown(keep);
    if (problems.length) log.error(`cleanup left something behind: ${problems.join('; ')}`);
  };
}
