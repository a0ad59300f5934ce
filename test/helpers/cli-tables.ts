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
  commands: Record<string, CommandSpec>;
}

export const KIND_V0_30_0: CliTable = {
  name: 'kind v0.30.0',
  global: { value: ['verbosity', 'v'], bool: ['quiet', 'q', 'help', 'h'], args: [0, 0] },
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
    version: { value: [], bool: [], args: [0, 0] },
  },
};

export const DOCKER_V20_10_0: CliTable = {
  name: 'Docker CLI v20.10.0',
  global: {
    value: ['config', 'context', 'c', 'host', 'H', 'log-level', 'l'],
    bool: ['debug', 'D', 'help'],
    args: [0, 0],
  },
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
 * undefined when it parses. Messages follow cobra's ("unknown flag: --x", "unknown command").
 */
export function usageError(table: CliTable, argv: readonly string[]): string | undefined {
  const names = Object.keys(table.commands).sort((a, b) => b.split(' ').length - a.split(' ').length);
  const words = argv.filter((a) => !a.startsWith('-'));
  const command = names.find((n) => n.split(' ').every((w, i) => words[i] === w));
  if (!command) return `unknown command "${words[0] ?? ''}" for "${table.name.split(' ')[0] ?? ''}"`;
  const spec = table.commands[command]!;
  const valueFlags = new Set([...spec.value, ...table.global.value]);
  const boolFlags = new Set([...spec.bool, ...table.global.bool]);
  const cmdWords = command.split(' ');
  const positional: string[] = [];
  let consumed = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (consumed < cmdWords.length && a === cmdWords[consumed]) {
      consumed++;
      continue;
    }
    if (spec.stopAtArg && positional.length > 0) {
      positional.push(a);
      continue;
    }
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    const m = /^(--?)([^=]+)(=.*)?$/.exec(a);
    if (!m || a === '-') {
      positional.push(a);
      continue;
    }
    const [, dashes, name = '', inline] = m;
    if (dashes === '-' && name.length > 1) return `unknown shorthand flag: '${name[0] ?? ''}' in ${a}`;
    if (valueFlags.has(name)) {
      if (inline === undefined) {
        if (i + 1 >= argv.length) return `flag needs an argument: ${a}`;
        i++;
      }
    } else if (!boolFlags.has(name)) return `unknown flag: ${dashes}${name}`;
  }
  const [min, max] = spec.args;
  if (positional.length < min || positional.length > max)
    return `"${table.name.split(' ')[0] ?? ''} ${command}" accepts ${min === max ? min : `${min} to ${max}`} arg(s), received ${positional.length}`;
  return undefined;
}
