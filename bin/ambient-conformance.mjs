#!/usr/bin/env node
// Entry point. Checks the Node version before loading anything, then runs the TypeScript CLI
// through tsx (no build step).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `ambient-conformance: Node.js ${process.versions.node} is too old\n` +
      '  expected: Node.js 22.19 or later (undici, under @kubernetes/client-node 2, requires it)\n' +
      '  fix:      run it through npm (npm run conformance, npx ambient-conformance), which uses the Node 24 in node_modules/.bin, or install Node 22.19+\n',
  );
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
await import('../cli/entry.ts');
