import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CleanupStack, type Leftover } from './cleanup.ts';
import { renderDoctor, runDoctor } from './doctor.ts';
import { OperationError, PreflightError, throwIfInterrupted } from './errors.ts';
import { cancelledError, commandFailed, run, type ExecResult } from './exec.ts';
import { shellLine } from './shell.ts';
import type { Feature, FeatureState, RunFacts } from './facts.ts';
import { explainHelmFailure, parseHelmList, splitChartColumn } from './helm.ts';
import { classifyCreateFailure, deleteArgv, parseClusters } from './kind.ts';
import { makeClients, type KubeClients } from './kube/client.ts';
import { deleteMarker, MarkerHandle } from './kube/marker.ts';
import { MARKER_NAMESPACE, markerName } from './kube/marker-names.ts';
import {
  DATAPLANE_MODE_LABEL,
  deleteNamespacesByLabel,
  ensureNamespace,
  hasKindnet,
  KINDNET_HOST_TRAFFIC,
  nodeNames,
  serverVersion,
  waitApiServiceAvailable,
  waitIstioReady,
  waitNodesReady,
} from './kube/ops.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, type Plan, type PlanInput, type Step } from './plan.ts';
import { PhaseClock, log } from './progress.ts';
import { forgetCluster, readRecords, recordCluster, registryDir, staleClusters } from './registry.ts';
import { PINS } from './pins.ts';
import { provision } from './tools.ts';

/**
 * Executes a plan: the same steps `plan` prints, in order. Every step that creates something
 * registers its undo on the cleanup stack right away; `finish` runs the on-failure steps and then
 * the cleanup stack (unless kept).
 */
export class Orchestrator {
  readonly cleanup = new CleanupStack();
  readonly phases: PhaseClock;
  private kube: KubeClients | undefined;
  private installOrder: string[] = [];
  private ownsIstio = false;
  private ownsNamespaces = false;
  /** The API answered (cluster.api passed): only then can this run have created anything there. */
  private apiReached = false;
  private k8sVersion = 'unknown';
  /** kind's kindnet DaemonSet runs in kube-system (read in cluster.api); a string says why it is unknown. */
  private kindnet: boolean | string | undefined;
  private nodes: string[] = [];
  private metricsReady = false;
  private readonly registry: string;
  private cleanupKube: KubeClients | undefined;
  /** Cancels the step in flight and every step after it (the run's first Ctrl-C). */
  private readonly signal: AbortSignal | undefined;
  /** Cancels cleanup itself (a second Ctrl-C): cleanup runs after `signal` was aborted. */
  private readonly cleanupSignal: AbortSignal | undefined;

  readonly input: PlanInput;
  readonly plan: Plan;

  constructor(
    input: PlanInput,
    plan: Plan,
    phases?: PhaseClock,
    env: NodeJS.ProcessEnv = process.env,
    cancel: { signal?: AbortSignal; cleanupSignal?: AbortSignal } = {},
  ) {
    this.input = input;
    this.plan = plan;
    this.phases = phases ?? new PhaseClock();
    this.registry = registryDir(env);
    this.signal = cancel.signal;
    this.cleanupSignal = cancel.cleanupSignal;
  }

  private get settings() {
    return this.input.settings;
  }

  private step(id: string): Step | undefined {
    return this.plan.steps.find((s) => s.id === id);
  }

  private writeFiles(step: Step): void {
    for (const f of step.files ?? []) {
      mkdirSync(path.dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content, { mode: f.mode ?? 0o644 });
    }
  }

  /**
   * Runs a step's command. `cleanup` steps run under the cleanup signal (they run after the run's
   * signal was aborted); others under the run's. A cancelled command throws the InterruptedError.
   */
  private async exec(step: Step, cleanup = false): Promise<ExecResult> {
    if (!step.command) throw new Error(`step ${step.id} has no command`);
    this.writeFiles(step);
    // Every command step names its timeout (plan.test.ts checks the plan); none waits on a literal.
    if (!step.timeout) throw new Error(`step ${step.id} runs a command without a timeout key`);
    const timeoutMs = this.input.profile.timeouts[step.timeout];
    const signal = cleanup ? this.cleanupSignal : this.signal;
    // helm's own --timeout bounds each operation; give the process a little more before killing it.
    const r = await run(step.command, {
      timeoutMs: timeoutMs + this.input.profile.timeouts.commandGrace,
      ...(signal ? { signal } : {}),
    });
    if (r.cancelled) throw cancelledError(step.id, r, signal);
    return r;
  }

  private clients(): KubeClients {
    this.kube ??= makeClients(this.settings.kubeconfig, this.settings.context, {
      requestTimeoutMs: this.input.profile.timeouts.apiRequest,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    return this.kube;
  }

  /** Clients for cleanup: cancelled only by the cleanup signal. */
  private clientsForCleanup(): KubeClients {
    this.cleanupKube ??= makeClients(this.settings.kubeconfig, this.settings.context, {
      requestTimeoutMs: this.input.profile.timeouts.apiRequest,
      ...(this.cleanupSignal ? { signal: this.cleanupSignal } : {}),
    });
    return this.cleanupKube;
  }

  /** The namespaces this run labelled in a user's cluster (deleted first at teardown), if any. */
  private get ownsLabelledNamespaces(): boolean {
    return this.apiReached && this.settings.mode === 'existing';
  }

  /**
   * What this run created and has not removed yet, in the order teardown removes it (the user's
   * cluster first: the run's namespaces and Helm releases; then the kind cluster), each with the
   * command that removes it by hand.
   */
  leftovers(): Leftover[] {
    const s = this.settings;
    const kubectl = ['kubectl', '--kubeconfig', s.kubeconfig, ...(s.context ? ['--context', s.context] : [])];
    return [
      ...(this.ownsLabelledNamespaces && !this.namespacesGone
        ? [
            {
              what: `namespaces labelled ${RUN_ID_LABEL}=${s.runId}`,
              command: shellLine([...kubectl, 'delete', 'namespace', '-l', `${RUN_ID_LABEL}=${s.runId}`]),
            },
          ]
        : []),
      ...this.cleanup.pending(),
    ];
  }

  private namespacesGone = false;
  private marker: MarkerHandle | undefined;

  /** Runs every step before the tests. Returns the facts the tests receive. */
  async prepare(): Promise<RunFacts> {
    // Contiguous steps of one phase run as one timed phase, in plan order.
    const groups: { phase: string; steps: Step[] }[] = [];
    for (const s of this.plan.steps) {
      if (s.when !== 'always' || s.phase === 'tests' || s.phase === 'reports') continue;
      const last = groups.at(-1);
      if (last?.phase === s.phase) last.steps.push(s);
      else groups.push({ phase: s.phase, steps: [s] });
    }
    const describe: Record<string, string> = {
      preflight: 'checking the machine',
      tools: 'provisioning pinned tools',
      cluster:
        this.settings.mode === 'existing'
          ? 'connecting to the cluster'
          : `kind cluster ${this.settings.clusterName}`,
      addons: 'metrics-server',
      workloads: 'namespaces',
      istio: `Istio ${this.input.profile.doc.istio.version} (${this.input.profile.releases.map((r) => r.name).join(' → ')})`,
    };
    for (const g of groups) {
      const what = g.phase === 'addons' && g.steps.every((x) => x.api) ? 'metrics API' : describe[g.phase];
      throwIfInterrupted(this.signal, `phase ${g.phase}`);
      await this.phases.phase(g.phase, what ?? g.phase, async () => {
        for (const s of g.steps) {
          // Nothing new starts after a signal.
          throwIfInterrupted(this.signal, s.id);
          await this.execute(s);
        }
      });
    }
    return this.facts();
  }

  facts(): RunFacts {
    const s = this.settings;
    const p = this.input.profile;
    const feature = (available: boolean, reason: string): FeatureState => ({ available, reason });
    const features: Record<Feature, FeatureState> = {
      cluster: feature(true, 'cluster prepared by this run'),
      kindNodes: feature(
        s.mode !== 'existing',
        s.mode === 'existing' ? 'not a kind cluster of this tool' : 'kind nodes',
      ),
      metricsApi: feature(
        this.metricsReady,
        this.metricsReady ? 'APIService Available' : 'metrics-server not installed by this run',
      ),
      istioOwnedByRun: feature(
        this.ownsIstio,
        this.ownsIstio ? 'installed by this run' : 'Istio was installed before this run',
      ),
      namespacesOwnedByRun: feature(
        this.ownsNamespaces,
        this.ownsNamespaces ? 'created by this run' : 'namespaces belong to the cluster owner',
      ),
      hostTrafficJudged: feature(
        this.kindnet === false,
        this.kindnet === undefined
          ? 'the cluster CNI was not inspected'
          : typeof this.kindnet === 'string'
            ? `whether the CNI judges host traffic is unknown: ${this.kindnet}`
            : this.kindnet
              ? KINDNET_HOST_TRAFFIC
              : 'no kindnet DaemonSet in kube-system: the CNI is taken to judge host traffic',
      ),
      destructive: feature(
        s.destructive === true && this.ownsIstio,
        s.destructive === true
          ? this.ownsIstio
            ? 'opted in with --destructive'
            : 'Istio was installed before this run'
          : 'not opted in (--destructive)',
      ),
    };
    return {
      runId: s.runId,
      runDir: s.runDir,
      mode: s.mode,
      clusterName: s.clusterName,
      kubeconfig: s.kubeconfig,
      ...(s.context ? { context: s.context } : {}),
      profilePath: p.source,
      istioNamespace: p.doc.istio.namespace,
      istioVersion: p.doc.istio.version,
      kubernetesVersion: this.k8sVersion,
      ...(s.mode !== 'existing'
        ? { nodeImage: p.doc.cluster.kind.nodeImage, kindVersion: this.input.kind.version }
        : {}),
      helmVersion: this.input.helm.version,
      helmPath: this.input.helm.path,
      helmMajor: this.input.helm.major,
      nodes: this.nodes,
      meshedNamespaces: p.doc.mesh.meshedNamespaces,
      controlNamespace: p.doc.mesh.controlNamespace,
      keepOnFailure: s.keepOnFailure,
      only: s.only,
      skip: s.skip,
      features,
      installOrder: this.installOrder,
    };
  }

  private async execute(step: Step): Promise<void> {
    const t = this.input.profile.timeouts;
    const s = this.settings;
    log.info(`  • ${step.description}`);
    switch (true) {
      case step.id === 'preflight': {
        const report = await runDoctor({
          timeoutMs: t.preflight,
          needDocker: s.mode !== 'existing',
          diskPath: s.runDir,
          ...(this.signal ? { signal: this.signal } : {}),
        });
        throwIfInterrupted(this.signal, 'preflight');
        if (!report.ok) {
          const failed = report.checks.filter((c) => c.status === 'fail');
          throw new PreflightError(`preflight failed: ${failed.map((c) => c.name).join(', ')}`, {
            expected: 'every check of `ambient-conformance doctor` to pass (warnings are fine)',
            seen: renderDoctor(report),
            fix: failed
              .map((c) => c.fix)
              .filter(Boolean)
              .join('\n'),
          });
        }
        for (const c of report.checks.filter((x) => x.status === 'warn'))
          log.warn(`${c.name}: ${c.detail}${c.fix ? ` (${c.fix})` : ''}`);
        return;
      }
      case step.id.startsWith('tools.'): {
        const tool = step.id === 'tools.kind' ? this.input.kind : this.input.helm;
        await provision(tool, {
          timeoutMs: t.preflight * 4,
          ...(this.signal ? { signal: this.signal } : {}),
        });
        return;
      }
      case step.id === 'cluster.sweep': {
        const r = await this.exec(step);
        if (r.exitCode !== 0) throw classifyCreateFailure(s.clusterName, r, t.clusterDelete);
        const stale = staleClusters(
          parseClusters(r.stdout),
          readRecords(this.registry),
          undefined,
          s.clusterName,
        );
        for (const name of stale) {
          log.info(`  deleting stale cluster ${name} (its run is gone)`);
          const d = await run(deleteArgv(this.input.kind.path, name), {
            timeoutMs: t.clusterDelete,
            ...(this.signal ? { signal: this.signal } : {}),
          });
          if (d.cancelled) throw cancelledError(`kind delete cluster ${name}`, d, this.signal);
          if (d.exitCode !== 0) throw commandFailed(`kind delete cluster ${name}`, d, t.clusterDelete);
          forgetCluster(this.registry, name);
        }
        return;
      }
      case step.id === 'cluster.create': {
        mkdirSync(path.dirname(s.kubeconfig), { recursive: true });
        // Registered before the create: a half-created cluster is removed too (kind delete is idempotent).
        const del = this.step('cleanup.cluster');
        if (del)
          this.cleanup.register(
            `delete kind cluster ${s.clusterName}`,
            () => this.deleteCluster(del),
            shellLine(del.command ?? []),
          );
        recordCluster(this.registry, {
          name: s.clusterName,
          runId: s.runId,
          pid: process.pid,
          createdAt: new Date().toISOString(),
          kept: false,
        });
        const r = await this.exec(step);
        if (r.exitCode !== 0 || r.timedOut) throw classifyCreateFailure(s.clusterName, r, t.clusterCreate);
        chmodSync(s.kubeconfig, 0o600);
        return;
      }
      case step.id === 'cluster.kubeconfig': {
        const r = await this.exec(step);
        if (r.exitCode !== 0)
          throw commandFailed(
            `kind get kubeconfig --name ${s.clusterName}`,
            r,
            t.preflight,
            `is there a kind cluster named ${s.clusterName}? (kind get clusters)`,
          );
        mkdirSync(path.dirname(s.kubeconfig), { recursive: true });
        writeFileSync(s.kubeconfig, r.stdout, { mode: 0o600 });
        chmodSync(s.kubeconfig, 0o600);
        return;
      }
      case step.id === 'cluster.api': {
        try {
          this.k8sVersion = await serverVersion(this.clients());
          this.apiReached = true;
          this.nodes = await nodeNames(this.clients());
          this.kindnet = await hasKindnet(this.clients());
        } catch (e) {
          throwIfInterrupted(this.signal, step.id);
          const server = this.kube?.kc.getCurrentCluster()?.server ?? 'unknown address';
          throw new PreflightError(`the cluster API at ${server} does not answer`, {
            expected: `an API server reachable with ${s.kubeconfig}${s.context ? ` (context ${s.context})` : ''}`,
            seen: e instanceof Error ? e.message : String(e),
            fix: 'check the kubeconfig and context (kubectl --kubeconfig … get nodes)',
          });
        }
        log.info(`  Kubernetes ${this.k8sVersion}, nodes: ${this.nodes.join(', ')}`);
        return;
      }
      case step.id === 'cluster.marker': {
        const marker = new MarkerHandle(
          () => this.clients(),
          () => this.clientsForCleanup(),
          s.runId,
        );
        // Registered before the create (a create whose answer was lost still leaves the object);
        // deleted last, after everything it records is gone.
        const undo = this.step('cleanup.marker');
        if (undo)
          this.cleanup.register(
            `delete run marker Lease ${MARKER_NAMESPACE}/${markerName(s.runId)}`,
            async () => {
              marker.stopRenewing();
              await deleteMarker(this.clientsForCleanup(), s.runId);
            },
            shellLine([
              'kubectl',
              '--kubeconfig',
              s.kubeconfig,
              ...(s.context ? ['--context', s.context] : []),
              'delete',
              'lease',
              '-n',
              MARKER_NAMESPACE,
              markerName(s.runId),
            ]),
          );
        await marker.create();
        this.marker = marker;
        return;
      }
      case step.id === 'cluster.nodes-ready':
        await waitNodesReady(this.clients(), t);
        throwIfInterrupted(this.signal, step.id);
        this.nodes = await nodeNames(this.clients());
        return;
      case step.id === 'istio.detect': {
        const r = await this.exec(step);
        if (r.exitCode !== 0) throw commandFailed('helm list', r, t.preflight);
        const ns = this.input.profile.doc.istio.namespace;
        const istio = parseHelmList(r.stdout).filter(
          (row) =>
            row.namespace === ns &&
            ['base', 'istiod', 'cni', 'ztunnel'].includes(splitChartColumn(row.chart).chart),
        );
        if (s.useExistingIstio) {
          log.info(
            `  existing Istio: ${istio.map((x) => `${x.name} (${x.chart}, ${x.status})`).join(', ') || 'no Helm releases found (tests will judge the objects)'}`,
          );
          return;
        }
        if (istio.length > 0)
          throw new OperationError(
            'Istio is already installed in this cluster and was not installed by this run',
            {
              expected: `no Istio Helm releases in ${ns}`,
              seen: istio.map((x) => `${x.name} ${x.chart} ${x.status}`).join(', '),
              fix: 'test it as it is with --use-existing-istio, or point --kubeconfig/--context at another cluster',
            },
          );
        this.ownsIstio = true;
        return;
      }
      case step.id === 'addons.metrics-server': {
        const r = await this.exec(step);
        if (r.exitCode !== 0 || r.timedOut) {
          const ms = PINS.metricsServer;
          throw explainHelmFailure('metrics-server', r, t.helmInstall, {
            repository: ms.chartRepository,
            chart: ms.chart,
            version: ms.chartVersion,
          });
        }
        return;
      }
      case step.id === 'addons.metrics-api':
        await waitApiServiceAvailable(this.clients(), 'v1beta1.metrics.k8s.io', t);
        this.metricsReady = true;
        return;
      case step.id === 'workloads.namespaces': {
        // Only in kind clusters of this run: deleting the cluster removes them, so no separate undo.
        const kube = this.clients();
        const runLabels = { [RUN_ID_LABEL]: s.runId, [MANAGED_BY_LABEL]: MANAGED_BY };
        for (const ns of this.input.profile.doc.mesh.meshedNamespaces) {
          await ensureNamespace(kube, ns, {
            [DATAPLANE_MODE_LABEL]: 'ambient',
            ...(ns === 'default' ? {} : runLabels),
          });
        }
        await ensureNamespace(kube, this.input.profile.doc.mesh.controlNamespace, runLabels);
        this.ownsNamespaces = true;
        return;
      }
      case step.id.startsWith('istio.install.'): {
        const release = step.id.slice('istio.install.'.length);
        // On the marker before the install starts: an interrupted install is recorded too.
        await this.marker?.addRelease({ name: release, namespace: this.input.profile.doc.istio.namespace });
        if (s.mode === 'existing') {
          const undo = this.step(`cleanup.uninstall.${release}`);
          if (undo)
            this.cleanup.register(
              `helm uninstall ${release}`,
              async () => {
                const r = await this.exec(undo, true);
                if (r.exitCode !== 0 && !/not found/.test(r.stderr))
                  throw commandFailed(`helm uninstall ${release}`, r, t.helmUninstall);
              },
              shellLine(undo.command ?? []),
            );
          this.ownsIstio = true;
        } else {
          this.ownsIstio = true;
        }
        const r = await this.exec(step);
        if (r.exitCode !== 0 || r.timedOut) {
          const spec = this.input.profile.releases.find((x) => x.name === release);
          const { chartRepository, version } = this.input.profile.doc.istio;
          throw explainHelmFailure(
            release,
            r,
            t.helmInstall,
            spec ? { repository: chartRepository, chart: spec.chart, version } : undefined,
          );
        }
        this.installOrder.push(release);
        return;
      }
      case step.id === 'istio.ready':
        await waitIstioReady(this.clients(), this.input.profile.doc.istio.namespace, t);
        return;
      default:
        throw new Error(`orchestrator: no executor for step ${step.id}`);
    }
  }

  private async deleteCluster(step: Step): Promise<void> {
    const r = await this.exec(step, true);
    if (r.exitCode !== 0)
      throw commandFailed(
        `kind delete cluster ${this.settings.clusterName}`,
        r,
        this.input.profile.timeouts.clusterDelete,
      );
    forgetCluster(this.registry, this.settings.clusterName);
  }

  /** After a failure: the on-failure steps (kind export logs). Best effort. */
  async collectFailureArtifacts(): Promise<void> {
    for (const step of this.plan.steps.filter((x) => x.when === 'on-failure')) {
      log.info(`  • ${step.description}`);
      const r = await this.exec(step);
      if (r.exitCode !== 0)
        log.warn(`${step.id}: ${commandFailed(step.id, r, this.input.profile.timeouts.logExport).render()}`);
    }
  }

  /** Deletes the run's labelled namespaces, then everything on the cleanup stack, newest first. */
  async teardown(keep: boolean): Promise<string[]> {
    if (keep) {
      const left = this.cleanup.abandon();
      await this.marker?.markKept().catch((e: unknown) => {
        log.warn(`run marker: ${e instanceof Error ? e.message : String(e)}`);
      });
      if (this.settings.mode === 'kind')
        recordCluster(this.registry, {
          name: this.settings.clusterName,
          runId: this.settings.runId,
          pid: process.pid,
          createdAt: new Date().toISOString(),
          kept: true,
        });
      log.info(`kept: ${left.map((e) => e.description).join('; ') || 'nothing to keep'}`);
      if (this.settings.mode !== 'existing')
        log.info(
          `  use it: export KUBECONFIG=${this.settings.kubeconfig}; delete it: kind delete cluster --name ${this.settings.clusterName}`,
        );
      return [];
    }
    const failures: string[] = [];
    if (this.ownsLabelledNamespaces && !this.namespacesGone) {
      try {
        await deleteNamespacesByLabel(
          this.clientsForCleanup(),
          `${RUN_ID_LABEL}=${this.settings.runId}`,
          this.input.profile.timeouts,
        );
        this.namespacesGone = true;
      } catch (e) {
        failures.push(
          `delete namespaces of run ${this.settings.runId}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    failures.push(...(await this.cleanup.runAll()));
    return failures;
  }
}
