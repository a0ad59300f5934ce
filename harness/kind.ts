import { stringify } from 'yaml';
import { PreflightError, OperationError } from './errors.ts';
import { run, commandFailed, type ExecResult } from './exec.ts';
import { formatSeconds } from './timeouts.ts';

/** Adapter over the kind CLI (argv builders are pure; the few runners classify real outputs). */

export function createArgv(
  kind: string,
  a: { name: string; configPath: string; image: string; kubeconfig: string; waitMs: number },
): string[] {
  return [
    kind,
    'create',
    'cluster',
    '--name',
    a.name,
    '--config',
    a.configPath,
    '--image',
    a.image,
    '--kubeconfig',
    a.kubeconfig,
    '--wait',
    formatSeconds(a.waitMs),
  ];
}

export function deleteArgv(kind: string, name: string, kubeconfig?: string): string[] {
  return [kind, 'delete', 'cluster', '--name', name, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])];
}

export function getClustersArgv(kind: string): string[] {
  return [kind, 'get', 'clusters'];
}

export function getKubeconfigArgv(kind: string, name: string): string[] {
  return [kind, 'get', 'kubeconfig', '--name', name];
}

export function exportLogsArgv(kind: string, name: string, dir: string): string[] {
  return [kind, 'export', 'logs', dir, '--name', name];
}

/**
 * `kind get clusters` prints one name per line on stdout; with none it prints
 * "No kind clusters found." on stderr and exits 0.
 */
export function parseClusters(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^No kind clusters found/.test(l));
}

/** Failures whose cause is the Docker daemon, in the forms kind prints them. */
export function isDockerDown(output: string): boolean {
  return /Cannot connect to the Docker daemon|failed to list nodes|failed to get docker info|failed to list clusters|Is the docker daemon running/.test(
    output,
  );
}

export function isAlreadyExists(output: string): boolean {
  return /node\(s\) already exist for a cluster with the name/.test(output);
}

/** Renders the kind config for a run: the profile's topology with the pinned image on every node. */
export function renderConfig(config: Record<string, unknown>, image: string): string {
  const nodes = Array.isArray(config.nodes)
    ? (config.nodes as Record<string, unknown>[])
    : [{ role: 'control-plane' }];
  const rendered: Record<string, unknown> = { ...config, nodes: nodes.map((n) => ({ ...n, image })) };
  delete rendered.name; // --name decides
  return `# rendered by ambient-conformance\n${stringify(rendered)}`;
}

export function classifyCreateFailure(name: string, r: ExecResult, timeoutMs: number): Error {
  const out = `${r.stderr}\n${r.stdout}`;
  if (isDockerDown(out))
    return new PreflightError('kind cannot reach the Docker daemon', {
      expected: 'a running Docker daemon',
      seen: out.trim().split('\n').slice(-3).join('\n'),
      fix: 'start Docker (e.g. `sudo systemctl start docker`) and check `docker info`',
    });
  if (isAlreadyExists(out))
    return new OperationError(`kind cluster "${name}" already exists`, {
      expected: 'no cluster with that name',
      seen: out.trim().split('\n').slice(-2).join('\n'),
      fix: `reuse it with --reuse --cluster-name ${name}, or delete it: kind delete cluster --name ${name}`,
    });
  return commandFailed(
    `kind create cluster ${name}`,
    r,
    timeoutMs,
    'see the kind output above; `kind export logs` was collected into the run folder',
  );
}

export async function listClusters(kind: string, timeoutMs: number): Promise<string[]> {
  const r = await run(getClustersArgv(kind), { timeoutMs });
  if (r.exitCode !== 0) {
    if (isDockerDown(`${r.stderr}\n${r.stdout}`))
      throw new PreflightError('kind cannot reach the Docker daemon', {
        expected: 'a running Docker daemon',
        seen: r.stderr.trim(),
        fix: 'start Docker and check `docker info`',
      });
    throw commandFailed('kind get clusters', r, timeoutMs);
  }
  return parseClusters(r.stdout);
}
