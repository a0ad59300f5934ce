import { describe, expect, it } from 'vitest';
import { unmetNeeds } from '../harness/conformance/define.ts';
import type { RunFacts } from '../harness/facts.ts';
import { KINDNET_HOST_TRAFFIC } from '../harness/kube/ops.ts';
import { catalog } from '../suites/catalog.ts';

describe('claims that cannot fail on a cluster are skipped there', () => {
  const netpol07 = catalog.find((t) => t.id === 'NETPOL-07')!;
  const facts = (hostTrafficJudged: { available: boolean; reason: string }) =>
    ({ features: { cluster: { available: true, reason: '' }, hostTrafficJudged } }) as unknown as RunFacts;

  it('NETPOL-07 skips on kindnet, saying why it cannot fail there', () => {
    expect(unmetNeeds(netpol07, facts({ available: false, reason: KINDNET_HOST_TRAFFIC }))).toBe(
      `Skipping NETPOL-07: this run does not provide hostTrafficJudged (${KINDNET_HOST_TRAFFIC})`,
    );
  });

  it('NETPOL-07 runs where the CNI judges host traffic', () => {
    expect(unmetNeeds(netpol07, facts({ available: true, reason: 'no kindnet' }))).toBeUndefined();
  });
});
