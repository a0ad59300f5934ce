/**
 * Error taxonomy. Every error a user can meet says what failed, what was expected, what was seen
 * and how to fix it. The CLI maps these to exit codes and prints them without a stack trace.
 */

export interface ErrorDetails {
  /** What was expected, e.g. "a Docker daemon answering `docker info`". */
  expected?: string;
  /** What was actually seen (last state, tool output). */
  seen?: string;
  /** A concrete next step for the user. */
  fix?: string;
}

abstract class ConformanceError extends Error {
  readonly details: ErrorDetails;
  abstract readonly exitCode: number;
  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.details = details;
    this.name = new.target.name;
  }
  /** The message as printed to a user: one headline and the details, no stack. */
  render(): string {
    const lines = [this.message];
    if (this.details.expected !== undefined) lines.push(`  expected: ${this.details.expected}`);
    if (this.details.seen !== undefined) lines.push(`  seen:     ${indentTail(this.details.seen)}`);
    if (this.details.fix !== undefined) lines.push(`  fix:      ${indentTail(this.details.fix)}`);
    return lines.join('\n');
  }
}

function indentTail(text: string): string {
  return text.trimEnd().split('\n').join('\n            ');
}

/** How much of one value from the user an error message echoes (see `clip`). */
export const ECHO_MAX_CHARS = 200;

/**
 * A value from the user as an error message may echo it: at most `max` characters, then an
 * ellipsis and the total length, so a 20 MB one-line profile never ends up in a terminal or a log.
 */
export function clip(text: string, max = ECHO_MAX_CHARS): string {
  // Control bytes (a binary file read as text) are shown as \xNN, never sent to the terminal.
  const safe = (t: string) =>
    t.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (text.length <= max) return safe(text);
  return `${safe(text.slice(0, max))}… (${text.length} characters in all)`;
}

/** Last line of defence for messages built elsewhere: generous, but bounded. */
const USER_ERROR_FIELD_MAX = 2000;

/** The user's input (profile, flag, manifest) is wrong. Exit code 2, nothing else is done. */
export class UserInputError extends ConformanceError {
  readonly exitCode = 2;
  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    const bounded: ErrorDetails = {};
    for (const key of ['expected', 'seen', 'fix'] as const) {
      const v = details[key];
      if (v !== undefined) bounded[key] = clip(v, USER_ERROR_FIELD_MAX);
    }
    super(clip(message, USER_ERROR_FIELD_MAX), bounded, options);
  }
}

/** The machine is not ready for a run (no Docker daemon, missing tool, low limits). */
export class PreflightError extends ConformanceError {
  readonly exitCode = 3;
}

/** An external command or API operation failed. */
export class OperationError extends ConformanceError {
  readonly exitCode = 1;
}

/** A wait timed out or became impossible; carries what was awaited and what was last seen. */
export class WaitError extends ConformanceError {
  readonly exitCode = 1;
}

/**
 * The run was interrupted (SIGINT/SIGTERM, or a test's own cancellation): the step in flight was
 * cancelled. Exit 130 for SIGINT and 143 for SIGTERM (128 + the signal number, as shells report).
 */
export class InterruptedError extends ConformanceError {
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | undefined;
  constructor(message: string, signal?: NodeJS.Signals, details: ErrorDetails = {}) {
    super(message, details);
    this.signal = signal;
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

/**
 * Throws the abort reason when `signal` is aborted: an InterruptedError as the run's handler sets
 * it, or a new one saying what was cancelled.
 */
export function throwIfInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (!signal?.aborted) return;
  throw asInterrupted(signal, what);
}

/** The abort reason of `signal` as an InterruptedError (wrapping any other reason). */
export function asInterrupted(signal: AbortSignal, what: string): InterruptedError {
  const reason: unknown = signal.reason;
  if (reason instanceof InterruptedError) return reason;
  return new InterruptedError(
    `${what}: cancelled (${reason instanceof Error ? reason.message : String(reason)})`,
  );
}

/**
 * The text of anything thrown or rejected with. client-node's WebSocket calls (exec, port-forward)
 * reject with the socket's ErrorEvent ({type, message, error}), not an Error, whose String() is
 * "[object Object]"; its message (e.g. "Unexpected server response: 404", ws's text for an
 * upgrade the API server refused) is what a user needs.
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null) {
    const o = e as { message?: unknown; error?: unknown };
    if (typeof o.message === 'string' && o.message !== '') return o.message;
    if (o.error instanceof Error) return o.error.message;
    try {
      return clip(JSON.stringify(e));
    } catch {
      return Object.prototype.toString.call(e);
    }
  }
  return String(e);
}

export function isConformanceError(e: unknown): e is ConformanceError {
  return e instanceof ConformanceError;
}

export type { ConformanceError };
