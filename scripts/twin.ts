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
import { recordedInventories } from '../test/twin/inventory/index.ts';
import { startTwin } from '../test/twin/twin.ts';

const ROOT = path.join(import.meta.dirname, '..');

const USAGE = `usage: npm run twin -- <ambient-conformance command and flags>
  e.g. npm run twin -- run --only MTLS-01
  TWIN_SCALE=<n>  divide the timeout table by n (default 20, at least 1)
The twin installs the Istio charts recorded in test/twin/inventory (${recordedVersions().join(', ')});
its dataplane and ztunnel follow Istio 1.28.3's source.
`;

/** The Istio versions whose charts the twin's helm can install. */
function recordedVersions(): string[] {
  return [...new Set(recordedInventories().map((r) => r.version))];
}

/** The value of `--istio-version` in a command line, if given. */
function istioVersionFlag(args: string[]): string | undefined {
  for (const [i, a] of args.entries()) {
    if (a === '--istio-version') return args[i + 1];
    if (a.startsWith('--istio-version=')) return a.slice('--istio-version='.length);
  }
  return undefined;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '-h' || args[0] === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.length === 0) {
    process.stderr.write(`twin: no command given\n${USAGE}`);
    return 2;
  }
  // An empty variable counts as unset, as everywhere in this project.
  const rawScale = process.env.TWIN_SCALE || '20';
  const scale = Number(rawScale);
  if (!Number.isFinite(scale) || scale < 1) {
    process.stderr.write(
      `twin: invalid TWIN_SCALE\n  expected: a number of at least 1 (the timeout table is divided by it)\n  seen: ${JSON.stringify(rawScale).slice(0, 80)}\n`,
    );
    return 2;
  }
  const version = istioVersionFlag(args);
  if (version !== undefined && !recordedVersions().includes(version)) {
    process.stderr.write(
      `twin: no charts of Istio ${JSON.stringify(version).slice(0, 80)} are recorded for the twin\n  expected: one of ${recordedVersions().join(', ')} (test/twin/inventory)\n  fix: record it with scripts/twin-inventory.ts --tags ${version.slice(0, 40)} where the istio/istio mirror has that tag\n`,
    );
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
