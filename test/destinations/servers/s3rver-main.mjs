// A real S3-compatible server (s3rver) in its own process, so its memory and CPU are not the test's or bench's.
// Usage: node s3rver-main.mjs <data folder> <bucket>... ; prints "listening <port>"; exits when stdin closes.
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory || buckets.length === 0) {
  console.error('usage: s3rver-main.mjs <data folder> <bucket>...');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
console.log(`listening ${port}`);
const stop = () => server.close().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
