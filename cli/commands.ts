/**
 * The commands' bodies, loaded by cli/main.ts only when a command runs (so `--version`, `--help`
 * and `netpol matrix` do not pay for the orchestrator, the API client or the suites).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as ReportWrite from '../harness/report/write.ts';
import {
  InterruptedError,
  isConformanceError,
  PreflightError,
  throwIfInterrupted,
} from '../harness/errors.ts';
import type { RunFacts } from '../harness/facts.ts';
import { buildPlan, planToJson, type PlanInput, type RunSettings } from '../harness/plan.ts';
import { renderPlanText } from '../harness/plan-text.ts';
import { displayPath, type Profile } from '../harness/profile/core.ts';
import { loadProfileQuick } from '../harness/profile/quick.ts';
import { PhaseClock, log } from '../harness/progress.ts';
import { deselected } from '../harness/conformance/define.ts';
import {
  mergeWithCatalog,
  verdict,
  withoutCancelled,
  type TestResultRecord,
} from '../harness/report/results.ts';
import { redact } from '../harness/redact.ts';
import { humanDuration, resolveTimeouts } from '../harness/timeouts.ts';
import { helmMajor, minimumHelmFor, resolveTool } from '../harness/tools.ts';
import { records as catalog } from '../suites/records.ts';
import {
  checkKubeconfig,
  defaultKubeconfig,
  refuseEmpty,
  resolveSettings,
  type RunFlags,
} from '../harness/settings.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

interface Prepared {
  profile: Profile;
  settings: RunSettings;
  input: PlanInput;
}

async function prepare(flags: RunFlags & { verbose?: boolean }, signal?: AbortSignal): Promise<Prepared> {
  if (flags.verbose) log.setVerbose(true);
  // loadProfile checks --istio-version first, with the validator istio.version uses
  // (harness/istio/versions.ts checkIstioVersion), and refuses an empty --profile.
  const profile = await loadProfileQuick(
    flags.profile,
    flags.istioVersion !== undefined ? { istioVersion: flags.istioVersion } : {},
  );
  for (const w of profile.warnings) log.warn(w);
  for (const n of profile.notices) log.info(n);
  const settings = resolveSettings(flags, catalog);
  const timeoutMs = profile.timeouts.preflight;
  const [kind, helm] = await Promise.all([
    resolveTool('kind', { timeoutMs, ...(signal ? { signal } : {}) }),
    resolveTool('helm', {
      timeoutMs,
      minimum: minimumHelmFor(profile.doc.istio.chartRepository),
      ...(signal ? { signal } : {}),
    }),
  ]);
  for (const w of [...kind.warnings, ...helm.warnings]) log.warn(w);
  return {
    profile,
    settings,
    input: { profile, settings, kind, helm: { ...helm, major: helmMajor(helm.version) } },
  };
}

export async function planCommand(flags: RunFlags & { json?: boolean; verbose?: boolean }): Promise<number> {
  const { input } = await prepare(flags);
  const plan = buildPlan(input);
  if (flags.json) {
    // What the plan decided about the profile travels with the steps, for scripts.
    const json = {
      ...planToJson(plan),
      warnings: input.profile.warnings,
      notices: input.profile.notices,
      retiredHosts: input.profile.retiredHosts.map((h) => ({
        file: displayPath(h.file),
        field: h.field,
        use: h.use,
        value: h.value,
        retired: h.retired,
        replacement: h.replacement,
      })),
    };
    process.stdout.write(`${redact(JSON.stringify(json, null, 2))}\n`);
    return 0;
  }
  process.stdout.write(`${redact(renderPlanText(plan))}\n`);
  return 0;
}

export async function doctorCommand(flags: {
  kubeconfig?: string;
  context?: string;
  profile?: string;
  json?: boolean;
}): Promise<number> {
  const { renderDoctor, runDoctor } = await import('../harness/doctor.ts');
  const needDocker = flags.kubeconfig === undefined && flags.context === undefined;
  // For an existing cluster the kubeconfig is checked as `run` checks it (exit 2 when unusable).
  if (!needDocker) {
    refuseEmpty({ kubeconfig: flags.kubeconfig, context: flags.context });
    checkKubeconfig(path.resolve(flags.kubeconfig ?? defaultKubeconfig(process.env)), flags.context);
  }
  // The profile a run would use (a bad one exits 2 here, as in run): its hosts are checked too.
  const profile = await loadProfileQuick(flags.profile);
  for (const w of profile.warnings) log.warn(w);
  for (const n of profile.notices) log.info(n);
  const report = await runDoctor({ timeoutMs: resolveTimeouts().preflight, needDocker, profile });
  if (flags.json) process.stdout.write(`${JSON.stringify(report.checks, null, 2)}\n`);
  else process.stdout.write(`${renderDoctor(report)}\n`);
  if (!report.ok) {
    const failed = report.checks.filter((c) => c.status === 'fail');
    process.stderr.write(
      `doctor: ${failed.length} problem(s) stop a run: ${failed.map((c) => `${c.name} (${c.fix ?? c.detail})`).join('; ')}\n`,
    );
    return 3;
  }
  return 0;
}

function readResults(file: string): TestResultRecord[] {
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as TestResultRecord[];
}

/**
 * Runs the conformance project in this process. Vitest's logger installs SIGINT/SIGTERM handlers
 * that exit the process 1 ms later (vitest/node Logger.addCleanupListeners), which would skip the
 * run's own cleanup; they are removed once Vitest exists, and the run's signal handler stops
 * Vitest itself (`stopVitest`). `started` receives that stopper.
 */
async function runVitest(
  runDir: string,
  stateFile: string,
  started: (stop: () => Promise<void>) => void,
): Promise<void> {
  process.env.AMBIENT_RUN_DIR = runDir;
  process.env.AMBIENT_RUN_STATE = stateFile;
  const { createVitest } = await import('vitest/node');
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((sig) => [sig, process.listeners(sig)]));
  const vitest = await createVitest('test', {
    root: ROOT,
    config: path.join(ROOT, 'vitest.config.ts'),
    project: ['conformance'],
    run: true,
    watch: false,
    passWithNoTests: false,
  });
  for (const sig of signals)
    for (const l of process.listeners(sig)) if (!(before.get(sig) ?? []).includes(l)) process.off(sig, l);
  started(async () => {
    // Cancel what is left and stop the workers; a test in the middle of a call is abandoned.
    void vitest.cancelCurrentRun('keyboard-input').catch(() => undefined);
    const { settleWithin } = await import('../harness/wait.ts');
    await settleWithin(vitest.close(), 3000);
  });
  try {
    await vitest.start();
  } finally {
    await vitest.close();
  }
}

export async function runCommand(flags: RunFlags & { verbose?: boolean }): Promise<number> {
  // What only a run needs, loaded when it starts (list and plan stay light).
  const [
    { Orchestrator },
    { installSignalCleanup, renderLeftovers, writeLeftoversRecord },
    { consoleSummary },
    { settleWithin },
  ] = await Promise.all([
    import('../harness/orchestrator.ts'),
    import('../harness/cleanup.ts'),
    import('../harness/report/render.ts'),
    import('../harness/wait.ts'),
  ]);
  const { writeReports } = await import('../harness/report/write.ts');
  const writeRunReports = (...args: RunReportArgs) => writeRunReportsWith(writeReports, ...args);
  const startedAt = new Date();
  // A signal while the tools are probed: nothing exists yet, so stop with a message and no reports.
  const early = new AbortController();
  const onEarly = (sig: NodeJS.Signals) =>
    early.abort(
      new InterruptedError(`interrupted by ${sig} before the run started: nothing was created`, sig),
    );
  process.on('SIGINT', onEarly);
  process.on('SIGTERM', onEarly);
  let prepared: Prepared;
  try {
    prepared = await prepare(flags, early.signal);
  } finally {
    process.off('SIGINT', onEarly);
    process.off('SIGTERM', onEarly);
  }
  throwIfInterrupted(early.signal, 'run');
  const { profile, settings, input } = prepared;
  mkdirSync(settings.runDir, { recursive: true });
  const plan = buildPlan(input);
  writeFileSync(path.join(settings.runDir, 'plan.json'), redact(JSON.stringify(planToJson(plan), null, 2)));
  log.info(
    `ambient-conformance ${VERSION}: run ${settings.runId}, Istio ${profile.doc.istio.version}, ${settings.mode === 'existing' ? `existing cluster (${settings.context ?? 'current context'})` : `kind cluster ${settings.clusterName}`}`,
  );
  log.info(`reports: ${settings.runDir}`);

  const phases = new PhaseClock();
  // The run's signal cancels the step in flight and everything after it; cleanup runs under its
  // own, which only a second signal aborts.
  const runCtl = new AbortController();
  const cleanupCtl = new AbortController();
  const orch = new Orchestrator(input, plan, phases, process.env, {
    signal: runCtl.signal,
    cleanupSignal: cleanupCtl.signal,
  });
  const leftoversFile = path.join(settings.runDir, 'leftovers.json');
  const recordLeftovers = (state: string) =>
    writeLeftoversRecord(leftoversFile, settings.runId, state, orch.leftovers());
  let interrupted = false;
  let stopVitest: (() => Promise<void>) | undefined;
  let inFlight: Promise<unknown> | undefined;
  let facts: RunFacts | undefined;
  // The run's own cleanup phase once it has started: a signal during it lets it finish (the
  // second signal abandons it) instead of starting another.
  const cleanup: { run?: Promise<string[]> } = {};
  const removeSignals = installSignalCleanup({
    first: async (signal) => {
      interrupted = true;
      const during = phases.current ?? (facts ? 'reports' : 'setup');
      const what = `interrupted by ${signal} during ${during}`;
      log.warn(
        `${signal} received during ${during}: cancelling the step in flight, then removing what this run created (send a second signal to stop cleanup at once)`,
      );
      // The first signal does not stop the run's cleanup (the second does).
      phases.interrupt(what, { goesOn: during === 'cleanup' });
      runCtl.abort(new InterruptedError(what, signal));
      // Within moments of the signal: what exists and how to remove it, in case a SIGKILL follows.
      recordLeftovers(`${what}; ${settings.keep ? 'kept (--keep)' : 'cleanup starting'}`);
      // The cancelled step and Vitest stop (both bounded: SIGKILL 3 s after SIGTERM) before
      // anything is deleted under them.
      await Promise.all([settleWithin(inFlight, 3_500), stopVitest?.()]);
      // Tests that finished keep their results; the others are NOT RUN with the reason.
      const done = withoutCancelled(readResults(path.join(settings.runDir, 'results.json')), (id) =>
        deselected(id, { only: settings.only, skip: settings.skip }),
      );
      const notRun = `not run: ${what}`;
      writeRunReports(settings, profile, phases, facts ?? orch.facts(), done, startedAt, notRun);
      // With --keep nothing is removed: the record lists what is kept, and stays so.
      const kept = settings.keep ? orch.leftovers() : undefined;
      const failures = await (cleanup.run ??
        phases
          .phase(
            'cleanup',
            settings.keep ? 'keeping resources (--keep)' : 'removing what this run created',
            () => orch.teardown(settings.keep),
          )
          .catch((e: unknown) => [errorText(e, false)]));
      if (kept) writeLeftoversRecord(leftoversFile, settings.runId, `${what}; kept (--keep)`, kept);
      else
        recordLeftovers(
          failures.length ? `${what}; cleanup left something behind` : `${what}; cleanup finished`,
        );
      writeRunReports(settings, profile, phases, facts ?? orch.facts(), done, startedAt, notRun);
      process.stderr.write(
        `\n${what}. ${failures.length ? `Cleanup left something behind:\n${renderLeftovers(orch.leftovers())}` : kept ? `Kept (--keep):\n${renderLeftovers(kept)}` : 'Everything this run created was removed.'}\nReports: ${settings.runDir}\n`,
      );
    },
    second: (signal) => {
      cleanupCtl.abort(new InterruptedError(`cleanup abandoned (a second signal: ${signal})`, signal));
      recordLeftovers(`cleanup abandoned (a second signal: ${signal})`);
      process.stderr.write(
        `\n${signal} (a second signal): cleanup abandoned. Left behind:\n${renderLeftovers(orch.leftovers())}\n(recorded in ${leftoversFile}; \`ambient-conformance clean\` removes what runs of this tool left in a cluster of yours)\n`,
      );
    },
  });
  // After a signal the handler owns the rest of the run (interrupted reports, cleanup, exit):
  // nothing here may overwrite its reports or start more work.
  const parkIfInterrupted = async () => {
    if (interrupted) await new Promise<never>(() => undefined);
  };

  let setupError: unknown;
  try {
    inFlight = orch.prepare();
    facts = (await inFlight) as RunFacts;
  } catch (e) {
    setupError = e;
  }
  await parkIfInterrupted();

  let results: TestResultRecord[] = [];
  if (facts) {
    const stateFile = path.join(settings.runDir, 'run-state.json');
    writeFileSync(stateFile, JSON.stringify(facts, null, 2));
    await phases
      .phase('tests', `conformance suites (${catalog.length} claims)`, async () => {
        await runVitest(settings.runDir, stateFile, (stop) => {
          stopVitest = stop;
        });
      })
      .catch((e: unknown) => {
        setupError ??= e;
      });
    await parkIfInterrupted();
    results = readResults(path.join(settings.runDir, 'results.json'));
  } else {
    phases.skipped('tests', 'preparation failed');
  }

  const setupMessage = setupError === undefined ? 'not run' : errorText(setupError, false);
  // Written now and again after cleanup (with its phase); the same inputs both times.
  const report = () =>
    writeRunReports(
      settings,
      profile,
      phases,
      facts ?? orch.facts(),
      results,
      startedAt,
      `not run: ${setupMessage}`,
    );
  const merged = report();
  const failed = setupError !== undefined || merged.some((r) => r.status === 'FAIL');

  if (setupError !== undefined) {
    process.stderr.write(`\n${errorText(setupError, true)}\n\n`);
  }
  const isPreflight = setupError instanceof PreflightError;
  if (failed && !isPreflight && settings.mode === 'kind') {
    inFlight = phases.phase('diagnostics', 'kind export logs', () => orch.collectFailureArtifacts());
    await inFlight.catch(() => undefined);
    await parkIfInterrupted();
  }
  const keep = settings.keep || (failed && settings.keepOnFailure);
  cleanup.run = phases
    .phase('cleanup', keep ? 'keeping resources' : 'removing what this run created', () =>
      orch.teardown(keep),
    )
    .catch((e: unknown) => [String(e)]);
  const cleanupFailures = await cleanup.run;
  await parkIfInterrupted();
  removeSignals();
  if (cleanupFailures.length) recordLeftovers('cleanup left something behind');
  report();

  if (!interrupted) {
    process.stdout.write(`\n${consoleSummary(merged)}\n`);
    const total = humanDuration(Date.now() - startedAt.getTime());
    process.stdout.write(
      `${verdict(merged, phases.records).toUpperCase()} in ${total}. Reports: ${settings.runDir}/{summary.md,conformance-report.json,junit.xml,allure-results/}\n`,
    );
  }
  if (cleanupFailures.length) {
    process.stderr.write(
      `cleanup left something behind:\n  ${cleanupFailures.join('\n  ')}\n${renderLeftovers(orch.leftovers())}\n(recorded in ${leftoversFile})\n`,
    );
    return 1;
  }
  if (isPreflight) return (setupError as PreflightError).exitCode;
  return failed ? 1 : 0;
}

/** A failure as a user reads it: our errors rendered with their fix; anything else with its message. */
function errorText(e: unknown, full: boolean): string {
  if (isConformanceError(e)) return full ? e.render() : e.message;
  if (e instanceof Error) return e.message;
  return typeof e === 'string' ? e : JSON.stringify(e);
}

type RunReportArgs = [
  settings: RunSettings,
  profile: Profile,
  phases: PhaseClock,
  facts: Partial<RunFacts>,
  results: TestResultRecord[],
  startedAt: Date,
  notRunReason: string,
];

function writeRunReportsWith(
  writeReports: typeof ReportWrite.writeReports,
  settings: RunSettings,
  profile: Profile,
  phases: PhaseClock,
  facts: Partial<RunFacts>,
  results: TestResultRecord[],
  startedAt: Date,
  notRunReason: string,
): TestResultRecord[] {
  const merged = mergeWithCatalog(catalog, results, notRunReason);
  writeReports(settings.runDir, {
    toolVersion: VERSION,
    runId: settings.runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    facts: { ...facts, runId: settings.runId },
    profile: {
      name: profile.doc.metadata.name,
      source: profile.embedded ? 'embedded (profiles/homelab/profile.yaml)' : profile.source,
      istioVersion: profile.doc.istio.version,
      chartRepository: profile.doc.istio.chartRepository,
      releases: profile.releases.map((r) => ({
        name: r.name,
        chart: r.chart,
        syncWave: r.syncWave,
        ...(r.valuesFile ? { valuesFile: r.valuesFile } : {}),
      })),
    },
    phases: phases.records,
    results: merged,
    notes: [...profile.warnings, ...profile.notices],
    retiredHosts: profile.retiredHosts.map((h) => ({
      file: displayPath(h.file),
      field: h.field,
      use: h.use,
      value: redact(h.value),
      retired: h.retired,
      replacement: h.replacement,
    })),
  });
  return merged;
}
