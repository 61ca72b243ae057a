#!/usr/bin/env node
// Streams a generated body (1 GiB by default) into each destination — filesystem, s3 (s3rver), azure-blob (Azurite)
// and http (a counting sink) — and reports the peak RSS of the process doing the put. Each destination runs in a
// fresh child process started with the node flags bin/zcc-reconcile launches with, built by the registry from config
// (dist/), so one's peak cannot hide in another's.
//
//   npm run build && node bench/destinations-memory.mjs [--bytes N] [--only s3,http]
//
// The body cycles through a few pre-filled 64 KiB chunks (never rewritten, so a consumer may hold them): the
// figure is the destination's own memory. A real download adds its socket buffers, which V8 collects lazily (up
// to ~64 MiB of them), the same for every destination. Writes bench/results/destinations-memory.json.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launcherFlags } from './lib/launcher.mjs';
import { startAzurite, startS3rver } from './lib/stores.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
// The goal is 150 MB (10^6 bytes), as in bench/memory.mjs; results are printed in MiB.
const LIMIT_MB = 150;
const LIMIT_MIB = (LIMIT_MB * 1e6) / MiB;

if (process.argv[2] === '--worker') await worker();
else await main();

async function main() {
  const args = process.argv.slice(2);
  const option = (name) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const bytes = Number(option('--bytes') ?? 1024 * MiB);
  const only = option('--only')?.split(',');
  const work = mkdtempSync(path.join(tmpdir(), 'zcc-bench-dest-'));
  const started = [];
  try {
    const [s3, azurite, sink] = await Promise.all([startS3rver(path.join(work, 's3rver'), 'bench'), startAzurite(path.join(work, 'azurite')), startSink()]);
    started.push(s3, azurite, sink);
    const { connectionString } = azurite;
    await createContainer(connectionString, 'bench');

    const cases = [
      { type: 'filesystem', config: { name: 'fs', type: 'filesystem', path: path.join(work, 'archive') }, env: {} },
      {
        type: 's3',
        config: { name: 's3', type: 's3', bucket: 'bench', prefix: 'zcc', region: 'us-east-1', endpoint: `http://127.0.0.1:${s3.port}`, forcePathStyle: true },
        env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      },
      { type: 'azure-blob', config: { name: 'azure', type: 'azure-blob', container: 'bench', prefix: 'zcc' }, env: { AZURE_STORAGE_CONNECTION_STRING: connectionString } },
      {
        type: 'http',
        config: { name: 'http', type: 'http', url: `${sink.url}/{kind}/{key}`, headers: { Authorization: 'Bearer ${BENCH_TOKEN}' } },
        env: { BENCH_TOKEN: 'bench' },
      },
    ].filter((entry) => !only || only.includes(entry.type));

    const results = [];
    for (const entry of cases) {
      const result = await runWorker(entry, bytes);
      if (entry.type === 'http' && result.ok) result.ok = sink.last?.bytes === bytes && sink.last?.sha256 === result.sha256;
      results.push(result);
      console.log(line(result));
    }
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      bytes,
      limitMB: LIMIT_MB,
      body: '64 KiB chunks cycled from 16 pre-filled buffers (no per-chunk allocation)',
      results,
    };
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench/results/destinations-memory.json'), `${JSON.stringify(report, null, 2)}\n`);
    const failed = results.filter((result) => !result.ok || result.peakRssMiB >= LIMIT_MIB);
    console.log(failed.length === 0 ? `all under ${LIMIT_MB} MB (${LIMIT_MIB.toFixed(1)} MiB)` : `over the limit or failed: ${failed.map((result) => result.type).join(', ')}`);
    process.exitCode = failed.length === 0 ? 0 : 1;
  } finally {
    for (const server of started) await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function line(result) {
  if (!result.ok) return `${result.type.padEnd(11)} FAILED ${result.error ?? ''}`;
  return (
    `${result.type.padEnd(11)} peak RSS ${String(result.peakRssMiB).padStart(5)} MiB ` +
    `(baseline ${result.baselineRssMiB}, first half ${result.firstHalfPeakMiB}, second half ${result.secondHalfPeakMiB}; ` +
    `JS heap ${result.peakHeapUsedMiB}, buffers ${result.peakArrayBuffersMiB}) ` +
    `${result.seconds} s, ${result.mibPerSecond} MiB/s`
  );
}

function runWorker(entry, bytes) {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify({ config: entry.config, bytes })], {
      env: { ...process.env, ...entry.env },
      execArgv: launcherFlags(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result = { type: entry.type, ok: false, error: 'worker exited without a result' };
    child.on('message', (message) => {
      result = { type: entry.type, ...message };
    });
    child.on('exit', () => resolve(result));
  });
}

/** In the child: build the destination from config, stream the body into it, sample RSS every 10 ms. */
async function worker() {
  const { config: raw, bytes } = JSON.parse(process.argv[3]);
  const { parseConfig } = await import(pathToFileURL(path.join(ROOT, 'dist/config.js')).href);
  const { createDestination } = await import(pathToFileURL(path.join(ROOT, 'dist/destinations/index.js')).href);
  const config = parseConfig({ destinations: [raw] }).destinations[0];
  const destination = await createDestination(config);
  const request = {
    key: 'recording/Bench1',
    kind: 'recording',
    engagementId: 'EngBench',
    occurredAt: '2026-01-01T00:00:00Z',
    date: '2026-01-01',
    extension: 'mp4',
    contentType: 'video/mp4',
    metadata: { key: 'recording/Bench1', kind: 'recording', engagement_id: 'EngBench' },
    size: bytes,
  };
  const body = generatedBody(bytes);
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let firstHalf = baseline;
  let secondHalf = 0;
  let peakHeap = 0;
  let peakBuffers = 0;
  const sampler = setInterval(() => {
    const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
    peak = Math.max(peak, rss);
    peakHeap = Math.max(peakHeap, heapUsed);
    peakBuffers = Math.max(peakBuffers, arrayBuffers);
    if (body.produced < bytes / 2) firstHalf = Math.max(firstHalf, rss);
    else secondHalf = Math.max(secondHalf, rss);
  }, 10);
  const started = performance.now();
  try {
    await destination.put(request, body.stream);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const stored = config.type === 'http' ? { size: bytes } : await destination.stat(request);
    const mib = (value) => Math.round((value / MiB) * 10) / 10;
    process.send({
      ok: stored?.size === bytes,
      peakRssMiB: mib(peak),
      baselineRssMiB: mib(baseline),
      firstHalfPeakMiB: mib(firstHalf),
      secondHalfPeakMiB: mib(secondHalf),
      peakHeapUsedMiB: mib(peakHeap),
      peakArrayBuffersMiB: mib(peakBuffers),
      seconds: Math.round(seconds * 10) / 10,
      mibPerSecond: Math.round(bytes / MiB / seconds),
      sha256: body.sha256(),
    });
  } catch (error) {
    clearInterval(sampler);
    process.send({ ok: false, error: String(error?.message ?? error) });
  } finally {
    await destination.close();
  }
}

function generatedBody(total) {
  const CHUNK = 64 * 1024;
  const chunks = Array.from({ length: 16 }, (_, index) => {
    const chunk = Buffer.alloc(CHUNK);
    for (let offset = 0; offset < CHUNK; offset += 4) chunk.writeUInt32BE((offset * 2654435761 + index) >>> 0, offset);
    return chunk;
  });
  const hash = createHash('sha256');
  const state = { produced: 0 };
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (state.produced >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(CHUNK, total - state.produced);
      const chunk = chunks[(state.produced / CHUNK) % chunks.length].subarray(0, size);
      hash.update(chunk);
      state.produced += size;
      this.push(chunk);
    },
  });
  return {
    stream,
    get produced() {
      return state.produced;
    },
    sha256: () => hash.digest('hex'),
  };
}

/** An HTTP endpoint that hashes and counts what it is sent, keeps nothing, and answers 201. */
async function startSink() {
  const sink = { last: null };
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      sink.last = { bytes, sha256: hash.digest('hex') };
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${server.address().port}`;
  sink.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return sink;
}

async function createContainer(connectionString, name) {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(name).createIfNotExists();
}
