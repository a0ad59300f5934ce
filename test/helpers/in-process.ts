import { vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { log } from '../../harness/progress.ts';
import { withEnv } from './fake-bin.ts';

export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the call, ms. */
  ms: number;
}

/**
 * Runs the CLI's `main(argv)` in this process, as the binary does after its Node check, with
 * stdout and stderr captured and the environment replaced for the call (`undefined` unsets a
 * variable). Every AMBIENT_* and KUBECONFIG variable not given is unset, so the caller's
 * environment cannot leak in. Restores the streams, process.exitCode and the log level after.
 */
export async function runMain(argv: string[], env: Record<string, string | undefined>): Promise<MainResult> {
  const vars: Record<string, string | undefined> = { ...env };
  for (const k of Object.keys(process.env))
    if ((k.startsWith('AMBIENT_') || k === 'KUBECONFIG') && !(k in vars)) vars[k] = undefined;
  const out: string[] = [];
  const err: string[] = [];
  // Like a real stream: the write callback (a function as the second or third argument) runs
  // once the chunk is taken.
  const capture =
    (into: string[]) =>
    (chunk: string | Uint8Array, encOrCb?: unknown, cb?: unknown): boolean => {
      into.push(String(chunk));
      const done = typeof encOrCb === 'function' ? encOrCb : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as (e?: Error) => void)());
      return true;
    };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  const t0 = performance.now();
  try {
    const code = await withEnv(vars, () => main(argv));
    return { code, stdout: out.join(''), stderr: err.join(''), ms: performance.now() - t0 };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    log.setVerbose(false);
  }
}
