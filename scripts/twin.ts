#!/usr/bin/env -S node --import tsx
/**
 * Runs the CLI against a fresh twin (test/twin/: a simulated kind cluster with Istio ambient
 * 1.28.3), for developing claims without a cluster:
 *
 *   npm run twin -- run --only MTLS-01            # one claim, through the real CLI, kind, helm, Vitest
 *   npm run twin -- run                           # the whole catalog
 *   npm run twin -- run --only NETPOL-02 -v       # every command and debug line
 *   TWIN_SCALE=10 npm run twin -- run             # timeouts divided by 10 instead of 20
 *
 * The twin lives for the one command: it starts, the command runs with the twin's kind, helm and
 * docker first on PATH and the timeout table scaled (AMBIENT_TIMEOUT_*, see scaledTimeouts), and
 * the twin stops. Reports land in reports/ as for a real run. The exit code is the command's.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startTwin } from '../test/twin/twin.ts';

const ROOT = path.join(import.meta.dirname, '..');

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.length === 0 || args[0] === '-h' || args[0] === '--help') {
    process.stdout.write(
      'usage: npm run twin -- <ambient-conformance command and flags>\n  e.g. npm run twin -- run --only MTLS-01\n',
    );
    return args.length === 0 ? 2 : 0;
  }
  const scale = Number(process.env.TWIN_SCALE ?? 20);
  if (!Number.isFinite(scale) || scale < 1) {
    process.stderr.write(`twin: TWIN_SCALE must be a number of at least 1, got ${process.env.TWIN_SCALE}\n`);
    return 2;
  }
  const twin = await startTwin({ timeScale: scale });
  const started = Date.now();
  try {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ambient-conformance.mjs'), ...args], {
      cwd: ROOT,
      env: twin.env(),
      stdio: 'inherit',
    });
    // Ctrl-C reaches the child through the terminal's process group (a second one from here would
    // read as a second Ctrl-C): the twin only stays up while the run cleans up. SIGTERM is sent to
    // this process alone, so it is passed on.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    const code = await new Promise<number>((resolve) =>
      child.on('exit', (c, s) => resolve(c ?? (s === 'SIGINT' ? 130 : 143))),
    );
    process.stderr.write(
      `twin: the command exited ${code} after ${((Date.now() - started) / 1000).toFixed(1)}s\n`,
    );
    return code;
  } finally {
    await twin.close();
  }
}

process.exitCode = await main();
