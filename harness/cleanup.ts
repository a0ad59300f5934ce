import { log } from './progress.ts';
import { humanDuration } from './timeouts.ts';

export interface CleanupEntry {
  description: string;
  run: () => Promise<void>;
}

/**
 * Cleanup is registered when a resource is created and runs in reverse order (LIFO). Each entry
 * runs even if an earlier one failed; failures are reported, not swallowed.
 */
export class CleanupStack {
  private entries: CleanupEntry[] = [];
  private running: Promise<string[]> | undefined;

  register(description: string, run: () => Promise<void>): void {
    this.entries.push({ description, run });
  }

  get size(): number {
    return this.entries.length;
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
      const t0 = performance.now();
      try {
        log.info(`cleanup: ${e.description}`);
        await e.run();
        log.debug(`cleanup: ${e.description} done in ${humanDuration(performance.now() - t0)}`);
      } catch (err) {
        const msg = `${e.description}: ${err instanceof Error ? err.message : String(err)}`;
        failures.push(msg);
        log.error(`cleanup failed: ${msg}`);
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

/**
 * On SIGINT/SIGTERM: run the cleanup stack once, then exit 130/143. A second signal exits at once.
 * Returns a function that removes the handlers.
 */
export function installSignalCleanup(
  stack: CleanupStack,
  opts: { beforeCleanup?: (signal: NodeJS.Signals) => Promise<void>; exit?: (code: number) => void } = {},
): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let received = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    if (received) {
      log.error(`${signal} again: exiting without finishing cleanup`);
      exit(SIGNAL_EXIT[signal]);
      return;
    }
    received = true;
    log.warn(`${signal} received: cleaning up before exit (send it again to exit at once)`);
    void (async () => {
      try {
        await opts.beforeCleanup?.(signal);
      } catch (e) {
        log.error(`before cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
      await stack.runAll();
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
