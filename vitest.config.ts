import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import SuiteOrderSequencer from './harness/conformance/sequencer.ts';

// The CLI sets AMBIENT_RUN_DIR for a conformance run; then JUnit, Allure and the results file
// are written into reports/<run>/.
const runDir = process.env.AMBIENT_RUN_DIR;

export default defineConfig({
  test: {
    reporters: runDir
      ? [
          'default',
          'junit',
          ['allure-vitest/reporter', { resultsDir: path.join(runDir, 'allure-results') }],
          ['./harness/report/vitest-reporter.ts', { outputFile: path.join(runDir, 'results.json') }],
        ]
      : ['default', './harness/report/plain-summary-reporter.ts'],
    ...(runDir ? { outputFile: { junit: path.join(runDir, 'junit.xml') } } : {}),
    // At least two test files at once (Vitest's default is one less than the CPUs, so one on a
    // 2-CPU machine): many unit tests wait on child processes (the twin's whole runs, the real
    // helm, the CLI), which leaves a CPU idle. The conformance project runs its files one at a
    // time regardless (fileParallelism: false).
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    // Suite files run in a fixed order, removal last (harness/conformance/sequencer.ts).
    sequence: { sequencer: SuiteOrderSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'harness/**/*.test.ts',
            'cli/**/*.test.ts',
            'suites/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'conformance',
          include: ['suites/**/*.conformance.ts'],
          environment: 'node',
          globalSetup: ['./harness/conformance/global-setup.ts'],
          setupFiles: ['allure-vitest/setup'],
          fileParallelism: false,
          // One module graph for all suite files: they share no module state (facts come through
          // inject), and loading client-node and the harness once instead of per file saves
          // seconds of every run.
          isolate: false,
          // Each test bounds itself with the timeout table; Vitest's own limit is off.
          testTimeout: 0,
          hookTimeout: 0,
        },
      },
    ],
  },
});
