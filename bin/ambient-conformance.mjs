#!/usr/bin/env node
// Entry point. Checks the Node version before loading anything, then runs the TypeScript CLI
// with Node's own type stripping (no build step).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `ambient-conformance: Node.js ${process.versions.node} is too old\n` +
      '  expected: Node.js 22.19 or later (undici, under @kubernetes/client-node 2, requires it)\n' +
      '  fix:      run it through npm (npm run conformance, npx ambient-conformance), which uses the Node 24 in node_modules/.bin, or install Node 22.19+\n',
  );
  process.exit(2);
}
// Node 22.18+ strips TypeScript types itself (process.features.typescript); the sources use
// only erasable syntax (tsconfig erasableSyntaxOnly), so no transpiler is loaded then. tsx
// remains the fallback where type stripping is switched off (--no-experimental-strip-types).
// V8's compile cache (Node 22.1+), which from Node 24 also keeps the type-stripped sources, so a
// second start skips most of the work (node:module enableCompileCache; the default folder is
// under the OS temp dir, and NODE_DISABLE_COMPILE_CACHE=1 turns it off).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
if (!process.features.typescript) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import('../cli/entry.ts');
