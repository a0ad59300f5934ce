import path from 'node:path';
import { readGitopsFolder } from '../../cli/upgrade.ts';
import { PINS } from '../../harness/pins.ts';
import { parseGitops, type GitopsApp } from '../../harness/upgrade/gitops.ts';
import type { ChartFacts, PlanProfile } from '../../harness/upgrade/plan.ts';
import { recordedInventory, recordedRender } from '../../harness/upgrade/recorded.ts';

/** Fixtures of the upgrade plan's tests. */
export const HOMELAB_GITOPS = path.join(import.meta.dirname, '..', '..', 'profiles', 'homelab', 'argocd');

/** The homelab's Applications (profiles/homelab/argocd, rebuilt from the homelab runbook). */
export function homelabApps(): GitopsApp[] {
  const { files } = readGitopsFolder(HOMELAB_GITOPS);
  return parseGitops({ dir: 'profiles/homelab/argocd', files, readValuesFile: (rel) => files.get(rel) });
}

/** Chart facts from the recorded inventories and renders only (what CI has). */
export const recordedFacts: ChartFacts = {
  keys: (chart, version) =>
    recordedInventory(chart, version) ?? { missing: `no recorded inventory of ${chart} ${version}` },
  render: (request, version) =>
    recordedRender(version, request) ?? { missing: `no recorded render of ${request.chart} ${version}` },
};

/** The embedded homelab profile as the plan sees it (values abridged to what the tests use). */
export const homelabProfile: PlanProfile = {
  name: 'homelab',
  file: 'profiles/homelab/profile.yaml',
  chartRepository: 'https://blob.istio.io/istio-release/charts',
  nodeImage: PINS.nodeImage,
  meshedNamespaces: ['default', 'loki', 'localstack', 'argo-workflows', 'unipoller', 'trivy-system'],
  releases: [
    { name: 'istio-base', chart: 'base', values: {} },
    {
      name: 'istiod',
      chart: 'istiod',
      values: { profile: 'ambient', replicaCount: 1 },
      valuesFile: 'profiles/homelab/istiod-values.yaml',
    },
    {
      name: 'istio-cni',
      chart: 'cni',
      values: { profile: 'ambient' },
      valuesFile: 'profiles/homelab/cni-values.yaml',
    },
    { name: 'ztunnel', chart: 'ztunnel', values: {} },
  ],
};
