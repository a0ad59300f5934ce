import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { CleanFlags } from './clean.ts';
import type { UpgradeMatrixFlags, UpgradePlanFlags } from './upgrade.ts';
import { clip, InterruptedError, isConformanceError } from '../harness/errors.ts';
import { collectList } from '../harness/selection.ts';
import type { RunFlags } from '../harness/settings.ts';

/**
 * The program: commands, flags and exit codes. It loads what a command needs when the command
 * runs (cli/commands.ts, cli/clean.ts, harness/reachability/matrix-command.ts), so that
 * `--version`, `--help` and `netpol matrix` start without the orchestrator, the Kubernetes client
 * or the suites.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

const commands = () => import('./commands.ts');

/** Comma-separated or repeated values of `what` (e.g. Istio versions for --via); none is refused. */
const collectNamed =
  (what: string) =>
  (value: string, previous: string[] = []): string[] => {
    const items = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (items.length === 0)
      throw new InvalidArgumentError(`expected ${what}, comma-separated; seen an empty value`);
    return [...previous, ...items];
  };

/**
 * A flag given once: a repeat with the same value is accepted, one with another value refused
 * (commander would silently keep the last). Values are echoed bounded (harness/errors.ts clip).
 */
const once =
  () =>
  (value: string, previous: string | undefined): string => {
    if (previous !== undefined && previous !== value)
      throw new InvalidArgumentError(
        `given twice with different values (${JSON.stringify(clip(previous, 80))}, then ${JSON.stringify(clip(value, 80))}); expected it once`,
      );
    return value;
  };

function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--profile <file>', 'profile YAML (default: the embedded homelab profile)')
    .option('--istio-version <version>', 'override the profile’s Istio version (e.g. to try the next patch)')
    .option('--cluster-name <name>', 'kind cluster name (default: ambient-conformance-<id>)')
    .option(
      '--reuse',
      'use a kind cluster this tool created and kept (needs --cluster-name); it is kept again',
    )
    .option('--kubeconfig <file>', 'use an existing cluster: never creates or deletes clusters')
    .option('--context <name>', 'kubeconfig context of an existing cluster')
    .option(
      '--use-existing-istio',
      'existing cluster: test the Istio already installed, as is, without installing',
    )
    .option('--keep', 'keep the cluster and test namespaces at the end')
    .option('--keep-on-failure', 'keep them only if something failed')
    .option('--destructive', 'also run the opt-in checks that break the mesh on purpose (REMOVAL-04)')
    .option(
      '--only <ids>',
      'run only these test IDs (comma-separated or repeated; SUITE-* prefixes)',
      collectList,
    )
    .option(
      '--skip <ids>',
      'skip these test IDs (comma-separated or repeated; SUITE-* prefixes)',
      collectList,
    )
    .option('--reports-dir <dir>', 'where run folders are written', 'reports')
    .option('-v, --verbose', 'print every command and debug line');
}

export function buildProgram(): Command {
  const program = new Command('ambient-conformance')
    .description(
      'Conformance suite for Istio ambient mode: install, mTLS/HBONE, NetworkPolicy, budgets, removal',
    )
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  addRunFlags(
    program
      .command('run')
      .description(
        'create a kind cluster (or use yours), install Istio ambient, run the suites, report, clean up',
      ),
  ).action(async (flags: RunFlags) => {
    process.exitCode = await (await commands()).runCommand(flags);
  });
  addRunFlags(
    program
      .command('plan')
      .description('print every step and command `run` would execute, without executing anything'),
  )
    .option(
      '--json',
      'machine-readable: {"steps":[{"id","phase","description","when","command"}],"warnings","notices","retiredHosts"}',
    )
    .action(async (flags: RunFlags & { json?: boolean }) => {
      process.exitCode = await (await commands()).planCommand(flags);
    });
  program
    .command('doctor')
    .description('check Docker, kind, helm, inotify limits, memory and disk; print a fix for each problem')
    .option('--kubeconfig <file>', 'checks for an existing cluster (no Docker or kind needed)')
    .option('--context <name>', 'checks for an existing cluster (no Docker or kind needed)')
    .option(
      '--profile <file>',
      'also check this profile’s chart and image hosts (default: the embedded homelab profile)',
    )
    .option('--json', 'machine-readable output')
    .action(async (flags: { kubeconfig?: string; context?: string; profile?: string; json?: boolean }) => {
      process.exitCode = await (await commands()).doctorCommand(flags);
    });
  program
    .command('clean')
    .description(
      'list what runs of this tool left in a cluster (Helm releases on a run marker, labelled namespaces); remove what belongs to runs that are over with --yes',
    )
    .option('--kubeconfig <file>', 'the cluster (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('--yes', 'remove what the listing marks "removed by --yes" (never a live run)')
    .option('--include-kept', 'also remove what runs with --keep left')
    .option(
      '--json',
      'machine-readable listing: {"runs":[{"runId","state","why","releases","namespaces","remove","commands"}]}',
    )
    .action(async (flags: CleanFlags) => {
      // Ctrl-C stops the removal in flight and exits 130/143; the next `clean` lists what is left.
      // process.on, not once: while the handler is installed, execa's signal-exit does not
      // re-raise the signal and kill the process before the removal is stopped.
      const ctl = new AbortController();
      const stop = (sig: NodeJS.Signals) =>
        ctl.abort(
          new InterruptedError(`clean: interrupted by ${sig}; run it again to see what is left`, sig),
        );
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        process.exitCode = await (await import('./clean.ts')).cleanCommand(flags, ctl.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
  program
    .command('list')
    .description('print the catalog of conformance tests (ID, suite, claim) without touching any cluster')
    .addOption(new Option('--json', 'machine-readable output'))
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = (await import('./list.ts')).listCommand(flags);
    });
  const upgrade = program.command('upgrade').description('Istio upgrade tools');
  upgrade
    .command('plan')
    .description(
      'check an upgrade A → B without a cluster: hops and version skew, Kubernetes and kind image, releases, chart and image hosts, values keys, behaviour changes, and with --gitops the Argo CD Applications (exit 0 sound, 1 a check fails, 2 bad input)',
    )
    .option('--from <version>', 'the installed Istio version (default: the profile’s istio.version)', once())
    .option('--to <version>', 'the target Istio version (required)', once())
    .option(
      '--via <versions>',
      'stops on the way, comma-separated or repeated (default: the newest known patch of each minor in between)',
      collectNamed('Istio versions such as 1.29.6'),
    )
    .option(
      '--direct',
      'check a single hop A → B (when it skips a minor the hops check fails, exit 1, naming the legal path)',
    )
    .option('--profile <file>', 'profile YAML (default: the embedded homelab profile)')
    .option(
      '--gitops <dir>',
      'folder with the Argo CD Application manifests of the four Istio charts',
      once(),
    )
    .option('--offline', 'use recorded chart facts only; never run helm to fetch a chart')
    .option(
      '--date <YYYY-MM-DD>',
      'the date end of life, publication and host retirement are judged on (default: today)',
      once(),
    )
    .option(
      '--json',
      'machine-readable: {"schema","from","to","path","steps","checks":[{"id","title","status","summary","evidence":[{"text","source","status"}]}],"verdict","exitCode"} (docs/upgrade-plan.md)',
    )
    .action(async (flags: UpgradePlanFlags) => {
      process.exitCode = await (await import('./upgrade.ts')).upgradePlanCommand(flags);
    });
  upgrade
    .command('matrix')
    .description(
      'the version matrix: each supported Istio minor’s newest patch × each Kubernetes minor it supports that a pinned kind release provides',
    )
    .option(
      '--json',
      'for a workflow’s strategy.matrix: {"include":[{"id","istio","kubernetes","kind","nodeImage","only","hub","expectations"}]}',
    )
    .option(
      '--cells <ids>',
      'only these cells (comma-separated or repeated; default all)',
      collectNamed('matrix cell ids such as istio-1.31.1-k8s-1.34'),
    )
    .option(
      '--profile-for <cell>',
      'print the embedded profile with that cell’s Istio version and node image',
    )
    .option('--date <YYYY-MM-DD>', 'the date that decides which minors are still supported (default: today)')
    .action(async (flags: UpgradeMatrixFlags) => {
      process.exitCode = await (await import('./upgrade.ts')).upgradeMatrixCommand(flags);
    });
  const netpol = program.command('netpol').description('NetworkPolicy tools');
  netpol
    .command('matrix')
    .description(
      'predict who can reach whom (ambient-aware) from Namespace, Pod, NetworkPolicy, PeerAuthentication and AuthorizationPolicy manifests',
    )
    .requiredOption(
      '-f, --file <path>',
      'manifest file or folder (YAML or JSON; repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--port <n>',
      'port to evaluate (repeatable; default: every container port of the destination)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--json',
      'machine-readable: {"hostTraffic","cells":[{"from","to","port","protocol","allowed","outcome","judgedPort","reason"}]} (from: a pod "ns/name", "[kubelet]" or "[host] ns/name")',
    )
    .option('--explain', 'print the reason for every cell')
    .addOption(
      new Option(
        '--host-traffic <mode>',
        "whether the CNI applies NetworkPolicy to connections from a node's own sockets (kubelet probes, host-network pods) once istio-cni has SNATed them to 169.254.7.127: judged (most CNIs, Cilium) or exempt (kindnet); default judged",
      )
        .choices(['judged', 'exempt'])
        // The flag changes cells: two different values are a mistake, not a last-one-wins.
        .argParser((v: string, prev: string | undefined) => {
          if (!['judged', 'exempt'].includes(v))
            throw new InvalidArgumentError(`Allowed choices are judged, exempt.`);
          if (prev !== undefined && prev !== v)
            throw new InvalidArgumentError(`given twice with different values (${prev}, then ${v}).`);
          return v;
        }),
    )
    .action(
      async (flags: {
        file: string[];
        port?: string[];
        json?: boolean;
        explain?: boolean;
        hostTraffic?: 'judged' | 'exempt';
      }) => {
        // Only the manifest reader and the model: `netpol matrix` is a pre-commit tool.
        const { netpolMatrix } = await import('../harness/reachability/matrix-command.ts');
        process.exitCode = await netpolMatrix(flags);
      },
    );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message; usage errors are the user's input: exit 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isConformanceError(e)) {
      process.stderr.write(`ambient-conformance: ${e.render()}\n`);
      return e.exitCode;
    }
    process.stderr.write(
      `ambient-conformance: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 1;
  }
}
