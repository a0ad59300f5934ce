/**
 * What the real kind and docker command lines accept, for fakes that must refuse what the real
 * tools refuse (no real binary can run here: kind needs Docker, and Debian's docker.io client is
 * newer than the oldest this suite accepts). Taken from the source at the pinned versions:
 * - kind v0.30.0 (kubernetes-sigs/kind@v0.30.0): pkg/cmd/kind/root.go (persistent --verbosity/-v,
 *   --quiet/-q), create/cluster/createcluster.go, delete/cluster/deletecluster.go,
 *   get/clusters/clusters.go, get/kubeconfig/kubeconfig.go, export/logs/logs.go (one optional
 *   argument), version/version.go; cobra's own --help/-h.
 * - Docker CLI v20.10.0, the oldest `doctor` accepts (docker/cli@v20.10.0): cli/command/system/
 *   info.go (--format/-f, no arguments), system/version.go (--format/-f, --kubeconfig),
 *   container/exec.go (flags end at the container name, then a command of one or more words).
 */
export interface CommandSpec {
  /** Long and short flags that take a value. */
  value: string[];
  /** Long and short flags that take none. */
  bool: string[];
  /** Allowed count of positional arguments [min, max]; flags stop at the first one when `stopAtArg`. */
  args: [number, number];
  stopAtArg?: boolean;
}

export interface CliTable {
  name: string;
  global: CommandSpec;
  /**
   * Whether the global flags may also follow the subcommand (cobra persistent flags, as kind's
   * --verbosity/--quiet); Docker's root flags are accepted only before it (cli/cobra.go,
   * TraverseChildren).
   */
  persistentGlobals: boolean;
  commands: Record<string, CommandSpec>;
}

export const KIND_V0_30_0: CliTable = {
  name: 'kind v0.30.0',
  global: { value: ['verbosity', 'v'], bool: ['quiet', 'q', 'help', 'h', 'version'], args: [0, 0] },
  persistentGlobals: true,
  commands: {
    'create cluster': {
      value: ['name', 'n', 'config', 'image', 'wait', 'kubeconfig'],
      bool: ['retain'],
      args: [0, 0],
    },
    'delete cluster': { value: ['name', 'n', 'kubeconfig'], bool: [], args: [0, 0] },
    'get clusters': { value: [], bool: [], args: [0, 0] },
    'get kubeconfig': { value: ['name', 'n'], bool: ['internal'], args: [0, 0] },
    'export logs': { value: ['name', 'n'], bool: [], args: [0, 1] },
    // No Args on the version command: cobra lets extra arguments through.
    version: { value: [], bool: [], args: [0, Infinity] },
  },
};

export const DOCKER_V20_10_0: CliTable = {
  name: 'Docker CLI v20.10.0',
  // cli/flags/common.go (incl. the TLS flags), cmd/docker/docker.go (--config, -v/--version),
  // cli/cobra.go (-h/--help).
  global: {
    value: ['config', 'context', 'c', 'host', 'H', 'log-level', 'l', 'tlscacert', 'tlscert', 'tlskey'],
    bool: ['debug', 'D', 'tls', 'tlsverify', 'help', 'h', 'version', 'v'],
    args: [0, 0],
  },
  persistentGlobals: false,
  commands: {
    info: { value: ['format', 'f'], bool: [], args: [0, 0] },
    version: { value: ['format', 'f', 'kubeconfig'], bool: [], args: [0, 0] },
    exec: {
      value: ['detach-keys', 'user', 'u', 'env', 'e', 'env-file', 'workdir', 'w'],
      bool: ['interactive', 'i', 'tty', 't', 'detach', 'd', 'privileged'],
      args: [2, Infinity],
      stopAtArg: true,
    },
  },
};

/**
 * The usage error the real tool would print for this argv (argv without the program name), or
 * undefined when it parses. Flags: `--name value`, `--name=value`, `-x value`, `-xvalue`,
 * grouped short booleans (`-it`), `--` ends flags.
 */
export function usageError(table: CliTable, argv: readonly string[]): string | undefined {
  const tool = table.name.split(' ')[0] ?? '';
  /** Reads the flag at argv[i]; returns how many items it used, or an error. */
  const flag = (i: number, value: Set<string>, bool: Set<string>): number | string => {
    const a = argv[i] ?? '';
    if (a.startsWith('--')) {
      const [name = '', inline] = a.slice(2).split(/=(.*)/s);
      if (value.has(name)) {
        if (inline !== undefined) return 1;
        return i + 1 < argv.length ? 2 : `flag needs an argument: ${a}`;
      }
      return bool.has(name) ? 1 : `unknown flag: --${name}`;
    }
    const shorts = a.slice(1);
    for (let k = 0; k < shorts.length; k++) {
      const c = shorts[k] ?? '';
      if (value.has(c)) {
        if (k < shorts.length - 1) return 1; // -xVALUE
        return i + 1 < argv.length ? 2 : `flag needs an argument: '${c}' in -${c}`;
      }
      if (!bool.has(c)) return `unknown shorthand flag: '${c}' in ${a}`;
    }
    return 1;
  };
  const gValue = new Set(table.global.value);
  const gBool = new Set(table.global.bool);
  // Global flags before the subcommand.
  let i = 0;
  while (i < argv.length && (argv[i] ?? '').startsWith('-') && argv[i] !== '-' && argv[i] !== '--') {
    const used = flag(i, gValue, gBool);
    if (typeof used === 'string') return used;
    i += used;
  }
  if (i >= argv.length) return undefined; // the root command alone (help, --version)
  const names = Object.keys(table.commands).sort((a, b) => b.split(' ').length - a.split(' ').length);
  const command = names.find((n) => n.split(' ').every((w, k) => argv[i + k] === w));
  if (!command) return `unknown command "${argv[i] ?? ''}" for "${tool}"`;
  const spec = table.commands[command]!;
  i += command.split(' ').length;
  const value = new Set([...spec.value, ...(table.persistentGlobals ? table.global.value : [])]);
  const bool = new Set([...spec.bool, ...(table.persistentGlobals ? table.global.bool : [])]);
  const positional: string[] = [];
  for (; i < argv.length;) {
    const a = argv[i] ?? '';
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if ((spec.stopAtArg && positional.length > 0) || !a.startsWith('-') || a === '-') {
      positional.push(a);
      i++;
      continue;
    }
    const used = flag(i, value, bool);
    if (typeof used === 'string') return used;
    i += used;
  }
  const [min, max] = spec.args;
  if (positional.length < min || positional.length > max)
    return `"${tool} ${command}" accepts ${min === max ? min : `${min} to ${max}`} arg(s), received ${positional.length}`;
  return undefined;
}
