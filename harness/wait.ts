import { setTimeout as delay } from 'node:timers/promises';
import { asInterrupted, throwIfInterrupted, WaitError } from './errors.ts';
import { humanDuration } from './timeouts.ts';

export interface PollVerdict {
  /** The condition holds. */
  done: boolean;
  /** Success has become impossible (CrashLoopBackOff, failed release): stop now with this reason. */
  impossible?: string;
  /** What was seen, for the timeout message ("phase=Pending, reason=ContainerCreating"). */
  seen: string;
}

export interface PollOptions<T> {
  /** What is awaited, as a phrase: "pod x/a to be Ready". */
  what: string;
  timeoutMs: number;
  /** From the timeout table (pollInterval, or a wait's own pacing): never a literal, so a run can scale it. */
  intervalMs: number;
  read: () => Promise<T>;
  judge: (value: T) => PollVerdict;
  /** Extra evidence on failure (e.g. last log lines). */
  evidence?: () => Promise<string>;
  fix?: string;
  /**
   * Cancellation (the run's Ctrl-C, a test's budget): the wait stops at once with the signal's
   * InterruptedError, between polls or during one (a read that fails after the abort is not
   * counted as "last seen").
   */
  signal?: AbortSignal;
}

/**
 * The only way this project waits: poll a condition until it holds, with a deadline from the
 * timeout table; fail with what was awaited and what was last seen; stop early when success has
 * become impossible. Read errors are remembered as "last seen" and polling continues.
 */
export async function pollUntil<T>(o: PollOptions<T>): Promise<T> {
  const interval = checkedInterval(o.intervalMs, o.what);
  const deadline = performance.now() + o.timeoutMs;
  let lastSeen = 'nothing yet';
  for (;;) {
    throwIfInterrupted(o.signal, `waiting for ${o.what}`);
    try {
      const value = await o.read();
      const v = o.judge(value);
      lastSeen = v.seen;
      if (v.done) return value;
      if (v.impossible !== undefined) {
        throw new WaitError(`gave up waiting for ${o.what}: ${v.impossible}`, {
          expected: o.what,
          seen: await withEvidence(v.seen, o.evidence),
          ...(o.fix ? { fix: o.fix } : {}),
        });
      }
    } catch (e) {
      if (e instanceof WaitError) throw e;
      throwIfInterrupted(o.signal, `waiting for ${o.what}`);
      lastSeen = `error: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (performance.now() + interval > deadline) break;
    await pause(interval, o.signal, o.what);
  }
  throw new WaitError(`timed out after ${humanDuration(o.timeoutMs)} waiting for ${o.what}`, {
    expected: o.what,
    seen: await withEvidence(`last seen: ${lastSeen}`, o.evidence),
    fix:
      o.fix ?? 'see the diagnostics in the run folder; on slow machines raise the matching AMBIENT_TIMEOUT_*',
  });
}

async function withEvidence(seen: string, evidence?: () => Promise<string>): Promise<string> {
  if (!evidence) return seen;
  try {
    const e = await evidence();
    return e ? `${seen}\n${e}` : seen;
  } catch {
    return seen;
  }
}

/**
 * The opposite of pollUntil: a condition must hold on every poll for a whole window (a "consistently"
 * check, e.g. a pod stays Ready). Fails at the first poll where it does not, with what was seen.
 */
export async function holdsFor<T>(
  o: Omit<PollOptions<T>, 'timeoutMs'> & { durationMs: number },
): Promise<void> {
  const interval = checkedInterval(o.intervalMs, o.what);
  const end = performance.now() + o.durationMs;
  for (;;) {
    throwIfInterrupted(o.signal, `checking that ${o.what} holds`);
    const v = o.judge(await o.read());
    if (!v.done)
      throw new WaitError(`${o.what} stopped holding`, {
        expected: `${o.what} for ${humanDuration(o.durationMs)}`,
        seen: await withEvidence(v.seen, o.evidence),
        ...(o.fix ? { fix: o.fix } : {}),
      });
    if (performance.now() + interval > end) return;
    await pause(interval, o.signal, o.what);
  }
}

/**
 * Waits for `p` to settle, at most `ms` (a bound, not a sleep: it returns as soon as `p` settles).
 * True when it settled in time. Used after a cancellation, to let the cancelled work stop.
 */
export async function settleWithin(p: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!p) return true;
  const deadline = AbortSignal.timeout(ms);
  let onDeadline: (() => void) | undefined;
  const settled = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      onDeadline = () => resolve(false);
      deadline.addEventListener('abort', onDeadline, { once: true });
    }),
  ]);
  if (onDeadline) deadline.removeEventListener('abort', onDeadline);
  return settled;
}

/** A poll interval that is not a positive number would spin or never end: a programming error. */
function checkedInterval(ms: number, what: string): number {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new Error(
      `waiting for ${what}: intervalMs must be a positive number of ms from the timeout table, got ${String(ms)}`,
    );
  return ms;
}

/** The interval between two polls (never a fixed sleep standing for a condition); cancellable. */
export async function pause(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {}); // poll-interval
  } catch (e) {
    if (signal?.aborted) throw asInterrupted(signal, `waiting for ${what}`);
    throw e;
  }
}
