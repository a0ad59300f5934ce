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
  /** The test body. */
  body: () => Promise<void>;
  /** Overall budget in ms; the body is abandoned with `budgetMessage` when it passes. */
  budgetMs: number;
  budgetMessage: string;
  /** Collects diagnostics after a failure (before cleanup); returns files written. */
  diagnostics: () => Promise<string[]>;
  /** Undoes what the test created; returns problems. */
  cleanup: () => Promise<string[]>;
  keepOnFailure: boolean;
  /** Reports what happened (kept resources, diagnostics, cleanup problems). */
  note: (level: 'info' | 'warn', message: string) => void;
}

/** Runs a body; resolves or rethrows what the body threw (a skip, a failure or the budget). */
export async function runBody(r: BodyRun): Promise<void> {
  let failed = false;
  const timer = AbortSignal.timeout(r.budgetMs);
  try {
    await Promise.race([
      r.body(),
      new Promise<never>((_, reject) => {
        timer.addEventListener('abort', () => reject(new Error(r.budgetMessage)), { once: true });
      }),
    ]);
  } catch (e) {
    if (!isSkip(e)) {
      failed = true;
      const files = await r.diagnostics().catch(() => []);
      if (files.length) r.note('info', `diagnostics: ${files.length} file(s)`);
    }
    throw e;
  } finally {
    if (failed && r.keepOnFailure) {
      r.note('warn', 'failed: keeping its resources (--keep-on-failure)');
    } else {
      const problems = await r.cleanup();
      if (problems.length) r.note('warn', `cleanup problems: ${problems.join('; ')}`);
    }
  }
}
