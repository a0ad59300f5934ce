import { InterruptedError } from '../errors.ts';
import { humanDuration } from '../timeouts.ts';
import { settleWithin } from '../wait.ts';

/**
 * How one conformance test body runs: under its overall budget, with diagnostics collected on a
 * real failure before cleanup, and cleanup skipped only for a failure under --keep-on-failure.
 * A skip is not a failure: Vitest's `skip()` ends the body by throwing its PendingError
 * (@vitest/runner: `code = "VITEST_PENDING"`), which must pass through untouched, with no
 * diagnostics and with cleanup.
 */
export function isSkip(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'VITEST_PENDING';
}

export interface BodyRun {
  /**
   * The test body. `signal` is aborted when the budget passes or the run is cancelled; every
   * wait, probe, exec, port-forward and API call of the body honours it (through the test's
   * KubeClients.signal), so the body stops instead of running on while its namespaces go.
   */
  body: (signal: AbortSignal) => Promise<void>;
  /** Overall budget in ms; the body's signal is aborted with `budgetMessage` when it passes. */
  budgetMs: number;
  budgetMessage: string;
  /** Vitest's test context signal: aborted when the test run is cancelled (the run's Ctrl-C). */
  cancel?: AbortSignal;
  /**
   * After an abort, how long the body gets to stop (ms; the table's bodySettle) before
   * diagnostics and cleanup start anyway; what it still runs is named in the failure.
   */
  settleMs: number;
  /** Collects diagnostics after a failure (before cleanup); returns files written. */
  diagnostics: () => Promise<string[]>;
  /** Undoes what the test created; returns problems. */
  cleanup: () => Promise<string[]>;
  keepOnFailure: boolean;
  /** Reports what happened (kept resources, diagnostics, cleanup problems). */
  note: (level: 'info' | 'warn', message: string) => void;
}

/** The body's signal: aborted by the budget or by the run's cancellation. */
export function bodySignal(budgetMs: number, budgetMessage: string, cancel?: AbortSignal) {
  const controller = new AbortController();
  // The budget is a deadline signal (as the body's own waits use), relayed with its message.
  const deadline = AbortSignal.timeout(budgetMs);
  const onDeadline = () => controller.abort(new Error(budgetMessage));
  deadline.addEventListener('abort', onDeadline, { once: true });
  const onCancel = () => controller.abort(new InterruptedError('the run was cancelled while this test ran'));
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener('abort', onCancel, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      deadline.removeEventListener('abort', onDeadline);
      cancel?.removeEventListener('abort', onCancel);
    },
  };
}

/**
 * Runs a body; resolves or rethrows what the body threw (a skip or a failure), or the budget's
 * Error, or an InterruptedError when the run was cancelled. After an abort it waits (settleMs)
 * for the body to stop before diagnostics and cleanup. A cancelled run collects no diagnostics
 * (the run is being torn down) but still cleans up.
 */
export async function runBody(r: BodyRun): Promise<void> {
  let failed = false;
  const { signal, dispose } = bodySignal(r.budgetMs, r.budgetMessage, r.cancel);
  const aborted = new Promise<never>((_, reject) => {
    const fire = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
  aborted.catch(() => undefined);
  let body: Promise<void> | undefined;
  try {
    body = (async () => r.body(signal))();
    await Promise.race([body, aborted]);
  } catch (e) {
    let error = e;
    if (signal.aborted) {
      // Everything in the body honours the signal: give it a moment to stop before cleanup.
      const stopped = await settleWithin(body, r.settleMs);
      error = signal.reason instanceof Error ? signal.reason : e;
      if (!stopped)
        r.note('warn', `the body was still running ${humanDuration(r.settleMs)} after it was stopped`);
    }
    if (!isSkip(error)) {
      failed = true;
      if (!(error instanceof InterruptedError)) {
        const files = await r.diagnostics().catch(() => []);
        if (files.length) r.note('info', `diagnostics: ${files.length} file(s)`);
      }
    }
    throw error;
  } finally {
    dispose();
    if (failed && r.keepOnFailure) {
      r.note('warn', 'failed: keeping its resources (--keep-on-failure)');
    } else {
      const problems = await r.cleanup();
      if (problems.length) r.note('warn', `cleanup problems: ${problems.join('; ')}`);
    }
  }
}
