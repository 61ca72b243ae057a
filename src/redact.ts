// Secrets never reach output: every line the CLI writes passes through a redactor that knows the secret values.
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE|CONNECTION_STRING|CREDENTIAL/i;
const MIN_SECRET_LENGTH = 6;

export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const values = Object.entries(env)
    .filter(([name, value]) => value && value.length >= MIN_SECRET_LENGTH && (SECRET_NAME.test(name) || name === 'ZOOM_CLIENT_ID'))
    .map(([, value]) => value!);
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** A secret as it appears inside a JSON string (a --log-format json line) or a URL, besides as itself. */
function spellings(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])];
}

export function redactor(env: NodeJS.ProcessEnv, extra: () => readonly string[] = () => []): (text: string) => string {
  const fixed = secretValues(env).flatMap(spellings);
  return (text) => {
    let result = text;
    for (const secret of [...fixed, ...extra().flatMap(spellings)]) {
      if (secret.length >= MIN_SECRET_LENGTH && result.includes(secret)) result = result.split(secret).join('[redacted]');
    }
    // Bearer and Basic credentials, whatever their value.
    return result.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, '$1 [redacted]');
  };
}
