import path from 'node:path';
import Table from 'cli-table3';
import { asInterrupted, PreflightError } from '../harness/errors.ts';
import { run } from '../harness/exec.ts';
import { uninstallArgv } from '../harness/helm.ts';
import { makeClients } from '../harness/kube/client.ts';
import { deleteMarker, listMarkers } from '../harness/kube/marker.ts';
import { deleteNamespacesByLabel } from '../harness/kube/ops.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../harness/plan.ts';
import { log } from '../harness/progress.ts';
import { redact } from '../harness/redact.ts';
import { checkKubeconfig, defaultKubeconfig, refuseEmpty } from '../harness/settings.ts';
import { planSweep, sweepCommands, type SweepRun } from '../harness/sweep.ts';
import { resolveTimeouts } from '../harness/timeouts.ts';
import { helmMajor, resolveTool } from '../harness/tools.ts';

export interface CleanFlags {
  kubeconfig?: string;
  context?: string;
  yes?: boolean;
  includeKept?: boolean;
  json?: boolean;
}

/**
 * `ambient-conformance clean`: lists what runs of this tool left in a cluster (Helm releases on
 * a run marker, namespaces labelled with a run ID, the markers), and with --yes removes what
 * belongs to runs that are over. A live run (marker renewed recently) is never touched, and no
 * release that is not on a marker is ever uninstalled. Exit 0 when nothing is left to remove
 * (or without --yes), 1 when a removal failed, 2 for bad input, 3 when the API does not answer.
 */
export async function cleanCommand(flags: CleanFlags, signal?: AbortSignal): Promise<number> {
  refuseEmpty({ kubeconfig: flags.kubeconfig, context: flags.context });
  const interrupted = () => asInterrupted(signal ?? AbortSignal.abort(), 'clean');
  const kubeconfig = path.resolve(flags.kubeconfig ?? defaultKubeconfig(process.env));
  checkKubeconfig(kubeconfig, flags.context);
  const t = resolveTimeouts();
  const target = { kubeconfig, ...(flags.context ? { context: flags.context } : {}) };
  const kube = makeClients(kubeconfig, flags.context, {
    requestTimeoutMs: t.apiRequest,
    ...(signal ? { signal } : {}),
  });
  let runs: SweepRun[];
  try {
    const [markers, nsList] = await Promise.all([
      listMarkers(kube),
      kube.core.listNamespace({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
    ]);
    runs = planSweep({
      markers,
      namespaces: nsList.items.map((n) => ({
        name: n.metadata?.name ?? '',
        runId: n.metadata?.labels?.[RUN_ID_LABEL],
      })),
      now: new Date(),
      includeKept: flags.includeKept === true,
    });
  } catch (e) {
    if (signal?.aborted) throw interrupted();
    const server = kube.kc.getCurrentCluster()?.server ?? 'unknown address';
    const cause = (e as { cause?: { code?: string; message?: string } } | null)?.cause;
    throw new PreflightError(`the cluster API at ${server} does not answer`, {
      expected: `an API server reachable with ${kubeconfig}${flags.context ? ` (context ${flags.context})` : ''} that lets this user list Leases in default and namespaces`,
      seen: `${e instanceof Error ? e.message : String(e)}${cause ? ` (${cause.code ?? cause.message ?? ''})` : ''}`,
      fix: 'check the kubeconfig and context (kubectl --kubeconfig … get namespaces)',
    });
  }

  if (flags.json && !flags.yes) {
    process.stdout.write(
      `${redact(JSON.stringify({ runs: runs.map((r) => ({ ...r, commands: sweepCommands(r, target) })) }, null, 2))}\n`,
    );
    return 0;
  }
  if (!runs.length) {
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ runs: [], removed: [], failures: [] })}\n`
        : 'Nothing of ambient-conformance in this cluster.\n',
    );
    return 0;
  }
  const table = new Table({
    head: ['run', 'state', 'Helm releases', 'namespaces', 'removed by --yes'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [22, 44, 30, 30, 10],
  });
  for (const r of runs)
    table.push([
      r.runId,
      `${r.state}: ${r.why}`,
      r.releases.map((x) => `${x.namespace}/${x.name}`).join('\n') || '-',
      r.namespaces.join('\n') || '-',
      r.remove ? 'yes' : 'no',
    ]);
  if (!flags.json) process.stdout.write(`${redact(table.toString())}\n`);
  const doomed = runs.filter((r) => r.remove);
  if (!flags.yes) {
    if (!doomed.length) {
      process.stdout.write('Nothing to remove.\n');
      return 0;
    }
    process.stdout.write(
      `\nRun again with --yes to remove ${doomed.length} run(s) as above, or by hand:\n${doomed
        .flatMap((r) => sweepCommands(r, target))
        .map((c) => `  ${redact(c)}`)
        .join('\n')}\n`,
    );
    return 0;
  }

  const needHelm = doomed.some((r) => r.releases.length > 0);
  const helm = needHelm ? await resolveTool('helm', { timeoutMs: t.preflight }) : undefined;
  if (helm && helm.source === 'download')
    throw new PreflightError('helm is needed to uninstall the releases of stale runs', {
      expected: 'helm 3.7+ or 4 on PATH, or in the tool cache',
      seen: 'no usable helm',
      fix: 'install helm, or run `ambient-conformance doctor`',
    });
  const failures: string[] = [];
  const removed: string[] = [];
  for (const r of doomed) {
    // Ctrl-C stops here: nothing more is started, and the next `clean` lists what is left.
    if (signal?.aborted) throw interrupted();
    log.info(`removing run ${r.runId} (${r.state})`);
    let ok = true;
    for (const rel of [...r.releases].reverse()) {
      if (!helm) break;
      const argv = uninstallArgv(
        { path: helm.path, major: helmMajor(helm.version) },
        rel.name,
        rel.namespace,
        t.helmUninstall,
        target,
      );
      const res = await run(argv, { timeoutMs: t.helmUninstall + 30_000, ...(signal ? { signal } : {}) });
      if (res.cancelled || signal?.aborted) throw interrupted();
      if (res.exitCode !== 0 && !/not found/i.test(res.stderr)) {
        ok = false;
        failures.push(
          `helm uninstall ${rel.name} -n ${rel.namespace}: ${res.stderr.trim().split('\n').at(-1) ?? ''}`,
        );
      }
    }
    try {
      await deleteNamespacesByLabel(kube, `${RUN_ID_LABEL}=${r.runId}`, t);
    } catch (e) {
      if (signal?.aborted) throw interrupted();
      ok = false;
      failures.push(`namespaces of run ${r.runId}: ${e instanceof Error ? e.message : String(e)}`);
    }
    // The marker goes last, and only when everything it records is gone: a failed sweep can be retried.
    if (ok && !r.hasMarker) removed.push(r.runId);
    if (ok && r.hasMarker) {
      try {
        await deleteMarker(kube, r.runId);
        removed.push(r.runId);
      } catch (e) {
        if (signal?.aborted) throw interrupted();
        failures.push(`run marker of ${r.runId}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  if (flags.json)
    process.stdout.write(
      `${redact(JSON.stringify({ runs: doomed.map((r) => r.runId), removed, failures }, null, 2))}\n`,
    );
  if (failures.length) {
    process.stderr.write(`clean: ${failures.length} removal(s) failed:\n  ${failures.join('\n  ')}\n`);
    return 1;
  }
  if (!flags.json) process.stdout.write(`Removed ${doomed.length} run(s).\n`);
  return 0;
}
