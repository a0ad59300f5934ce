import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  HELM_USAGE_ERROR,
  REAL_HELM,
  realHelm,
  realHelmUnavailable,
  runRealHelm,
} from '../test/helpers/real-helm.ts';
import type { ExecResult } from './exec.ts';
import { explainHelmFailure, listArgv, uninstallArgv } from './helm.ts';
import { buildPlan, istioInstall, type RunSettings } from './plan.ts';
import { loadProfile } from './profile/load.ts';

/**
 * The helm commands the plan builds, run through the real Helm 3 and Helm 4 command lines
 * (test/helpers/real-helm.ts): they must parse, and a failed chart download must be explained.
 * Every outbound connection goes to a closed loopback proxy, so nothing leaves this machine.
 */

const unavailable = realHelmUnavailable();
const FIXTURES = path.join(import.meta.dirname, '../test/fixtures/profiles');

const settings: RunSettings = {
  runId: '20261129-220000-ab12',
  mode: 'kind',
  clusterName: 'ambient-conformance-ab12',
  runDir: '/tmp/ambient-conformance-real-helm',
  kubeconfig: '/tmp/ambient-conformance-real-helm/kubeconfig',
  useExistingIstio: false,
  keep: false,
  keepOnFailure: false,
  only: [],
  skip: [],
};

function planFor(profile: ReturnType<typeof loadProfile>, major: 3 | 4, over: Partial<RunSettings>) {
  return buildPlan({
    profile,
    settings: { ...settings, ...over },
    kind: { name: 'kind', path: 'kind', version: 'v0.30.0', source: 'path', warnings: [] },
    helm: {
      name: 'helm',
      path: 'helm',
      version: major === 4 ? 'v4.1.4' : 'v3.17.2',
      source: 'path',
      warnings: [],
      major,
    },
  });
}

function installCommands(profile: ReturnType<typeof loadProfile>, major: 3 | 4, mode: RunSettings['mode']) {
  return planFor(profile, major, { mode }).steps.filter(
    (s) => s.command && (s.id.startsWith('istio.install.') || s.id === 'addons.metrics-server'),
  );
}

/**
 * Every helm command a run can execute: the plan's steps in each mode (kind, --reuse, existing
 * with and without --use-existing-istio: installs, metrics-server, release detection, cleanup
 * uninstalls), the commands tests run themselves (REMOVAL-02/04 uninstall, REMOVAL-04's reinstall)
 * and the version probe of tools.ts.
 */
function helmCommands(
  profile: ReturnType<typeof loadProfile>,
  major: 3 | 4,
): { id: string; command: string[] }[] {
  const helm = { path: 'helm', major };
  const target = { kubeconfig: settings.kubeconfig, context: 'kind-ambient-conformance-ab12' };
  const out: { id: string; command: string[] }[] = [];
  const modes: Partial<RunSettings>[] = [
    { mode: 'kind' },
    { mode: 'kind-reuse' },
    { mode: 'existing', context: 'staging' },
    { mode: 'existing', context: 'staging', useExistingIstio: true },
  ];
  for (const over of modes)
    for (const s of planFor(profile, major, over).steps)
      if (s.command?.[0] === 'helm') out.push({ id: `${over.mode ?? ''}:${s.id}`, command: s.command });
  for (const r of profile.releases) {
    out.push({
      id: `REMOVAL-04 reinstall ${r.name}`,
      command: istioInstall(profile, r, {
        helm,
        target,
        runDir: settings.runDir,
        timeoutMs: 300_000,
        createNamespace: false,
        upgrade: true,
      }).command,
    });
    out.push({
      id: `REMOVAL uninstall ${r.name}`,
      command: uninstallArgv(helm, r.name, profile.doc.istio.namespace, 300_000, target),
    });
  }
  out.push({ id: 'tools: version', command: ['helm', 'version', '--short'] });
  out.push({ id: 'helm list', command: listArgv(helm, target) });
  return out;
}

describe.skipIf(unavailable !== undefined)(`real helm (${unavailable ?? 'linux x86-64'})`, () => {
  const bins = new Map<number, string>();
  beforeAll(async () => {
    for (const pin of REAL_HELM) bins.set(pin.major, await realHelm(pin));
  }, 300_000);

  const profiles = {
    'embedded (https://blob.istio.io/istio-release/charts)': () => loadProfile(undefined, { env: {} }),
    'OCI (oci://ghcr.io/istio/release/charts)': () =>
      loadProfile(path.join(FIXTURES, 'valid-oci.yaml'), { env: {} }),
    'Istio 1.30 (global.hub set by the plan)': () =>
      loadProfile(undefined, { env: {}, istioVersion: '1.30.5' }),
  };

  for (const pin of REAL_HELM) {
    for (const [name, load] of Object.entries(profiles)) {
      it(`helm ${pin.version} parses every helm command of every mode of the ${name} plan`, async () => {
        const bin = bins.get(pin.major)!;
        for (const step of helmCommands(load(), pin.major)) {
          const r = await runRealHelm(bin, step.command);
          const what = `${step.id}: ${step.command.join(' ')}\n${r.output}`;
          expect(r.timedOut, what).toBe(false);
          expect(r.output, what).not.toMatch(HELM_USAGE_ERROR);
          // Parsed, then stopped where this machine stops it: the download or the cluster.
          if (step.command[1] !== 'version') expect(r.exitCode, what).not.toBe(0);
        }
      }, 180_000);
    }

    it(`helm ${pin.version}: the usage-error check catches an unknown flag (negative control)`, async () => {
      const r = await runRealHelm(bins.get(pin.major)!, ['helm', 'install', 'x', 'base', '--wait-for-godot']);
      expect(r.output).toMatch(HELM_USAGE_ERROR);
    });

    it.each([
      ['https://istio-release.storage.googleapis.com/charts', 'https://blob.istio.io/istio-release/charts'],
      ['oci://gcr.io/istio-release/charts', 'oci://ghcr.io/istio/release/charts'],
    ])(
      `helm ${pin.version}: a failed download from %s names the repository and its replacement`,
      async (repo, replacement) => {
        const profile = loadProfile(path.join(FIXTURES, 'valid-oci.yaml'), { env: {} });
        profile.doc.istio.chartRepository = repo;
        const step = installCommands(profile, pin.major, 'kind').find(
          (s) => s.id === 'istio.install.istiod',
        )!;
        const real = await runRealHelm(bins.get(pin.major)!, step.command!);
        expect(real.exitCode).not.toBe(0);
        const result: ExecResult = {
          argv: step.command!,
          exitCode: real.exitCode,
          stdout: '',
          stderr: real.output,
          durationMs: 1,
          timedOut: false,
          notFound: false,
          cancelled: false,
        };
        const e = explainHelmFailure('istiod', result, 300_000, {
          repository: repo,
          chart: 'istiod',
          version: '1.28.3',
        });
        expect(e.message).toContain('the chart download failed');
        expect(e.message).toContain(repo.startsWith('oci://') ? `${repo}/istiod:1.28.3` : `from ${repo}`);
        expect(e.details.fix).toContain(`set istio.chartRepository to ${replacement}`);
        expect(e.details.seen).toContain(real.output.trim().split('\n').pop());
      },
      60_000,
    );
  }
});
