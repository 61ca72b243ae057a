// The access token goes only to Zoom's hosts: the API host and the hosts in zoom.downloadHosts, exact match,
// https only (plain http is allowed for loopback hosts, i.e. the sandbox).
import { ForeignHostError } from '../errors.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopback(hostname: string): boolean {
  return LOOPBACK.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export function tokenMayGoTo(url: URL, downloadHosts: readonly string[], apiBaseUrl: string): boolean {
  const api = new URL(apiBaseUrl);
  const allowed = new Set(downloadHosts.map((host) => host.toLowerCase()));
  allowed.add(api.host.toLowerCase());
  const host = url.host.toLowerCase();
  // URL.host omits the default port, so "zoom.us" in the list allows only zoom.us:443.
  if (!allowed.has(host)) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopback(url.hostname);
}

/** Zoom's WebSocket host (zcc-events.md): a subscription's access token travels in the query string of its URL. */
export const ZOOM_WEBSOCKET_HOST = 'ws.zoom.us';

/** What a WebSocket URL that carries the token must be (config errors name it). */
export const SOCKET_URL_EXPECTED = `wss://${ZOOM_WEBSOCKET_HOST}/ws or another host in zoom.downloadHosts (ws:// only to loopback)`;

/** The same rule for a WebSocket URL: wss (ws only to loopback), to Zoom's WebSocket host or a host Zoom's token may go to. */
export function socketTokenMayGoTo(url: URL, downloadHosts: readonly string[], apiBaseUrl: string): boolean {
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return false;
  const asHttp = new URL(url.href.replace(/^ws/, 'http'));
  return tokenMayGoTo(asHttp, [...downloadHosts, ZOOM_WEBSOCKET_HOST], apiBaseUrl);
}

export function assertTokenHost(url: URL, downloadHosts: readonly string[], apiBaseUrl: string): void {
  if (!tokenMayGoTo(url, downloadHosts, apiBaseUrl)) {
    throw new ForeignHostError(
      `refused to send the Zoom token to ${url.protocol}//${url.host}: not in zoom.downloadHosts (${downloadHosts.join(', ')})`,
    );
  }
}
