import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import Table from 'cli-table3';
import { throwIfInterrupted } from './errors.ts';
import { run } from './exec.ts';
import {
  atLeast,
  MINIMUM,
  MINIMUM_DOCKER_CLI,
  minimumHelmFor,
  resolveTool,
  type ResolvedTool,
} from './tools.ts';
import { hubReason } from './istio/hosts.ts';
import { PINS } from './pins.ts';
import { displayPath, type Profile } from './profile/core.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  checks: Check[];
  kind?: ResolvedTool;
  helm?: ResolvedTool;
  ok: boolean;
}

export interface DoctorOptions {
  timeoutMs: number;
  /** Cancels the probes in flight (the run's Ctrl-C during preflight). */
  signal?: AbortSignal;
  /** Existing-cluster mode needs no Docker and no kind. */
  needDocker: boolean;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Injected for tests; defaults read the real machine. */
  readProc?: (file: string) => string | undefined;
  totalMemBytes?: () => number;
  freeDiskBytes?: (dir: string) => number | undefined;
  nodeVersion?: string;
  platform?: NodeJS.Platform;
  diskPath?: string;
  /** The profile a run would use: its chart and image hosts are checked. */
  profile?: Profile;
}

const GiB = 1024 ** 3;

function readProcDefault(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function freeDiskDefault(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** Interprets `docker info --format '{{json .}}'`: a daemon is up when it reports a ServerVersion. */
export function interpretDockerInfo(
  exitCode: number,
  stdout: string,
  stderr: string,
): Check & { memBytes?: number; cpus?: number } {
  let info: { ServerVersion?: string; MemTotal?: number; NCPU?: number; ServerErrors?: string[] } = {};
  try {
    info = JSON.parse(stdout.trim() || '{}') as typeof info;
  } catch {
    /* not JSON: judged on exit code and stderr */
  }
  const errorText = [stderr.trim(), ...(info.ServerErrors ?? [])].filter(Boolean).join('; ');
  if (exitCode !== 0 || !info.ServerVersion) {
    return {
      name: 'Docker daemon',
      status: 'fail',
      detail: errorText || `docker info exited ${exitCode} without a server version`,
      fix: 'start the Docker daemon (`sudo systemctl start docker`, or Docker Desktop) and check that `docker info` works for this user',
    };
  }
  return {
    name: 'Docker daemon',
    status: 'ok',
    detail: `server ${info.ServerVersion}, ${info.NCPU ?? '?'} CPUs, ${info.MemTotal ? (info.MemTotal / GiB).toFixed(1) : '?'} GiB`,
    ...(info.MemTotal ? { memBytes: info.MemTotal } : {}),
    ...(info.NCPU ? { cpus: info.NCPU } : {}),
  };
}

function toolCheck(tool: ResolvedTool, required: boolean): Check {
  const warn = tool.warnings.length ? ` (${tool.warnings.join('; ')})` : '';
  if (tool.source === 'path')
    return {
      name: tool.name,
      status: tool.warnings.length ? 'warn' : 'ok',
      detail: `${tool.version} on PATH${warn}`,
    };
  if (tool.source === 'cache')
    return { name: tool.name, status: 'ok', detail: `${tool.version} from the tool cache (${tool.path})` };
  const pinned = PINS[tool.name].sha256;
  const plat = Object.keys(pinned);
  const canDownload = plat.length > 0;
  if (canDownload)
    return {
      name: tool.name,
      status: 'ok',
      detail: `not on PATH; run will download ${tool.version} and verify its pinned SHA-256`,
    };
  return {
    name: tool.name,
    status: required ? 'fail' : 'warn',
    detail: `not on PATH, and no SHA-256 is pinned for a download of ${tool.version}`,
    fix:
      tool.name === 'helm'
        ? `install Helm ${MINIMUM.helm.slice(1)}+ or Helm 4 (https://helm.sh/docs/intro/install/)`
        : `install kind ${PINS.kind.version}`,
  };
}

/** `docker version --format '{{.Client.Version}}'` prints the client version even without a daemon. */
export function interpretDockerVersion(stdout: string): Check {
  const v = /^(\d+\.\d+\.\d+)/m.exec(stdout.trim())?.[1];
  if (v === undefined)
    return {
      name: 'Docker CLI',
      status: 'warn',
      detail: `could not read the client version from \`docker version\` (${stdout.trim().split('\n')[0] || 'no output'})`,
      fix: `use Docker CLI ${MINIMUM_DOCKER_CLI} or later`,
    };
  const ok = atLeast(v, MINIMUM_DOCKER_CLI);
  return {
    name: 'Docker CLI',
    status: ok ? 'ok' : 'fail',
    detail: v,
    ...(ok ? {} : { fix: `upgrade the Docker CLI to ${MINIMUM_DOCKER_CLI} or later` }),
  };
}

async function dockerCliCheck(timeoutMs: number, signal?: AbortSignal): Promise<Check> {
  const r = await run(['docker', 'version', '--format', '{{.Client.Version}}'], {
    timeoutMs,
    echo: false,
    ...(signal ? { signal } : {}),
  });
  throwIfInterrupted(signal, 'docker version');
  return interpretDockerVersion(r.stdout);
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = [];
  const readProc = opts.readProc ?? readProcDefault;
  const platform = opts.platform ?? process.platform;

  const nodeVersion = opts.nodeVersion ?? process.version;
  const [maj, min] = nodeVersion.replace(/^v/, '').split('.').map(Number);
  const nodeOk = (maj ?? 0) > 22 || ((maj ?? 0) === 22 && (min ?? 0) >= 19);
  checks.push({
    name: 'Node.js',
    status: nodeOk ? 'ok' : 'fail',
    detail: nodeVersion,
    ...(nodeOk
      ? {}
      : {
          fix: 'use Node.js 22.19+ (undici under @kubernetes/client-node 2 needs it; npm scripts use the Node 24 from node_modules/.bin)',
        }),
  });

  let dockerMem: number | undefined;
  if (opts.needDocker) {
    const r = await run(['docker', 'info', '--format', '{{json .}}'], {
      timeoutMs: opts.timeoutMs,
      echo: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    throwIfInterrupted(opts.signal, 'docker info');
    if (r.notFound) {
      checks.push({
        name: 'Docker daemon',
        status: 'fail',
        detail: 'docker CLI not found on PATH',
        fix: 'install Docker (https://docs.docker.com/engine/install/) — kind runs its nodes as Docker containers',
      });
    } else if (r.timedOut) {
      checks.push({
        name: 'Docker daemon',
        status: 'fail',
        detail: 'docker info did not answer in time',
        fix: 'restart the Docker daemon',
      });
    } else {
      checks.push(await dockerCliCheck(opts.timeoutMs, opts.signal));
      const c = interpretDockerInfo(r.exitCode, r.stdout, r.stderr);
      dockerMem = c.memBytes;
      checks.push({ name: c.name, status: c.status, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) });
      if (c.status === 'ok' && c.cpus !== undefined && c.cpus < 4)
        checks.push({
          name: 'Docker CPUs',
          status: 'warn',
          detail: `${c.cpus} CPUs available to Docker; the suite is sized for 4`,
          fix: 'give Docker more CPUs, or raise timeouts with AMBIENT_TIMEOUT_*',
        });
    }
  }

  const resolveOpts = {
    timeoutMs: opts.timeoutMs,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const kind = opts.needDocker ? await resolveTool('kind', resolveOpts) : undefined;
  if (kind) checks.push(toolCheck(kind, true));
  const helm = await resolveTool('helm', {
    ...resolveOpts,
    ...(opts.profile ? { minimum: minimumHelmFor(opts.profile.doc.istio.chartRepository) } : {}),
  });
  checks.push(toolCheck(helm, true));
  throwIfInterrupted(opts.signal, 'preflight');

  if (opts.needDocker && platform === 'linux') {
    // kind known issue "Pod errors due to too many open files": raise both inotify limits.
    const watches = Number(readProc('/proc/sys/fs/inotify/max_user_watches')?.trim());
    const instances = Number(readProc('/proc/sys/fs/inotify/max_user_instances')?.trim());
    if (Number.isFinite(watches) && Number.isFinite(instances)) {
      const low = watches < 524288 || instances < 512;
      checks.push({
        name: 'inotify limits',
        status: low ? 'warn' : 'ok',
        detail: `max_user_watches=${watches}, max_user_instances=${instances}`,
        ...(low
          ? {
              fix: 'sudo sysctl fs.inotify.max_user_watches=524288 && sudo sysctl fs.inotify.max_user_instances=512 (persist in /etc/sysctl.conf)',
            }
          : {}),
      });
    }
  }

  const mem = dockerMem ?? (opts.totalMemBytes ?? os.totalmem)();
  checks.push({
    name: 'memory',
    status: mem < 4 * GiB ? 'fail' : mem < 8 * GiB ? 'warn' : 'ok',
    detail: `${(mem / GiB).toFixed(1)} GiB${dockerMem ? ' available to Docker' : ''}`,
    ...(mem < 8 * GiB
      ? { fix: 'a 3-node kind cluster with Istio needs about 8 GiB; give Docker more memory' }
      : {}),
  });

  const diskPath = opts.diskPath ?? process.cwd();
  const free = (opts.freeDiskBytes ?? freeDiskDefault)(diskPath);
  if (free !== undefined) {
    checks.push({
      name: 'disk',
      status: free < 5 * GiB ? 'fail' : free < 15 * GiB ? 'warn' : 'ok',
      detail: `${(free / GiB).toFixed(1)} GiB free at ${diskPath}`,
      ...(free < 15 * GiB
        ? { fix: 'free disk space (node images and Istio images take several GiB); `docker system prune`' }
        : {}),
    });
  }

  if (opts.profile) checks.push(hostsCheck(opts.profile));

  return { checks, ...(kind ? { kind } : {}), helm, ok: checks.every((c) => c.status !== 'fail') };
}

/**
 * Chart and image hosts of a profile: a warning naming each field that points at one of Istio's
 * retired hosts (istio/hosts.ts), with its replacement.
 */
export function hostsCheck(profile: Profile): Check {
  const name = 'Istio hosts';
  const refs = profile.retiredHosts;
  const where = displayPath(profile.source);
  if (refs.length === 0)
    return {
      name,
      status: 'ok',
      detail: `${where}: charts from ${profile.doc.istio.chartRepository}; no retired chart or image host${profile.releases.some((r) => r.planSet.length) ? `; the plan sets ${profile.releases.find((r) => r.planSet.length)?.planSet[0] ?? ''} (${hubReason(profile.doc.istio.version)})` : ''}`,
    };
  return {
    name,
    status: 'warn',
    detail: refs
      .map((r) => `${displayPath(r.file)}: ${r.field} = ${r.value} (${r.retired}, retired December 2026)`)
      .join('\n'),
    fix: [...new Set(refs.map((r) => `${r.field}: use ${r.replacement}`))].join('\n'),
  };
}

export function renderDoctor(report: DoctorReport): string {
  const table = new Table({
    head: ['check', 'status', 'detail', 'fix'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [16, 8, 50, 60],
  });
  for (const c of report.checks) table.push([c.name, c.status.toUpperCase(), c.detail, c.fix ?? '']);
  return table.toString();
}
