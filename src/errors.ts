// Every failure has its own class, grouped by what to do next; the CLI maps classes to exit codes in one place.

/** Bad config or command-line input: exit 2, nothing done. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${path}: ${describe(value)} is not valid; expected ${expected}`);
    this.name = 'ConfigError';
  }
}

/** A usage error that is not about one config key (e.g. --from after --to). Exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Zoom answered with an error that retrying will not fix for this request. */
export class ZoomApiError extends Error {
  override name = 'ZoomApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | undefined,
    readonly endpoint: string,
  ) {
    super(message);
  }
}

/**
 * A request to Zoom still failed after its retries (timeouts, resets, a body cut short): for a listing its chunk stays
 * unchecked, for a download the artifact failed. Unlike ZoomUnavailableError it does not end the run.
 */
export class ZoomRequestError extends Error {
  override name = 'ZoomRequestError';
  constructor(
    message: string,
    readonly endpoint: string,
  ) {
    super(message);
  }
}

/** Zoom cannot be used this run (credentials refused, quota spent, unreachable): exit 3, nothing lost. */
export class ZoomUnavailableError extends Error {
  override name = 'ZoomUnavailableError';
}

/** The token endpoint refused our credentials. */
export class CredentialsRefusedError extends ZoomUnavailableError {
  override name = 'CredentialsRefusedError';
  constructor(detail: string) {
    super(
      `Zoom refused the credentials (${detail}); check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET`,
    );
  }
}

/** A wait longer than zoom.maxWait (the daily quota): the run ends, exit 3. */
export class QuotaExhaustedError extends ZoomUnavailableError {
  override name = 'QuotaExhaustedError';
  constructor(
    readonly label: string,
    readonly resumesAt: Date,
  ) {
    super(`Zoom's rate limit for ${label} requests is spent (daily quota); it resets at ${resumesAt.toISOString()}`);
  }
}

/** A listing that could not complete (repeating page token, stale token after a restart, retries exhausted). */
export class ListingIncompleteError extends Error {
  override name = 'ListingIncompleteError';
}

/** One artifact could not be fetched or stored; the run goes on and the artifact is retried next run. */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
}

/** The token would go to a host that is not Zoom's. */
export class ForeignHostError extends ArtifactError {
  override name = 'ForeignHostError';
}

/** A destination refused or failed a write. */
export class DestinationError extends Error {
  override name = 'DestinationError';
  constructor(
    readonly destination: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${destination}: ${message}`, options);
  }
}

/**
 * A destination cannot take anything more this run (its credentials were refused, its daily API allowance is spent):
 * its remaining artifacts fail fast without counting an attempt, and the other destinations go on.
 */
export class DestinationUnavailableError extends DestinationError {
  override name = 'DestinationUnavailableError';
}

/** Another run holds the ledger: exit 4. */
export class LedgerLockedError extends Error {
  override name = 'LedgerLockedError';
}

/** The run was stopped by SIGINT/SIGTERM. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`stopped by ${signal}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
