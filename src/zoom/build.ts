// The Zoom client built from the config (auth, per-label pacing, retry): one recipe for `run` and `listen`.
import { Duration } from 'luxon';
import type { Clock } from '../clock.js';
import type { Config, ZoomSecrets } from '../config.js';
import { TokenProvider } from './auth.js';
import { ZoomClient } from './client.js';
import { RatePacer, type RateLabel, type RatePacerOptions } from './pacer.js';

export type PacerFactory = (rates: Partial<Record<RateLabel, number>>, clock: Clock, options: RatePacerOptions) => RatePacer;

export function buildZoom(
  config: Config,
  secrets: ZoomSecrets,
  clock: Clock,
  signal: AbortSignal | undefined,
  makePacer: PacerFactory = (rates, pacerClock, options) => new RatePacer(rates, pacerClock, options),
): { zoom: ZoomClient; auth: TokenProvider } {
  const timeoutMs = Duration.fromISO(config.zoom.requestTimeout).toMillis();
  const auth = new TokenProvider({ tokenUrl: config.zoom.oauthTokenUrl, secrets, clock, retryLimit: config.zoom.retry.limit, timeoutMs, signal });
  const share = config.zoom.rateShare;
  const pacer = makePacer(
    {
      Light: config.zoom.rateLimits.Light * share,
      Medium: config.zoom.rateLimits.Medium * share,
      Heavy: config.zoom.rateLimits.Heavy * share,
      ...(config.zoom.downloadRate ? { download: config.zoom.downloadRate } : {}),
    },
    clock,
    { share },
  );
  const zoom = new ZoomClient({
    apiBaseUrl: config.zoom.apiBaseUrl,
    downloadHosts: config.zoom.downloadHosts,
    auth,
    pacer,
    clock,
    timeoutMs,
    retryLimit: config.zoom.retry.limit,
    maxBackoffMs: Duration.fromISO(config.zoom.retry.maxBackoff).toMillis(),
    maxWaitMs: Duration.fromISO(config.zoom.maxWait).toMillis(),
    signal,
  });
  return { zoom, auth };
}
