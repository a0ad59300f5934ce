import { InterruptedError, OperationError, throwIfInterrupted } from './errors.ts';
import { humanDuration } from './timeouts.ts';
import { log } from './progress.ts';
import { redact } from './redact.ts';
import { shellLine } from './shell.ts';

export interface ExecResult {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** The program could not be started at all (ENOENT, EACCES). */
  notFound: boolean;
  /** `signal` was aborted: the process was stopped (SIGTERM, then SIGKILL 3 s later). */
  cancelled: boolean;
}

export interface ExecOptions {
  /** Hard deadline; the process is killed (SIGTERM, then SIGKILL) when it passes. */
  timeoutMs: number;
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  /** Print the command before running it (default true). */
  echo?: boolean;
  /**
   * Cancels the command and its descendants: SIGTERM at once, SIGKILL 3 s later if it is still
   * running (execa's cancelSignal, killDescendants and forceKillAfterDelay). An already aborted
   * signal starts nothing.
   */
  signal?: AbortSignal;
}

/**
 * The one thin layer over external commands (kind, helm, docker). Arguments are always an argv
 * array, never a shell string; every call has a deadline; non-zero exits are returned, not thrown,
 * so adapters can classify them (the exit code is the thing they judge).
 */
export async function run(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('run: empty argv');
  throwIfInterrupted(options.signal, argv.slice(0, 3).join(' '));
  if (options.echo !== false) log.debug(`$ ${redact(shellLine([...argv]))}`);
  // execa and its dependencies cost about 90 ms to load: only commands that run one pay it.
  const { execa } = await import('execa');
  const started = performance.now();
  const result = await execa(file, args, {
    reject: false,
    timeout: options.timeoutMs,
    // A supervisor gives a few seconds between SIGINT/SIGTERM and SIGKILL: a child that ignores
    // SIGTERM is killed after 3 s so cleanup can still start within the first 5 s.
    forceKillAfterDelay: 3000,
    // The whole tree: kind runs docker CLI children, helm plugins run theirs. On Unix execa puts
    // the command in its own process group and signals the group (execa 10.2.1
    // lib/terminate/kill-descendants.js), so a terminal's Ctrl-C reaches only this process,
    // whose handler decides what stops and when.
    killDescendants: true,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    env: options.env,
    input: options.input,
    cwd: options.cwd,
    stripFinalNewline: false,
    all: false,
  });
  const durationMs = performance.now() - started;
  const code = (result as { code?: string }).code;
  return {
    argv: [...argv],
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs,
    timedOut: result.timedOut === true,
    notFound: code === 'ENOENT' || code === 'EACCES',
    cancelled: result.isCanceled === true,
  };
}

/** Like run, but a non-zero exit, a timeout or a missing program throws an OperationError. */
export async function runChecked(
  operation: string,
  argv: readonly string[],
  options: ExecOptions & { fix?: string },
) {
  const r = await run(argv, options);
  if (r.cancelled) throw cancelledError(operation, r, options.signal);
  if (r.exitCode !== 0 || r.timedOut) throw commandFailed(operation, r, options.timeoutMs, options.fix);
  return r;
}

/** The InterruptedError for a command stopped by its signal (the signal's reason when it is one). */
export function cancelledError(operation: string, r: ExecResult, signal?: AbortSignal): InterruptedError {
  if (signal?.reason instanceof InterruptedError) return signal.reason;
  return new InterruptedError(`${operation}: cancelled after ${humanDuration(r.durationMs)}`);
}

export function commandFailed(
  operation: string,
  r: ExecResult,
  timeoutMs: number,
  fix?: string,
): OperationError {
  const cmd = redact(shellLine(r.argv));
  const tail = lastLines(`${r.stderr}\n${r.stdout}`.trim(), 15);
  if (r.notFound)
    return new OperationError(`${operation}: cannot start ${r.argv[0] ?? ''}`, {
      expected: 'an executable program',
      seen: 'not found or not executable',
      fix: fix ?? 'install it or run `ambient-conformance doctor`',
    });
  if (r.timedOut)
    return new OperationError(`${operation}: timed out after ${humanDuration(timeoutMs)}`, {
      expected: `\`${cmd}\` to finish within ${humanDuration(timeoutMs)}`,
      seen: tail || '(no output)',
      fix: fix ?? 'raise the matching timeout (see `ambient-conformance plan` and AMBIENT_TIMEOUT_*)',
    });
  return new OperationError(`${operation}: exit code ${r.exitCode}`, {
    expected: `\`${cmd}\` to exit 0`,
    seen: redact(tail) || '(no output)',
    ...(fix === undefined ? {} : { fix }),
  });
}

export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - n)).join('\n');
}
