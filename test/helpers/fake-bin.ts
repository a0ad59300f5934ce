import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_V20_10_0, KIND_V0_30_0, type CliTable } from './cli-tables.ts';

/** Prints the real tool's usage error and exits 1 when the argv would not parse (cli-tables.ts). */
const REFUSE_SCRIPT = fileURLToPath(new URL('./refuse-usage.ts', import.meta.url));

/**
 * Fake executables for adapter contract tests: each records its argv (one JSON array per line)
 * and answers like the real tool for the argv prefixes it is given.
 */
export interface FakeResponse {
  /** Matched against the space-joined argv (a prefix or a RegExp source). */
  match: string;
  stdout?: string;
  stderr?: string;
  exit?: number;
  /** Shell snippet run before answering (e.g. write a kubeconfig). Receives "$@". */
  script?: string;
}

export interface FakeBin {
  dir: string;
  /** PATH with the fake directory first and only the system basics after it. */
  path: string;
  calls(name: string): string[][];
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The real command lines kind and docker stand for in every fake (helm runs for real elsewhere). */
export const CLUSTER_TOOL_TABLES: Partial<Record<string, CliTable>> = {
  kind: KIND_V0_30_0,
  docker: DOCKER_V20_10_0,
};

/**
 * Fake executables. `tables` gives, per tool, the real command line it stands for
 * (cli-tables.ts): an argv that the real version would refuse gets its usage error and exit 1,
 * before any scripted answer.
 */
export function makeFakeBin(
  tools: Record<string, FakeResponse[]>,
  tables: Partial<Record<string, CliTable>> = CLUSTER_TOOL_TABLES,
): FakeBin {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-bin-'));
  mkdirSync(path.join(dir, 'out'), { recursive: true });
  for (const [name, responses] of Object.entries(tools)) {
    const log = path.join(dir, 'out', `${name}.calls`);
    const cases = responses
      .map((r, i) => {
        const outFile = path.join(dir, 'out', `${name}.${i}.stdout`);
        const errFile = path.join(dir, 'out', `${name}.${i}.stderr`);
        writeFileSync(outFile, r.stdout ?? '');
        writeFileSync(errFile, r.stderr ?? '');
        return `if printf '%s' "$args" | grep -Eq -- ${shQuote(`^${r.match}`)}; then
  ${r.script ?? ':'}
  cat ${shQuote(outFile)}; cat ${shQuote(errFile)} >&2; exit ${r.exit ?? 0}
fi`;
      })
      .join('\n');
    const table = tables[name];
    const tableFile = path.join(dir, 'out', `${name}.table.json`);
    if (table) writeFileSync(tableFile, JSON.stringify(table));
    const refuse = table ? `node ${shQuote(REFUSE_SCRIPT)} ${shQuote(tableFile)} "$@" || exit 1\n` : '';
    const body = `#!/bin/sh
args="$*"
node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1))+"\\n")' -- "$@" >> ${shQuote(log)}
${refuse}${cases}
echo "fake ${name}: no answer for: $args" >&2
exit 97
`;
    const file = path.join(dir, name);
    writeFileSync(file, body);
    chmodSync(file, 0o755);
  }
  const nodeDir = path.dirname(process.execPath);
  return {
    dir,
    path: [dir, nodeDir, '/usr/bin', '/bin'].join(path.delimiter),
    calls(name: string) {
      const log = path.join(dir, 'out', `${name}.calls`);
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);
    },
  };
}

/** Runs fn with PATH (and other env) temporarily replaced. */
export async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export function fixture(...parts: string[]): string {
  return readFileSync(path.join(import.meta.dirname, '..', 'fixtures', ...parts), 'utf8');
}

/**
 * docker, kind and helm as a healthy machine has them: the daemon answers, `kind create cluster`
 * writes a kubeconfig (pointing at a fake API server) where --kubeconfig says, helm installs.
 */
export function fakeClusterTools(
  kubeconfigTemplate: string,
  extraKind: FakeResponse[] = [],
  /** Replaces the default answer to `kind delete cluster`. */
  kindDelete?: FakeResponse,
): FakeBin {
  return makeFakeBin({
    docker: [
      { match: 'info', stdout: fixture('docker/info-daemon-up.stdout') },
      { match: 'version', stdout: '28.2.2\n' },
    ],
    kind: [
      { match: 'version', stdout: fixture('kind/version.stdout') },
      { match: 'get clusters', stderr: fixture('kind/get-clusters-none.stderr') },
      {
        match: 'create cluster',
        stderr: fixture('kind/create-ok.stderr'),
        script: `while [ $# -gt 0 ]; do if [ "$1" = --kubeconfig ]; then cp '${kubeconfigTemplate}' "$2"; fi; shift; done`,
      },
      kindDelete ?? { match: 'delete cluster', stderr: fixture('kind/delete.stderr') },
      ...extraKind,
    ],
    helm: [
      { match: 'version', stdout: fixture('helm/version-short-v4.stdout') },
      { match: 'install', stdout: 'STATUS: deployed\n' },
    ],
  });
}
