// Tiny flag parsing for the benchmark scripts: --name value, --name=value (the only form for a value that starts
// with --, e.g. --node-options="--max-semi-space-size=1"), --flag.
export function parseArgs(argv = process.argv.slice(2)) {
  const values = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) continue;
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    const next = argv[i + 1];
    if (equals >= 0) values.set(name, arg.slice(equals + 1));
    else if (next !== undefined && !next.startsWith('--')) values.set(name, argv[++i]);
    else values.set(name, true);
  }
  return {
    number: (name, fallback) => (values.has(name) ? Number(values.get(name)) : fallback),
    flag: (name) => values.get(name) === true || values.get(name) === 'true',
    string: (name, fallback) => (typeof values.get(name) === 'string' ? values.get(name) : fallback),
  };
}
