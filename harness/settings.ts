import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { clip, UserInputError } from './errors.ts';
import { checkWritableDir } from './files.ts';
import type { RunSettings } from './plan.ts';
import { CLUSTER_PREFIX } from './registry.ts';

/** Flags shared by run and plan, as commander hands them over. */
export interface RunFlags {
  profile?: string;
  istioVersion?: string;
  clusterName?: string;
  reuse?: boolean;
  kubeconfig?: string;
  context?: string;
  useExistingIstio?: boolean;
  keep?: boolean;
  keepOnFailure?: boolean;
  destructive?: boolean;
  only?: string[];
  skip?: string[];
  reportsDir?: string;
}

export function newRunId(now = new Date(), rand = randomBytes(2).toString('hex')): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}-${rand}`;
}

export { collectList } from './selection.ts';

export function validateSelection(
  patterns: string[],
  flag: string,
  catalog: readonly { id: string }[],
): void {
  if (!catalog.length) return; // no catalog at hand (globalSetup run directly): nothing to check against
  for (const p of patterns) {
    const ok = p.endsWith('*')
      ? catalog.some((t) => t.id.startsWith(p.slice(0, -1)))
      : catalog.some((t) => t.id === p);
    if (!ok)
      throw new UserInputError(`${flag} ${clip(p, 80)}: no such conformance test`, {
        expected: `a test ID or SUITE-* prefix from the catalog (${catalog.map((t) => t.id).join(', ')})`,
        seen: clip(p),
        fix: 'see `ambient-conformance list`',
      });
  }
}

/**
 * kind cluster names. kind v0.30.0 accepts `^[a-z0-9.-]+$` (pkg/internal/apis/config/validate.go
 * validNameRE) and warns above 50 characters, since it appends "-control-plane" to make node
 * names and hostnames of at most 64 (pkg/cluster/internal/create/create.go clusterNameMax). Those
 * node names (`<cluster>-control-plane`, `<cluster>-worker2`: pkg/cluster/internal/providers/common/
 * namer.go; the container hostname is the same, providers/docker/provision.go) must also be
 * Kubernetes node names, DNS-1123 subdomains (kubernetes/kubernetes pkg/apis/core/validation
 * ValidateNodeName), and Docker container names, which start with a letter or digit (moby
 * daemon/names/names.go RestrictedNameChars). Returns what is wrong, or undefined.
 */
export function clusterNameProblem(name: string): string | undefined {
  if (name === '') return 'an empty value';
  // kind v0.30.0 only warns above 50 (pkg/cluster/internal/create/create.go clusterNameMax);
  // longer names make node hostnames above 64 characters, so this tool refuses them.
  if (name.length > 50)
    return `${name.length} characters (at most 50: kind warns above that, as its node names then pass 64 characters)`;
  if (!/^[a-z0-9.-]+$/.test(name)) return 'characters other than lowercase letters, digits, "." and "-"';
  const node = `${name}-control-plane`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(node))
    return `its node name ${node} is not a DNS-1123 subdomain (each "."-separated part must start and end with a letter or digit)`;
  return undefined;
}

/** What the user called each setting, for messages: flags by default, variables for the standalone globalSetup. */
export interface SettingNames {
  clusterName: string;
  reportsDir: string;
  context: string;
  kubeconfig: string;
  only: string;
  skip: string;
}

const FLAG_NAMES: SettingNames = {
  clusterName: '--cluster-name',
  reportsDir: '--reports-dir',
  context: '--context',
  kubeconfig: '--kubeconfig',
  only: '--only',
  skip: '--skip',
};

/**
 * An on/off environment variable (AMBIENT_KEEP): unset or empty is off, "1" on, "0" off; anything
 * else is refused rather than read as off.
 */
export function envSwitch(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = env[name];
  if (v === undefined || v === '' || v === '0') return false;
  if (v === '1') return true;
  throw new UserInputError(`invalid ${name}`, {
    expected: '1 (on) or 0 (off); unset is off',
    seen: clip(JSON.stringify(v)),
  });
}

export function defaultKubeconfig(env: NodeJS.ProcessEnv): string {
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p !== '');
  return first ?? path.join(os.homedir(), '.kube', 'config');
}

const EMPTY_EXPECTED: Record<'context' | 'kubeconfig' | 'reportsDir', string> = {
  context: 'a context name from the kubeconfig (leave the flag out to use its current-context)',
  kubeconfig: 'the path of a kubeconfig file',
  reportsDir: 'the path of a folder for the run folders',
};

/**
 * An empty --context/--kubeconfig/--reports-dir (or the variable standing for it) is a mistake,
 * not "the default": exit 2 naming it. Blank values count as empty.
 */
export function refuseEmpty(
  values: Partial<Record<'context' | 'kubeconfig' | 'reportsDir', string | undefined>>,
  names: Partial<SettingNames> = {},
): void {
  const n = { ...FLAG_NAMES, ...names };
  for (const key of ['context', 'kubeconfig', 'reportsDir'] as const) {
    const v = values[key];
    if (v !== undefined && v.trim() === '')
      throw new UserInputError(`${n[key]}: an empty value`, {
        expected: EMPTY_EXPECTED[key],
        seen: 'an empty value',
      });
  }
}

export function resolveSettings(
  flags: RunFlags,
  catalog: readonly { id: string }[],
  opts: { env?: NodeJS.ProcessEnv; runId?: string; cwd?: string; names?: Partial<SettingNames> } = {},
): RunSettings {
  const env = opts.env ?? process.env;
  const names = { ...FLAG_NAMES, ...opts.names };
  refuseEmpty({ context: flags.context, kubeconfig: flags.kubeconfig, reportsDir: flags.reportsDir }, names);
  const existing = flags.kubeconfig !== undefined || flags.context !== undefined;
  if (existing && flags.reuse)
    throw new UserInputError('--reuse cannot be combined with --kubeconfig/--context', {
      expected:
        '--reuse for a kind cluster this tool created, or --kubeconfig/--context for any other cluster',
      seen: '--reuse together with --kubeconfig/--context',
    });
  if (flags.useExistingIstio && !existing)
    throw new UserInputError('--use-existing-istio needs --kubeconfig or --context', {
      expected: 'an existing cluster to test as it is',
      seen: '--use-existing-istio alone (this run would create its own kind cluster)',
      fix: 'add --context <your-context>',
    });
  if (existing && flags.clusterName !== undefined)
    throw new UserInputError(`${names.clusterName} applies to kind clusters only`, {
      expected: `${names.clusterName} with a kind run (default or --reuse)`,
      seen: `${names.clusterName} with --kubeconfig/--context`,
    });
  if (flags.reuse && flags.clusterName === undefined)
    throw new UserInputError('--reuse needs --cluster-name', {
      expected: 'the name of a kind cluster this tool kept (kind get clusters)',
      seen: '--reuse without --cluster-name',
      fix: `e.g. --reuse --cluster-name ${CLUSTER_PREFIX}1a2b`,
    });
  const runId = opts.runId ?? newRunId();
  const clusterName = flags.clusterName ?? `${CLUSTER_PREFIX}${runId.slice(-4)}`;
  const nameProblem = clusterNameProblem(clusterName);
  if (nameProblem !== undefined)
    throw new UserInputError(
      `${names.clusterName} ${clip(JSON.stringify(clusterName), 80)} is not a valid kind cluster name`,
      {
        expected:
          'at most 50 lowercase letters, digits, "." and "-", starting and ending with a letter or digit (kind v0.30.0 rules)',
        seen: nameProblem,
      },
    );
  const only = flags.only ?? [];
  const skip = flags.skip ?? [];
  validateSelection(only, names.only, catalog);
  validateSelection(skip, names.skip, catalog);
  const both = only.filter((p) => skip.includes(p));
  if (both.length)
    throw new UserInputError(`${clip(both.join(', '), 80)} given to both ${names.only} and ${names.skip}`, {
      expected: `each test ID or prefix in one of ${names.only} and ${names.skip}`,
      seen: clip(`${names.only} ${only.join(',')} ${names.skip} ${skip.join(',')}`, 400),
    });
  const reportsDir = path.resolve(opts.cwd ?? process.cwd(), flags.reportsDir ?? 'reports');
  checkWritableDir(reportsDir, names.reportsDir);
  // The tool cache also holds the record of kind clusters this tool created (registry.ts).
  if (env.AMBIENT_TOOL_CACHE) checkWritableDir(path.resolve(env.AMBIENT_TOOL_CACHE), 'AMBIENT_TOOL_CACHE');
  const runDir = path.join(reportsDir, runId);
  let kubeconfig = path.join(runDir, 'kubeconfig');
  if (existing) {
    kubeconfig = path.resolve(flags.kubeconfig ?? defaultKubeconfig(env));
    if (!existsSync(kubeconfig))
      throw new UserInputError(`kubeconfig not found: ${kubeconfig}`, {
        expected: 'a readable kubeconfig file',
        seen: 'no such file',
        fix: 'pass --kubeconfig <file> or set KUBECONFIG',
      });
    checkKubeconfig(kubeconfig, flags.context);
  }
  const context = existing ? flags.context : `kind-${clusterName}`;
  return {
    runId,
    mode: existing ? 'existing' : flags.reuse ? 'kind-reuse' : 'kind',
    clusterName: existing ? (flags.context ?? 'current-context') : clusterName,
    runDir,
    kubeconfig,
    ...(context ? { context } : {}),
    useExistingIstio: flags.useExistingIstio === true,
    keep: flags.keep === true || flags.reuse === true,
    keepOnFailure: flags.keepOnFailure === true,
    destructive: flags.destructive === true,
    only,
    skip,
  };
}

/** Larger than any kubeconfig a person writes; bounds what is read. */
const KUBECONFIG_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Refuses a kubeconfig that cannot be one (a folder, empty, binary, not YAML, no contexts) and a
 * --context it does not define, naming what is wrong (exit 2), before any API call is tried.
 */
export function checkKubeconfig(file: string, context: string | undefined): void {
  const bad = (
    seen: string,
    expected = 'a kubeconfig file (kind: Config with clusters, contexts and users)',
  ) =>
    new UserInputError(`kubeconfig ${file} is not usable`, {
      expected,
      seen,
      fix: 'pass --kubeconfig <file> or set KUBECONFIG',
    });
  let st: ReturnType<typeof statSync>;
  let text: Buffer;
  try {
    st = statSync(file);
    text = st.isFile() && st.size <= KUBECONFIG_MAX_BYTES ? readFileSync(file) : Buffer.alloc(0);
  } catch (e) {
    throw bad(`unreadable: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isFile()) throw bad(st.isDirectory() ? 'a folder' : 'not a regular file');
  if (st.size === 0) throw bad('an empty file');
  if (st.size > KUBECONFIG_MAX_BYTES) throw bad(`${st.size} bytes (more than ${KUBECONFIG_MAX_BYTES})`);
  if (text.includes(0)) throw bad('binary data');
  let doc: unknown;
  try {
    doc = parseYaml(text.toString('utf8'));
  } catch (e) {
    throw bad(`not YAML: ${clip((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '')}`);
  }
  const contexts =
    doc !== null && typeof doc === 'object' && Array.isArray((doc as { contexts?: unknown }).contexts)
      ? (doc as { contexts: ({ name?: unknown } | null)[] }).contexts
          .map((c) => c?.name)
          .filter((n): n is string => typeof n === 'string')
      : undefined;
  if (contexts === undefined || contexts.length === 0) throw bad('no contexts in it');
  const current = (doc as { 'current-context'?: unknown })['current-context'];
  const chosen = context ?? (typeof current === 'string' && current !== '' ? current : undefined);
  if (chosen === undefined)
    throw new UserInputError(`kubeconfig ${file} names no current context`, {
      expected: `--context with one of: ${contexts.join(', ')}`,
      seen: 'no --context and no current-context',
    });
  if (!contexts.includes(chosen))
    throw new UserInputError(`context ${clip(chosen, 80)} is not in kubeconfig ${file}`, {
      expected: `one of: ${clip(contexts.join(', '), 1000)}`,
      seen: clip(chosen),
    });
}
