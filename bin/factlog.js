#!/usr/bin/env node
// factlog command line: a thin entry over the compiled CLI in dist/ (built by `npm run build`).
let cli;
try {
  cli = await import('../dist/src/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('error: factlog is not built (run `npm run build` in the package directory)\n');
    process.exit(1);
  }
  throw err;
}
await cli.main(process.argv);
