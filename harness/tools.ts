import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PreflightError, throwIfInterrupted } from './errors.ts';
import { run } from './exec.ts';
import { log } from './progress.ts';
import { PINS, type ToolPin } from './pins.ts';

export type ToolName = 'kind' | 'helm';

export interface ResolvedTool {
  name: ToolName;
  /** Absolute path, or the bare name when it is to be taken from PATH. */
  path: string;
  version: string;
  source: 'path' | 'cache' | 'download';
  /** For download: where it will be fetched from. */
  url?: string;
  warnings: string[];
}

export function platformKey(platform = process.platform, arch = process.arch): string {
  const osName = platform === 'win32' ? 'windows' : platform;
  const a = arch === 'x64' ? 'amd64' : arch;
  return `${osName}-${a}`;
}

export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AMBIENT_TOOL_CACHE) return path.resolve(env.AMBIENT_TOOL_CACHE);
  const base = env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'ambient-conformance', 'tools');
}

export function cachedToolPath(name: ToolName, pin: ToolPin, cacheDir: string, plat = platformKey()): string {
  return path.join(cacheDir, name, pin.version, plat, name);
}

export function downloadUrl(pin: ToolPin, plat = platformKey()): string {
  const [osName, arch] = plat.split('-');
  return pin.url
    .replaceAll('{version}', pin.version)
    .replaceAll('{os}', osName ?? '')
    .replaceAll('{arch}', arch ?? '');
}

/** Parses `kind version` ("kind v0.30.0 go1.24.6 linux/amd64") and `helm version --short` ("v3.21.4+g…"). */
export function parseToolVersion(name: ToolName, stdout: string): string | undefined {
  const re = name === 'kind' ? /kind (v\d+\.\d+\.\d+\S*)/ : /^(v\d+\.\d+\.\d+)/m;
  return re.exec(stdout.trim())?.[1];
}

export function versionTuple(v: string): [number, number, number] {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)];
}

export function atLeast(v: string, min: string): boolean {
  const a = versionTuple(v);
  const b = versionTuple(min);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/**
 * The oldest Docker CLI this suite accepts: the command lines it runs (`docker info --format`,
 * `docker exec <node> sh -c …`, `docker version --format`) are checked against Docker CLI
 * v20.10.0's (docker/cli@v20.10.0 cli/command/system/info.go, version.go, container/exec.go).
 */
export const MINIMUM_DOCKER_CLI = '20.10.0';

/** Oldest versions this suite accepts from PATH, and why. */
export const MINIMUM = {
  // kindnet enforces NetworkPolicy (kube-network-policies) since kind v0.24.0.
  kind: 'v0.24.0',
  // The Istio docs ask for Helm 3.6 or above, but Helm 3.6 has no `uninstall --wait` (it arrives
  // in v3.7.0, helm cmd/helm/uninstall.go).
  helm: 'v3.7.0',
} as const;

/**
 * Oldest Helm that installs from an `oci://` chart repository without HELM_EXPERIMENTAL_OCI:
 * v3.7.0 refuses `install oci://…` unless that variable is set (cmd/helm/install.go checkOCI,
 * cmd/helm/root.go); the gate is gone from v3.8.0.
 */
export const MINIMUM_HELM_FOR_OCI = 'v3.8.0';

/** The oldest Helm a chart repository needs: `oci://` needs v3.8.0, a Helm repository v3.7.0. */
export function minimumHelmFor(chartRepository: string): string {
  return chartRepository.toLowerCase().startsWith('oci://') ? MINIMUM_HELM_FOR_OCI : MINIMUM.helm;
}

/** Whether an executable file of this name is in a directory of PATH (as execvp looks it up). */
function onPath(file: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir || '.', file), fsConstants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * `<tool> version` through node:child_process.execFile rather than execa: `plan` and `doctor` probe
 * kind and helm before anything else, and a version query needs neither execa's process-group
 * handling nor its 90 ms of loading (issue 11's start-time target). Bounded by timeoutMs (SIGKILL)
 * and the signal; undefined when the tool is missing, fails or prints no version.
 */
async function versionOf(
  name: ToolName,
  file: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  throwIfInterrupted(signal, `${name} version`);
  // A bare name that is on no PATH directory would only fail to spawn: skip the process.
  if (!file.includes('/') && !onPath(file)) return undefined;
  const args = name === 'kind' ? ['version'] : ['version', '--short'];
  const { execFile } = await import('node:child_process');
  const stdout = await new Promise<string | undefined>((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', ...(signal ? { signal } : {}) },
      (err, out) => resolve(err ? undefined : out),
    );
  });
  throwIfInterrupted(signal, `${name} version`);
  return stdout === undefined ? undefined : parseToolVersion(name, stdout);
}

export interface ResolveOptions {
  /** Oldest acceptable version on PATH, when stricter than MINIMUM (e.g. minimumHelmFor). */
  minimum?: string;
  cacheDir?: string;
  timeoutMs: number;
  /** Cancels the version probe. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds a tool: on PATH at an acceptable version, else in the tool cache at the pinned version,
 * else planned for download (the download itself happens in `provision`). Read-only.
 */
export async function resolveTool(name: ToolName, opts: ResolveOptions): Promise<ResolvedTool> {
  const pin = PINS[name];
  const cacheDir = opts.cacheDir ?? toolCacheDir(opts.env);
  const warnings: string[] = [];
  const onPath = await versionOf(name, name, opts.timeoutMs, opts.signal);
  if (onPath !== undefined) {
    const minimum = opts.minimum ?? MINIMUM[name];
    if (atLeast(onPath, minimum)) {
      if (name === 'kind' && onPath !== pin.version)
        warnings.push(
          `kind ${onPath} on PATH differs from the pinned ${pin.version}; the node image was built for ${pin.version} (other pairings are best effort)`,
        );
      return { name, path: name, version: onPath, source: 'path', warnings };
    }
    warnings.push(
      `${name} ${onPath} on PATH is older than ${minimum}${minimum !== MINIMUM[name] ? ' (needed for an oci:// chart repository)' : ''}; using the pinned ${pin.version}`,
    );
  }
  const cached = cachedToolPath(name, pin, cacheDir);
  if (existsSync(cached)) return { name, path: cached, version: pin.version, source: 'cache', warnings };
  return { name, path: cached, version: pin.version, source: 'download', url: downloadUrl(pin), warnings };
}

export type Fetcher = (url: string, signal?: AbortSignal) => Promise<Uint8Array>;

const defaultFetcher: Fetcher = async (url, signal) => {
  const res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
};

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Downloads a pinned tool into the cache and checks it against its pinned SHA-256 before it is
 * ever executed. No pin for this platform, or a mismatch: refused.
 */
export async function provision(
  tool: ResolvedTool,
  opts: { fetcher?: Fetcher; plat?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<ResolvedTool> {
  if (tool.source !== 'download') return tool;
  const pin = PINS[tool.name];
  const plat = opts.plat ?? platformKey();
  const expected = pin.sha256[plat];
  const url = tool.url ?? downloadUrl(pin, plat);
  if (expected === undefined) {
    throw new PreflightError(`${tool.name} is not installed and cannot be downloaded safely`, {
      expected: `${tool.name} ${MINIMUM[tool.name]}+ on PATH, or a pinned SHA-256 for ${tool.name} ${pin.version} ${plat} in pins.json`,
      seen: `no ${tool.name} on PATH; pins.json has no checksum for ${plat}`,
      fix:
        tool.name === 'helm'
          ? 'install Helm 3.7+ or Helm 4 (https://helm.sh/docs/intro/install/), or add its SHA-256 to pins.json'
          : `install kind ${pin.version} (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)`,
    });
  }
  log.info(`downloading ${tool.name} ${pin.version} for ${plat} from ${url}`);
  const bytes = await (opts.fetcher ?? defaultFetcher)(url, opts.signal).catch((e: unknown) => {
    throwIfInterrupted(opts.signal, `download ${tool.name}`);
    throw e;
  });
  const actual = sha256(bytes);
  if (actual !== expected) {
    throw new PreflightError(
      `checksum mismatch for ${tool.name} ${pin.version} (${plat}); the download was discarded`,
      {
        expected: `sha256 ${expected}`,
        seen: `sha256 ${actual} from ${url}`,
        fix: 'retry later; if it persists, do not use this download and report it',
      },
    );
  }
  const dest = tool.path;
  mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = mkdtempSync(path.join(path.dirname(dest), '.dl-'));
  try {
    if (url.endsWith('.tar.gz')) {
      const archive = path.join(tmp, 'archive.tar.gz');
      writeFileSync(archive, bytes);
      const member = `${plat}/${tool.name}`;
      const r = await run(['tar', '-xzf', archive, '-C', tmp, member], {
        timeoutMs: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      throwIfInterrupted(opts.signal, `unpack ${tool.name}`);
      if (r.exitCode !== 0) throw new PreflightError(`cannot unpack ${archive}`, { seen: r.stderr });
      renameSync(path.join(tmp, member), dest);
    } else {
      writeFileSync(path.join(tmp, tool.name), bytes);
      renameSync(path.join(tmp, tool.name), dest);
    }
    chmodSync(dest, 0o755);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log.info(`${tool.name} ${pin.version} verified (sha256 ${actual.slice(0, 12)}…) and cached at ${dest}`);
  return { ...tool, source: 'cache' };
}

export function helmMajor(version: string): 3 | 4 {
  return versionTuple(version)[0] >= 4 ? 4 : 3;
}
