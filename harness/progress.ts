import { InterruptedError } from './errors.ts';
import { humanDuration } from './timeouts.ts';

/**
 * Progress and logging. Everything goes to stderr so stdout stays machine-readable
 * (`plan --json`, `list --json`). Each line carries a timestamp; phases print their start and
 * their end with elapsed time.
 */

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

let sink: LogSink = { write: (line) => process.stderr.write(`${line}\n`) };
let threshold: Level = process.env.AMBIENT_VERBOSE === '1' ? 'debug' : 'info';

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

function emit(level: Level, message: string): void {
  if (RANK[level] < RANK[threshold]) return;
  const tag = level === 'info' ? '' : `${level.toUpperCase()} `;
  for (const line of message.split('\n')) sink.write(`[${stamp()}] ${tag}${line}`);
}

export const log = {
  debug: (m: string) => emit('debug', m),
  info: (m: string) => emit('info', m),
  warn: (m: string) => emit('warn', m),
  error: (m: string) => emit('error', m),
  setVerbose(v: boolean) {
    threshold = v ? 'debug' : 'info';
  },
  /** Redirect output (tests). Returns the previous sink. */
  setSink(s: LogSink): LogSink {
    const prev = sink;
    sink = s;
    return prev;
  },
};

export type PhaseStatus = 'passed' | 'failed' | 'skipped' | 'interrupted';

export interface PhaseRecord {
  name: string;
  startedAt: string;
  durationMs: number;
  status: PhaseStatus;
  detail?: string;
}

/** Records phases in order, for the console and for summary.md / conformance-report.json. */
export class PhaseClock {
  readonly records: PhaseRecord[] = [];
  /** The phase running now (for "interrupted during <phase>"). */
  current: string | undefined;
  private currentStart: { at: Date; t0: number } | undefined;
  private readonly cut = new Set<string>();
  /** Phases a signal does not stop (cleanup goes on after the first signal). */
  private readonly goesOn = new Set<string>();

  async phase<T>(name: string, description: string, body: () => Promise<T>): Promise<T> {
    const startedAt = new Date();
    const t0 = performance.now();
    log.info(`▶ ${name}: ${description}`);
    this.current = name;
    this.currentStart = { at: startedAt, t0 };
    try {
      const result = await body();
      const durationMs = performance.now() - t0;
      if (this.cut.has(name)) {
        // A phase that goes on after the signal (cleanup) says how it ended on its record; one
        // the signal stopped (tests) keeps "interrupted" as it was.
        const rec = this.goesOn.has(name)
          ? this.records.findLast((r) => r.name === name && r.status === 'interrupted')
          : undefined;
        if (!rec) return result;
        rec.durationMs = durationMs;
        rec.detail = `${rec.detail ?? 'interrupted'}; it went on and finished`;
        log.info(`✔ ${name} done in ${humanDuration(durationMs)} (after the signal)`);
        return result;
      }
      this.records.push({ name, startedAt: startedAt.toISOString(), durationMs, status: 'passed' });
      log.info(`✔ ${name} done in ${humanDuration(durationMs)}`);
      return result;
    } catch (e) {
      const durationMs = performance.now() - t0;
      const interrupted = e instanceof InterruptedError;
      if (this.cut.has(name)) throw e;
      this.records.push({
        name,
        startedAt: startedAt.toISOString(),
        durationMs,
        status: interrupted ? 'interrupted' : 'failed',
        detail: e instanceof Error ? e.message : String(e),
      });
      if (interrupted) log.warn(`✘ ${name} interrupted after ${humanDuration(durationMs)}`);
      else log.error(`✘ ${name} failed after ${humanDuration(durationMs)}`);
      throw e;
    } finally {
      if (this.current === name) this.current = undefined;
    }
  }

  /**
   * Records the phase in flight as interrupted now (a signal arrived), so the reports written
   * before it settles say so; its later end is not recorded again. Returns its name.
   */
  interrupt(detail: string, opts: { goesOn?: boolean } = {}): string | undefined {
    const name = this.current;
    if (name === undefined || this.cut.has(name)) return name;
    this.cut.add(name);
    if (opts.goesOn) this.goesOn.add(name);
    this.records.push({
      name,
      startedAt: (this.currentStart?.at ?? new Date()).toISOString(),
      durationMs: performance.now() - (this.currentStart?.t0 ?? performance.now()),
      status: 'interrupted',
      detail,
    });
    return name;
  }

  skipped(name: string, reason: string): void {
    this.records.push({
      name,
      startedAt: new Date().toISOString(),
      durationMs: 0,
      status: 'skipped',
      detail: reason,
    });
    log.info(`- ${name} skipped: ${reason}`);
  }
}
