// Secrets never reach output or the ledger: every line the CLI writes, and every error text the ledger keeps, passes
// through a redactor that knows the secret values.
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE|CONNECTION_STRING|CREDENTIAL/i;
const MIN_SECRET_LENGTH = 6;

/**
 * Secrets this process came to hold that no environment name reveals: access tokens it was issued (Zoom's, a CRM's)
 * and the values of the variables a destination's config names. Every redactor of this process hides them.
 */
const remembered = new Set<string>();

export function rememberSecret(value: string | undefined | null): void {
  if (!value) return;
  // An auth header's value ("Bearer <token>"): the credential alone too, never the scheme's name ("Bearer" is 6 long).
  const credential = /^\s*[A-Za-z][\w-]*\s+(\S+)\s*$/.exec(value)?.[1];
  for (const part of [value.trim(), credential]) if (part && part.length >= MIN_SECRET_LENGTH) remembered.add(part);
}

export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const values = Object.entries(env)
    .filter(([name, value]) => value && value.length >= MIN_SECRET_LENGTH && (SECRET_NAME.test(name) || name === 'ZOOM_CLIENT_ID'))
    .map(([, value]) => value!);
  return [...new Set(values)];
}

/** A secret as it appears inside a JSON string (a --log-format json line) or a URL, besides as itself. */
function spellings(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])];
}

export function redactor(env: NodeJS.ProcessEnv, extra: () => readonly string[] = () => []): (text: string) => string {
  const fixed = secretValues(env);
  return (text) => {
    let result = text;
    // Longest first, so a secret that contains another is replaced whole.
    const secrets = [...new Set([...fixed, ...extra(), ...remembered])].sort((a, b) => b.length - a.length).flatMap(spellings);
    for (const secret of secrets) {
      if (secret.length >= MIN_SECRET_LENGTH && result.includes(secret)) result = result.split(secret).join('[redacted]');
    }
    // Bearer and Basic credentials, whatever their value.
    return result.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, '$1 [redacted]');
  };
}

let processRedactor: ((text: string) => string) | null = null;

/** The redactor of this process: its environment's secrets and the remembered ones. */
export function redactSecrets(text: string): string {
  processRedactor ??= redactor(process.env);
  return processRedactor(text);
}
