// Peak memory of this process: the kernel's high-water mark (VmHWM) and a sampled process.memoryUsage().rss.
import { readFileSync } from 'node:fs';

/** VmHWM from /proc/self/status in bytes, or null off Linux. */
export function vmHwm() {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** RssAnon, RssFile and RssShmem from /proc/self/status in bytes (what the resident memory is made of), or null. */
export function rssParts() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const read = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { anon: read('RssAnon'), file: read('RssFile'), shmem: read('RssShmem') };
  } catch {
    return null;
  }
}

/**
 * Samples RSS every `everyMs` until stopped; returns the peak seen and, at that moment, where the memory was (V8 heap,
 * buffers outside it), so a benchmark can say what the peak is made of.
 */
export function sampleRss(everyMs = 20) {
  let peak = { rss: 0 };
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peak.rss) {
      const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
      peak = { rss, heapUsed, heapTotal, external, arrayBuffers, ...rssParts() };
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    return peak;
  };
}
