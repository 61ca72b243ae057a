// Real object stores for the benchmarks, each in its own process on loopback (their memory and CPU are not the
// measured process's): s3rver and Azurite, the same servers the destination tests start.
import path from 'node:path';
import { startChild } from '../../test/destinations/servers/child.mjs';
import { ROOT } from './paths.mjs';

const SERVERS = path.join(ROOT, 'test/destinations/servers');
const AZURITE_ACCOUNT = 'devstoreaccount1';
// Azurite's published development key (not a secret).
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** s3rver keeping its objects under `folder`, with the buckets named; resolves with its port and `stop`. */
export function startS3rver(folder, ...buckets) {
  return startChild([path.join(SERVERS, 's3rver-main.mjs'), folder, ...buckets], /listening (\d+)/);
}

/** Azurite's blob service keeping its data under `folder`; resolves with its port, a connection string and `stop`. */
export async function startAzurite(folder) {
  const server = await startChild(
    [path.join(SERVERS, 'azurite-main.mjs'), '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', folder, '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    /listens on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  const blobEndpoint = `http://127.0.0.1:${server.port}/${AZURITE_ACCOUNT}`;
  return { ...server, connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};` };
}
