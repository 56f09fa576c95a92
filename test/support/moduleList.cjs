// Preloaded into a worker (NODE_OPTIONS=--require): on exit, writes every module the process
// loaded (require.cache's keys) to $CALLVAULT_MODULE_LIST, for test/integration/worker-modules.test.ts.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  writeFileSync(process.env.CALLVAULT_MODULE_LIST, JSON.stringify(Object.keys(require.cache)));
});
