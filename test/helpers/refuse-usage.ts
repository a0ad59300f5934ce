// Exits 1 with the real tool's usage error when the argv would not parse; 0 otherwise.
// Usage: node refuse-usage.ts <table.json> <argv...>   (Node 24 strips the types itself)   (run by the fake executables of fake-bin.ts)
import { readFileSync } from 'node:fs';
import { usageError, type CliTable } from './cli-tables.ts';

const [tableFile, ...argv] = process.argv.slice(2);
const table = JSON.parse(readFileSync(tableFile ?? '', 'utf8'), (_k, v: unknown) =>
  v === null ? Infinity : v,
) as CliTable;
const error = usageError(table, argv);
if (error !== undefined) {
  process.stderr.write(`${table.name.startsWith('kind') ? 'ERROR: ' : ''}${error}\n`);
  process.exit(1);
}
