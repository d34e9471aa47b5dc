#!/usr/bin/env node
// The installed command. It runs the compiled CLI (dist/, built by `npm run build`, which
// `npm install` runs through `prepare`); from a checkout without a build, run
// `node --conditions=development --import tsx src/cli/main.ts` instead.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error("tributary: the CLI is not built: run 'npm run build' in the tributary package");
    process.exit(1);
  }
  throw err;
}
cli.exitWhenFlushed(await cli.main(process.argv.slice(2)));
