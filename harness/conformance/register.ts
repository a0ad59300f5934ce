import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { describe, inject, test } from 'vitest';
import { collectDiagnostics } from '../diagnostics.ts';
import type { RunFacts } from '../facts.ts';
import { makeClients, userAgentFor, type KubeClients } from '../kube/client.ts';
import { DATAPLANE_MODE_LABEL, deleteNamespace, ensureNamespace, waitNamespaceGone } from '../kube/ops.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../plan.ts';
import { loadProfile, type Profile } from '../profile/load.ts';
import { log } from '../progress.ts';
import { deselected, testBudget, unmetNeeds, type ConformanceTest, type TestScope } from './define.ts';
import { runBody } from './execute.ts';

interface Fixtures {
  facts: RunFacts;
  profile: Profile;
}

/** The extended test: facts (provided by globalSetup), the loaded profile and a typed client per file. */
const conformance = test.extend<Fixtures>({
  facts: [async ({}, use) => use(inject('facts')), { scope: 'file' }],
  profile: [async ({ facts }, use) => use(loadProfile(facts.profilePath)), { scope: 'file' }],
});

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 7);
}

class Scope implements TestScope {
  readonly artifactsDir: string;
  private undo: { description: string; fn: (kube: KubeClients) => Promise<void> }[] = [];
  readonly namespaces: string[] = [];
  private deleting: string[] = [];
  readonly id: string;
  private readonly kube: KubeClients;
  /** Clients without the body's signal: cleanup runs after the body was stopped. */
  private readonly after: KubeClients;
  private readonly facts: RunFacts;
  private readonly profile: Profile;

  constructor(id: string, kube: KubeClients, after: KubeClients, facts: RunFacts, profile: Profile) {
    this.id = id;
    this.kube = kube;
    this.after = after;
    this.facts = facts;
    this.profile = profile;
    this.artifactsDir = path.join(facts.runDir, 'artifacts', id);
  }

  async namespace(opts: { ambient?: boolean; prefix?: string } = {}): Promise<string> {
    const name = `${opts.prefix ?? this.id.toLowerCase()}-${randomSuffix()}`;
    await ensureNamespace(this.kube, name, {
      [RUN_ID_LABEL]: this.facts.runId,
      [MANAGED_BY_LABEL]: MANAGED_BY,
      'ambient-conformance.io/test-id': this.id,
      ...(opts.ambient ? { [DATAPLANE_MODE_LABEL]: 'ambient' } : {}),
    });
    this.namespaces.push(name);
    // The delete is issued in LIFO order with the other undos; cleanup() then waits for all
    // namespaces together, so a test with seven namespaces does not wait seven times in a row.
    this.onCleanup(`delete namespace ${name}`, async () => {
      if (await deleteNamespace(this.after, name)) this.deleting.push(name);
    });
    return name;
  }

  onCleanup(description: string, fn: (kube: KubeClients) => Promise<void>): void {
    this.undo.push({ description, fn });
  }

  attach(name: string, content: string): void {
    mkdirSync(this.artifactsDir, { recursive: true });
    writeFileSync(path.join(this.artifactsDir, name), content);
    void Promise.resolve(
      allure.attachment(name, content, {
        contentType: name.endsWith('.json') ? 'application/json' : 'text/plain',
      }),
    ).catch(() => undefined);
  }

  log(message: string): void {
    log.info(`[${this.id}] ${message}`);
  }

  async cleanup(): Promise<string[]> {
    const failures: string[] = [];
    while (this.undo.length) {
      const u = this.undo.pop();
      if (!u) break;
      try {
        await u.fn(this.after);
      } catch (e) {
        failures.push(`${u.description}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const gone = await Promise.allSettled(
      this.deleting.map((n) => waitNamespaceGone(this.after, n, this.profile.timeouts)),
    );
    gone.forEach((g, i) => {
      if (g.status === 'rejected')
        failures.push(
          `namespace ${this.deleting[i] ?? ''}: ${g.reason instanceof Error ? g.reason.message : String(g.reason)}`,
        );
    });
    this.deleting = [];
    return failures;
  }
}

/**
 * Registers a suite's records as Vitest tests, one `test` per claim, named "<ID> <claim>".
 * Deselected tests and tests whose needs are unmet are skipped at run time with their reason
 * (ctx.skip), so they stay in every report. On failure, diagnostics are collected before cleanup.
 */
export function registerSuite(suite: string, tests: ConformanceTest[]): void {
  describe(suite, () => {
    for (const t of tests) {
      conformance(
        `${t.id} ${t.claim}`,
        { timeout: 0 },
        async ({ facts, profile, expect, skip, task, signal }) => {
          task.meta.conformanceId = t.id;
          task.meta.conformanceSuite = suite;
          const notSelected = deselected(t.id, facts);
          if (notSelected) return skip(notSelected);
          const unmet = unmetNeeds(t, facts);
          if (unmet) return skip(unmet);
          await Promise.resolve(allure.label('conformanceId', t.id)).catch(() => undefined);

          // Clients per test, whose User-Agent names the test in the API server's audit log: the
          // body's honour its signal (budget, run cancelled); diagnostics and cleanup get their own,
          // unaborted but bounded, so they still run after the body was stopped.
          const ua = userAgentFor(t.id);
          const requestTimeoutMs = profile.timeouts.apiRequest;
          const after = makeClients(facts.kubeconfig, facts.context, { userAgent: ua, requestTimeoutMs });
          let scope: Scope | undefined;
          const budget = testBudget(t, profile.timeouts);
          await runBody({
            settleMs: profile.timeouts.bodySettle,
            body: (signal) => {
              const kube = makeClients(facts.kubeconfig, facts.context, {
                userAgent: ua,
                signal,
                requestTimeoutMs,
              });
              const s = new Scope(t.id, kube, after, facts, profile);
              scope = s;
              return t.body({
                expect,
                facts,
                profile,
                kube,
                timeouts: profile.timeouts,
                scope: s,
                signal,
                skip: (reason: string) => skip(`Skipping ${t.id}: ${reason}`),
              });
            },
            budgetMs: budget,
            cancel: signal,
            // The test's overall deadline (a hung call cannot stall the run), not a sleep.
            budgetMessage: `${t.id} exceeded its overall budget of ${Math.round(budget / 1000)}s (4 × max(podReady, ${t.timeout ?? 'podReady'})); raise AMBIENT_TIMEOUT_${(t.timeout ?? 'podReady').replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} on slow machines`,
            diagnostics: () =>
              // The diagnostics deadline aborts the request in flight too, not only the next one.
              collectDiagnostics(
                makeClients(facts.kubeconfig, facts.context, {
                  userAgent: ua,
                  requestTimeoutMs,
                  signal: AbortSignal.timeout(profile.timeouts.diagnostics),
                }),
                {
                  dir: path.join(facts.runDir, 'artifacts', t.id),
                  istioNamespace: facts.istioNamespace,
                  namespaces: scope?.namespaces ?? [],
                  deadlineMs: profile.timeouts.diagnostics,
                  execTimeoutMs: profile.timeouts.exec,
                },
              ),
            cleanup: () => scope?.cleanup() ?? Promise.resolve([]),
            keepOnFailure: facts.keepOnFailure,
            note: (level, message) =>
              log[level](
                `[${t.id}] ${message}${message.startsWith('failed: keeping') ? ` (${(scope?.namespaces ?? []).join(', ')})` : message.startsWith('diagnostics') ? ` in ${path.join(facts.runDir, 'artifacts', t.id)}` : ''}`,
              ),
          });
        },
      );
    }
  });
}

declare module 'vitest' {
  interface TaskMeta {
    conformanceId?: string;
    conformanceSuite?: string;
  }
}
