// Runs the real Pyroscope Node.js SDK against SCORCH_URL: wall and heap profiling with a short
// flush interval while burning CPU in named functions, then stop() (which flushes). Exits 0
// when the SDK reported no upload error.
'use strict';
const Pyroscope = require('@pyroscope/nodejs').default;

let uploadErrors = 0;
Pyroscope.setLogger({
  debug() {},
  info() {},
  warn(...a) { console.error('sdk warn:', ...a); },
  error(...a) { uploadErrors++; console.error('sdk error:', ...a); },
});

function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
function busyLeaf(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += fib(20);
  return x;
}

async function main() {
  Pyroscope.init({
    serverAddress: process.env.SCORCH_URL,
    appName: 'nodesdk-test',
    flushIntervalMs: 1000,
    tags: { region: 'loopback' },
  });
  Pyroscope.start();
  const until = Date.now() + 3500;
  while (Date.now() < until) {
    busyLeaf(50);
    await new Promise((r) => setImmediate(r));
  }
  await Pyroscope.stop();
  console.log(`uploads done, errors=${uploadErrors}`);
  process.exit(uploadErrors ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
