import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import type { RunFacts } from '../facts.ts';
import { makeClients } from '../kube/client.ts';
import { serverVersion } from '../kube/ops.ts';

/**
 * globalSetup of the conformance project. The CLI (`ambient-conformance run`) has already run the
 * plan's preparation steps (preflight, cluster, install) exactly once and written the run's facts;
 * this checks that the cluster still answers and provides those facts to every test through
 * provide/inject. Only serializable facts cross: paths, versions, IDs, features.
 */
export default async function setup(project: TestProject): Promise<void> {
  const stateFile = process.env.AMBIENT_RUN_STATE;
  if (!stateFile) {
    throw new Error(
      'the conformance project runs through the CLI, which prepares the cluster first: use `npm run conformance` (or `npx ambient-conformance run --help`)',
    );
  }
  const facts = JSON.parse(readFileSync(stateFile, 'utf8')) as RunFacts;
  const kube = makeClients(facts.kubeconfig, facts.context);
  facts.kubernetesVersion = await serverVersion(kube);
  project.provide('facts', facts);
}
