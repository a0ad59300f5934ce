#!/usr/bin/env -S node --import tsx
/**
 * Renders a run's Allure HTML report with Allure 3 (no Java needed).
 *   npm run report                 -> the newest run under reports/
 *   npm run report -- reports/<run> -> that run
 * Writes <run>/allure-report/index.html.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function latestRunDir(reportsDir: string): string | undefined {
  if (!existsSync(reportsDir)) return undefined;
  const runs = readdirSync(reportsDir)
    .map((d) => path.join(reportsDir, d))
    .filter((d) => statSync(d).isDirectory() && existsSync(path.join(d, 'allure-results')))
    .sort();
  return runs.at(-1);
}

async function main(): Promise<number> {
  const arg = process.argv[2];
  const runDir = arg ? path.resolve(arg) : latestRunDir(path.join(ROOT, 'reports'));
  const results = runDir ? path.join(runDir, 'allure-results') : undefined;
  if (!runDir || !results || !existsSync(results)) {
    process.stderr.write(
      `report: no allure-results found${arg ? ` in ${arg}` : ' under reports/'}\n  fix: run \`npm run conformance\` first, or pass a run folder: npm run report -- reports/<run>\n`,
    );
    return 2;
  }
  const output = path.join(runDir, 'allure-report');
  const t0 = performance.now();
  process.stderr.write(`▶ report: rendering ${results}\n`);
  const allure = path.join(ROOT, 'node_modules', 'allure', 'cli.js');
  await $({
    quiet: true,
    timeout: '5m',
  })`${process.execPath} ${allure} generate ${results} --output ${output} --name ${`ambient-conformance ${path.basename(runDir)}`}`;
  process.stderr.write(
    `✔ report done in ${((performance.now() - t0) / 1000).toFixed(1)}s: ${path.join(output, 'index.html')}\n`,
  );
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await main();
}
