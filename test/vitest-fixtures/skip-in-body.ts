// Run by harness/conformance/execute.test.ts in a child Vitest: a conformance body that skips
// at run time (as a body does when the cluster cannot judge its claim), through runBody.
import { writeFileSync } from 'node:fs';
import { test } from 'vitest';
import { runBody } from '../../harness/conformance/execute.ts';

test('a body that skips at run time', async ({ skip }) => {
  const events: string[] = [];
  try {
    await runBody({
      body: () => Promise.resolve(skip('this cluster cannot judge the claim')),
      budgetMs: 5_000,
      settleMs: 10_000,
      budgetMessage: 'over budget',
      diagnostics: () => {
        events.push('diagnostics');
        return Promise.resolve([]);
      },
      cleanup: () => {
        events.push('cleanup');
        return Promise.resolve([]);
      },
      keepOnFailure: true,
      note: (level, m) => events.push(`${level}: ${m}`),
    });
  } finally {
    writeFileSync(process.env.SKIP_EVENTS_FILE ?? '/dev/null', JSON.stringify(events));
  }
});
