// Real object stores for the benchmarks, each in its own process on loopback (their memory and CPU are not the
// measured process's): s3rver and Azurite, the same servers the destination tests start.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const SERVERS = path.join(ROOT, 'test/destinations/servers');
export const AZURITE_ACCOUNT = 'devstoreaccount1';
// Azurite's published development key (not a secret).
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** s3rver keeping its objects under `folder`, with the buckets named; resolves with its port and `stop`. */
export function startS3rver(folder, ...buckets) {
  return startServerProcess([path.join(SERVERS, 's3rver-main.mjs'), folder, ...buckets], /listening (\d+)/);
}

/** Azurite's blob service keeping its data under `folder`; resolves with its port, a connection string and `stop`. */
export async function startAzurite(folder) {
  const server = await startServerProcess(
    [path.join(SERVERS, 'azurite-main.mjs'), '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', folder, '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    /listens on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  const blobEndpoint = `http://127.0.0.1:${server.port}/${AZURITE_ACCOUNT}`;
  return { ...server, connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};` };
}

/** Starts `node <args>`; resolves once its output matches `ready` (group 1 is the port). */
function startServerProcess(args, ready) {
  return new Promise((resolve, reject) => {
    // stdin is the child's lifeline: it exits when we do.
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const onData = (data) => {
      output += data;
      const match = ready.exec(output);
      if (match) {
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        child.stdout.resume();
        child.stderr.resume();
        resolve({
          port: Number(match[1]),
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${path.basename(args[0])} exited with ${code}: ${output}`)));
  });
}
