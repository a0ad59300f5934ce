/**
 * Regenerates the samples in docs/upgrade-plan.md from the tool itself (scripts/upgrade-docs-lib.ts):
 *
 *   cd /work/main && export PATH=$PWD/node_modules/.bin:$PATH
 *   node --import tsx scripts/upgrade-docs.ts
 *
 * test/upgrade-docs.test.ts fails when the file differs from what this writes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillSamples } from './upgrade-docs-lib.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = path.join(ROOT, 'docs', 'upgrade-plan.md');

const text = await fillSamples(readFileSync(DOC, 'utf8'), (args) => {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'ambient-conformance.mjs'), 'upgrade', 'plan', ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`upgrade plan ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return Promise.resolve(r.stdout);
});
writeFileSync(DOC, text);
console.log(`${path.relative(ROOT, DOC)}: samples regenerated`);
