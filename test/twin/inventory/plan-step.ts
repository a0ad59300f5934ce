import { buildPlan, type RunSettings, type Step } from '../../../harness/plan.ts';
import { EMBEDDED_PROFILE, loadProfile } from '../../../harness/profile/load.ts';

/**
 * The helm command of a plan step, as harness/plan.ts builds it (through harness/helm.ts
 * installArgv) for the embedded profile: what scripts/twin-inventory.ts renders an addon chart
 * with, and what the twin's tests run through its fake helm. Taking it from the plan rather than
 * copying its values means a change to the plan's --set entries shows up as a stale inventory.
 */

export interface PlannedHelmInstall {
  step: Step;
  /** The command exactly as the plan runs it. */
  argv: string[];
  release: string;
  chart: string;
  /** --repo (an https repository) or the oci:// reference's registry path. */
  repo: string;
  version: string;
  namespace: string;
  valuesFiles: string[];
  set: string[];
}

const SETTINGS: RunSettings = {
  runId: '20261130-000000-twin',
  mode: 'kind',
  clusterName: 'ambient-conformance-twin',
  runDir: '/tmp/ambient-conformance-twin',
  kubeconfig: '/tmp/ambient-conformance-twin/kubeconfig',
  useExistingIstio: false,
  keep: false,
  keepOnFailure: false,
  only: [],
  skip: [],
};

/** Flags of installArgv's commands that take a value (`--flag value`). */
const VALUE_FLAGS = new Set([
  '--repo',
  '--version',
  '--namespace',
  '--values',
  '--set',
  '--timeout',
  '--kubeconfig',
  '--kube-context',
]);
/** Flags without a value (or with it inline: `--wait=watcher`). */
const BOOL_FLAGS = /^--(?:install|create-namespace|wait|force-conflicts|server-side)(?:=.*)?$/;

/**
 * The plan step `stepId` (default addons.metrics-server) for the embedded profile, with its helm
 * command taken apart. `settings` adjusts the run (kubeconfig, context, mode); `helm` is the
 * binary's path and major version. Throws if the step is missing or its command has a flag this
 * parser does not know, so a change to installArgv cannot be misread.
 */
export function plannedHelmInstall(
  stepId = 'addons.metrics-server',
  settings: Partial<RunSettings> = {},
  helm: { path: string; major: 3 | 4 } = { path: 'helm', major: 4 },
): PlannedHelmInstall {
  const plan = buildPlan({
    profile: loadProfile(EMBEDDED_PROFILE),
    settings: { ...SETTINGS, ...settings },
    kind: { name: 'kind', path: 'kind', version: 'v0.30.0', source: 'path', warnings: [] },
    helm: {
      name: 'helm',
      path: helm.path,
      version: 'v0.0.0',
      source: 'path',
      warnings: [],
      major: helm.major,
    },
  });
  const step = plan.steps.find((s) => s.id === stepId);
  if (!step?.command) throw new Error(`the plan has no step ${stepId} with a command`);
  const argv = step.command;
  const rest = argv.slice(1);
  if (rest[0] === 'upgrade' && rest[1] === '--install') rest.splice(0, 2);
  else if (rest[0] === 'install') rest.splice(0, 1);
  else throw new Error(`${stepId}: not a helm install: ${argv.join(' ')}`);
  const positional: string[] = [];
  const values = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? '';
    if (VALUE_FLAGS.has(a)) {
      const v = rest[++i];
      if (v === undefined) throw new Error(`${stepId}: ${a} without a value`);
      values.set(a, [...(values.get(a) ?? []), v]);
    } else if (BOOL_FLAGS.test(a)) continue;
    else if (a.startsWith('-')) throw new Error(`${stepId}: unexpected flag ${a} in ${argv.join(' ')}`);
    else positional.push(a);
  }
  const one = (flag: string) => {
    const v = values.get(flag);
    if (v?.length !== 1) throw new Error(`${stepId}: expected one ${flag}, got ${v?.length ?? 0}`);
    return v[0] ?? '';
  };
  const [release = '', chartArg = ''] = positional;
  if (positional.length !== 2)
    throw new Error(`${stepId}: expected RELEASE CHART, got ${positional.join(' ')}`);
  const oci = chartArg.startsWith('oci://');
  return {
    step,
    argv,
    release,
    chart: oci ? (chartArg.split('/').at(-1) ?? chartArg) : chartArg,
    repo: oci ? chartArg.slice(0, chartArg.lastIndexOf('/')) : one('--repo'),
    version: one('--version'),
    namespace: one('--namespace'),
    valuesFiles: values.get('--values') ?? [],
    set: values.get('--set') ?? [],
  };
}
