import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log } from './progress.ts';
import { redact } from './redact.ts';
import { humanDuration } from './timeouts.ts';

export interface CleanupEntry {
  description: string;
  run: () => Promise<void>;
  /** The shell command a user runs to remove it by hand (the leftovers record prints it). */
  command?: string;
}

/** What is left to remove: a description and the command that removes it. */
export interface Leftover {
  what: string;
  command?: string;
}

/**
 * Cleanup is registered when a resource is created and runs in reverse order (LIFO). Each entry
 * runs even if an earlier one failed; failures are reported, not swallowed.
 */
export class CleanupStack {
  private entries: CleanupEntry[] = [];
  private current: CleanupEntry | undefined;
  private failed: CleanupEntry[] = [];
  private running: Promise<string[]> | undefined;

  register(description: string, run: () => Promise<void>, command?: string): void {
    this.entries.push({ description, run, ...(command ? { command } : {}) });
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * What still exists, in the order cleanup removes it: the entry being removed now, those not
   * yet run (newest first) and those whose removal failed.
   */
  pending(): Leftover[] {
    const left = [...(this.current ? [this.current] : []), ...[...this.entries].reverse(), ...this.failed];
    return left.map((e) => ({ what: e.description, ...(e.command ? { command: e.command } : {}) }));
  }

  /** Runs every entry, newest first. Returns the failures. Concurrent calls share one run. */
  runAll(): Promise<string[]> {
    this.running ??= this.drain();
    return this.running;
  }

  private async drain(): Promise<string[]> {
    const failures: string[] = [];
    while (this.entries.length) {
      const e = this.entries.pop();
      if (!e) break;
      this.current = e;
      const t0 = performance.now();
      try {
        log.info(`cleanup: ${e.description}`);
        await e.run();
        log.debug(`cleanup: ${e.description} done in ${humanDuration(performance.now() - t0)}`);
      } catch (err) {
        const msg = `${e.description}: ${err instanceof Error ? err.message : String(err)}`;
        failures.push(msg);
        this.failed.push(e);
        log.error(`cleanup failed: ${msg}`);
      } finally {
        this.current = undefined;
      }
    }
    this.running = undefined;
    return failures;
  }

  /** Forgets every entry (for --keep): nothing is deleted. */
  abandon(): CleanupEntry[] {
    const left = this.entries;
    this.entries = [];
    return left;
  }
}

export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export interface InterruptHandlers {
  /**
   * The first SIGINT/SIGTERM: cancel the step in flight, write the leftovers record, clean up.
   * The process exits 130/143 when it settles (also when it throws).
   */
  first: (signal: 'SIGINT' | 'SIGTERM') => Promise<void>;
  /**
   * A second signal while `first` runs: abandon cleanup at once (say what is left and how to
   * remove it). The process exits right after it returns.
   */
  second: (signal: 'SIGINT' | 'SIGTERM') => void;
  exit?: (code: number) => void;
}

/**
 * Installs the run's SIGINT/SIGTERM handlers: the first signal runs `first` then exits 130/143;
 * a second one runs `second` and exits at once. Returns a function that removes the handlers.
 */
export function installSignalCleanup(h: InterruptHandlers): () => void {
  const exit = h.exit ?? ((code: number) => process.exit(code));
  let received = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (received) {
      try {
        h.second(signal);
      } catch (e) {
        log.error(`abandoning cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
      exit(SIGNAL_EXIT[signal]);
      return;
    }
    received = true;
    void (async () => {
      try {
        await h.first(signal);
      } catch (e) {
        log.error(`after ${signal}: ${e instanceof Error ? e.message : String(e)}`);
      }
      exit(SIGNAL_EXIT[signal]);
    })();
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

/**
 * The leftovers record (reports/<run>/leftovers.json): written within moments of a signal, and
 * again when cleanup ends or is abandoned, so what a SIGKILL cut short can be removed by hand or
 * by `ambient-conformance clean`.
 */
export interface LeftoversRecord {
  runId: string;
  /** "interrupted by SIGINT during istio", "cleanup abandoned (second SIGINT)", "cleanup finished". */
  state: string;
  writtenAt: string;
  left: Leftover[];
}

export function renderLeftovers(left: Leftover[]): string {
  if (!left.length) return 'nothing is left behind';
  return left.map((l) => `  ${l.what}${l.command ? `\n    remove it: ${l.command}` : ''}`).join('\n');
}

/** Writes the leftovers record (JSON, 0600: it names the kubeconfig); never throws. */
export function writeLeftoversRecord(file: string, runId: string, state: string, left: Leftover[]): void {
  const record: LeftoversRecord = { runId, state, writtenAt: new Date().toISOString(), left };
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${redact(JSON.stringify(record, null, 2))}\n`, { mode: 0o600 });
  } catch (e) {
    log.error(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
