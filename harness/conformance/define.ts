import type { ExpectStatic } from 'vitest';
import type { Feature, RunFacts } from '../facts.ts';
import type { KubeClients } from '../kube/client.ts';
import type { Profile } from '../profile/load.ts';
import type { TimeoutKey, TimeoutTable } from '../timeouts.ts';

/**
 * A conformance test is a small record: a stable ID, the claim as one sentence, what it needs, and
 * its body. Records carry no Vitest calls, so the catalog (`list`) can be read without a cluster.
 */
export interface ConformanceTest {
  /** Stable ID, SUITE-NN (e.g. INSTALL-01); used by --only/--skip and in every report. */
  id: string;
  /** The claim, as a sentence that is true when the test passes. */
  claim: string;
  suite: string;
  needs: Feature[];
  /** Which timeout of the table bounds the whole test (default: podReady). */
  timeout?: TimeoutKey;
  /** Where the claim comes from (runbook section, upstream doc). */
  source?: string;
  body: (ctx: ConformanceContext) => Promise<void>;
}

export interface TestScope {
  id: string;
  /** Creates a namespace for this test, labelled with the run ID; deleted after the test. */
  namespace(opts?: { ambient?: boolean; prefix?: string }): Promise<string>;
  /**
   * Registers an undo, run in reverse order after the test (and before the namespace goes). It
   * receives clients that are not cancelled with the body (ctx.kube may be, when the budget ran
   * out): use those, not ctx.kube.
   */
  onCleanup(description: string, fn: (kube: KubeClients) => Promise<void>): void;
  /** reports/<run>/artifacts/<test-id>/ */
  artifactsDir: string;
  /** Writes a text artifact for this test (also attached to the Allure result). */
  attach(name: string, content: string): void;
  log(message: string): void;
}

export interface ConformanceContext {
  expect: ExpectStatic;
  facts: RunFacts;
  profile: Profile;
  kube: KubeClients;
  timeouts: TimeoutTable;
  scope: TestScope;
  /**
   * Aborted when the test's budget passes or the run is cancelled. ctx.kube carries it already
   * (its requests, execs, port-forwards and the waits given kube.signal); pass it to anything
   * else that can block.
   */
  signal: AbortSignal;
  /** Ends the test as skipped with its reason (what could not be verified on this cluster, and why). */
  skip: (reason: string) => never;
}

/**
 * A hard ceiling for a whole test, so a hung call cannot stall the run: four times the larger of
 * podReady (most tests start pods) and the test's own timeout.
 */
export function testBudget(t: Pick<ConformanceTest, 'timeout'>, timeouts: TimeoutTable): number {
  return 4 * Math.max(timeouts.podReady, timeouts[t.timeout ?? 'podReady']);
}

export const ID_PATTERN = /^[A-Z]+-\d{2}$/;

export function defineSuite(suite: string, tests: Omit<ConformanceTest, 'suite'>[]): ConformanceTest[] {
  const seen = new Set<string>();
  return tests.map((t) => {
    if (!ID_PATTERN.test(t.id)) throw new Error(`conformance test ID ${t.id} does not match SUITE-NN`);
    if (seen.has(t.id)) throw new Error(`conformance test ID ${t.id} is used twice in suite ${suite}`);
    seen.add(t.id);
    return { ...t, suite };
  });
}

export interface Selection {
  only: string[];
  skip: string[];
}

/** Why a test will not run under a selection, or undefined when it runs. Patterns: exact IDs or SUITE-* prefixes. */
export function deselected(id: string, sel: Selection): string | undefined {
  const match = (p: string) => (p.endsWith('*') ? id.startsWith(p.slice(0, -1)) : id === p);
  if (sel.only.length && !sel.only.some(match)) return `not selected (--only ${sel.only.join(',')})`;
  if (sel.skip.some(match)) return `skipped by --skip ${sel.skip.join(',')}`;
  return undefined;
}

/** The skip reason for unmet needs, in the house form "Skipping <ID>: …". */
export function unmetNeeds(t: ConformanceTest, facts: RunFacts): string | undefined {
  const missing = t.needs.filter((f) => !facts.features[f]?.available);
  if (!missing.length) return undefined;
  return `Skipping ${t.id}: this run does not provide ${missing.map((f) => `${f} (${facts.features[f]?.reason ?? 'unknown'})`).join(', ')}`;
}
