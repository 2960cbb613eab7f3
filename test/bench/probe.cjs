// Preloaded (node --require) into the engine and the bench apps: once a second, appends one JSON
// line to $BENCH_PROBE_FILE with the event-loop delay of that second (p50/p99/max, ms beyond the sampling period), GC
// pauses (count, total and longest, ms) and heap figures (MiB). Measurement only; it changes
// nothing in the process it observes. `{pid}` in the file name is replaced by the process id (a
// process that forks another node process, like `gateway start` forking its engine, passes the
// preload on, and each then writes its own file).
'use strict';
const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');
const { appendFileSync } = require('node:fs');

const file = process.env.BENCH_PROBE_FILE?.replace('{pid}', String(process.pid));
if (file) {
  const RESOLUTION_MS = 5;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let gc = { count: 0, ms: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      if (e.duration > gc.maxMs) gc.maxMs = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const mib = (b) => Math.round((b / 1048576) * 10) / 10;
  const ms = (ns) => Math.round((ns / 1e6) * 100) / 100;
  // The histogram holds the time between the sampling timer's runs, so it includes the timer's own
  // period: subtract it to get the delay that other work added.
  const lateMs = (ns) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      loopP50Ms: lateMs(delay.percentile(50)),
      loopP99Ms: lateMs(delay.percentile(99)),
      loopMaxMs: lateMs(delay.max),
      gcCount: gc.count,
      gcMs: Math.round(gc.ms * 100) / 100,
      gcMaxMs: Math.round(gc.maxMs * 100) / 100,
      heapUsedMiB: mib(m.heapUsed),
      externalMiB: mib(m.external),
      arrayBuffersMiB: mib(m.arrayBuffers),
      rssMiB: mib(m.rss),
    };
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // the bench's run directory is gone; nothing to report to
    }
    delay.reset();
    gc = { count: 0, ms: 0, maxMs: 0 };
  }, 1000);
  timer.unref();
}
