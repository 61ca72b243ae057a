// Secrets never reach output or the ledger: every line the CLI writes, and every error text the ledger keeps, passes
// through a redactor that knows the secret values.
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE|CONNECTION_STRING|CREDENTIAL/i;
const MIN_SECRET_LENGTH = 6;

/**
 * Secrets this process came to hold that no environment name reveals: access tokens it was issued (Zoom's, a CRM's)
 * and the values of the variables a destination's config names. Every redactor of this process hides them.
 */
const remembered = new Set<string>();
/** The most recent ones are kept: a token is good for an hour, and a listener runs for months. */
const MAX_REMEMBERED = 64;
/** Bumped when `remembered` changes, so redactors rebuild their list of spellings only then. */
let rememberedVersion = 0;

export function rememberSecret(value: string | undefined | null): void {
  if (!value) return;
  // An auth header's value ("Bearer <token>"): the credential alone too, never the scheme's name ("Bearer" is 6 long).
  const credential = /^\s*(?:Bearer|Basic|Token|OAuth|Zoho-oauthtoken|SSWS)\s+(\S+)\s*$/i.exec(value)?.[1];
  for (const part of [value.trim(), credential]) {
    if (!part || part.length < MIN_SECRET_LENGTH || remembered.has(part)) continue;
    remembered.add(part);
    if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.values().next().value!);
    rememberedVersion++;
  }
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
  let built: { version: number; extra: readonly string[]; spellings: string[] } | null = null;
  const spelled = (): string[] => {
    const added = extra();
    if (built?.version !== rememberedVersion || built.extra.length !== added.length) {
      // Longest first, so a secret that contains another is replaced whole.
      const secrets = [...new Set([...fixed, ...added, ...remembered])].sort((a, b) => b.length - a.length);
      built = { version: rememberedVersion, extra: [...added], spellings: secrets.flatMap(spellings) };
    }
    return built.spellings;
  };
  return (text) => {
    let result = text;
    for (const secret of spelled()) {
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
