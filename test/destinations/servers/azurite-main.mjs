// Azurite's blob service (its own CLI, same arguments), made to exit when stdin closes, so a test or bench that
// dies never leaves it behind. Prints "listens on http://127.0.0.1:<port>" when ready.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const exit = () => process.exit(0);
process.stdin.on('end', exit);
process.stdin.resume();
process.on('SIGTERM', exit);
await import(pathToFileURL(createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js')).href);
