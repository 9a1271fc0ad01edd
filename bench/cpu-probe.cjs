'use strict';
// Preloaded into every benchmark child process (`node --require bench/cpu-probe.cjs …`, spawned with an IPC
// channel by bench/cpu.ts): answers `{ cpuProbe: id }` with this process's cumulative `process.cpuUsage()`, so
// the parent can take CPU deltas of a child over its own measured window. Works for processes we do not write
// (kong-pdk's plugin server) as well as our own.
if (typeof process.send === 'function') {
  process.on('message', (message) => {
    if (message !== null && typeof message === 'object' && 'cpuProbe' in message) {
      process.send({ cpuProbe: message.cpuProbe, usage: process.cpuUsage() });
    }
  });
  // The channel must not keep the child alive: it ends as it would without the probe.
  process.channel.unref();
}
