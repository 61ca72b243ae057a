// Azurite (Microsoft's Azure Storage emulator, from npm) in a child process on loopback with its data in a temp
// folder, behind the fault proxy. It checks Shared Key and SAS signatures like Azure does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startChild } from './child.mjs';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** Azurite's well-known development account (public, documented). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** The blob service URL through the proxy, path-style: http://127.0.0.1:<port>/devstoreaccount1 */
  endpoint: string;
  connectionString: string;
  proxy: FaultProxy;
  /** A client for the container; quick retries so fault tests stay fast. */
  container(name: string): ContainerClient;
  close(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-azurite-'));
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'azurite-main.mjs');
  const child = await startChild(
    [main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    /listens on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: child.port });
  const endpoint = `${proxy.url}/${AZURITE_ACCOUNT}`;
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
    retryOptions: { maxTries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200 },
  });
  return {
    endpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    proxy,
    container: (name) => service.getContainerClient(name),
    close: async () => {
      await proxy.close();
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
