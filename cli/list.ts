import Table from 'cli-table3';
import { records as catalog } from '../suites/records.ts';

/** `list`: the catalog's records (suites/records.json), without loading the suites. */
export function listCommand(flags: { json?: boolean }): number {
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ tests: catalog.map((t) => ({ id: t.id, suite: t.suite, claim: t.claim, needs: t.needs, ...(t.source ? { source: t.source } : {}) })) }, null, 2)}\n`,
    );
    return 0;
  }
  const table = new Table({
    head: ['ID', 'suite', 'claim', 'needs'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [12, 10, 80, 24],
  });
  for (const t of catalog) table.push([t.id, t.suite, t.claim, t.needs.join(', ')]);
  process.stdout.write(`${table.toString()}\n`);
  return 0;
}
