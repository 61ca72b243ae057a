// The destination parts of the config: each type's schema, its messages, and the examples in examples/destinations.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { configJsonSchema } from '../../src/config-schema.js';
import { secretEnvNames } from '../../src/destinations/index.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/destinations');
const one = (destination: Record<string, unknown>) => parseConfig({ destinations: [destination] }).destinations[0];

describe('destination config', () => {
  it('names every destination type when the type is unknown', () => {
    expect(() => one({ name: 'x', type: 'ftp' })).toThrow(
      'destinations[0].type: "ftp" is not valid; expected a destination whose "type" is one of: filesystem, s3, azure-blob, http, salesforce, zendesk, servicenow, dynamics, hubspot',
    );
  });

  it('fills the s3 defaults and keeps credentials out of the file', () => {
    expect(one({ name: 'media', type: 's3', bucket: 'my-bucket' })).toEqual({
      name: 'media',
      type: 's3',
      bucket: 'my-bucket',
      prefix: '',
      forcePathStyle: false,
      partSizeMiB: 5,
      uploadConcurrency: 2,
      linkLifetime: 'PT1H',
    });
    expect(() => one({ name: 'media', type: 's3', bucket: 'b-1', accessKeyId: 'AKIA' })).toThrow(/destinations\[0\]\.accessKeyId.*no such key/);
  });

  it.each([
    [{ bucket: 'My_Bucket' }, /destinations\[0\]\.bucket: "My_Bucket" is not valid; expected an S3 bucket name/],
    [{ bucket: 'b-1', kmsKeyId: 'k' }, /destinations\[0\]\.kmsKeyId.*only with serverSideEncryption "aws:kms"/],
    [{ bucket: 'b-1', serverSideEncryption: 'aws:kms', kmsKeyId: 'k', linkLifetime: 'P8D' }, /destinations\[0\]\.linkLifetime: "P8D".*to "P7D" \(7 days\)/],
    [{ bucket: 'b-1', prefix: '../up' }, /destinations\[0\]\.prefix.*no "\.\."/],
    [{ bucket: 'b-1', prefix: '/abs' }, /destinations\[0\]\.prefix/],
    [{ bucket: 'b-1', endpoint: 'ftp://x' }, /destinations\[0\]\.endpoint.*http:\/\/ or https:\/\/ URL/],
    [{ bucket: 'b-1', partSizeMiB: 4 }, /destinations\[0\]\.partSizeMiB/],
  ])('refuses the s3 config %j', (extra, message) => {
    expect(() => one({ name: 'media', type: 's3', ...extra })).toThrow(message);
  });

  it('accepts a 7-day link lifetime and SSE with a KMS key', () => {
    expect(one({ name: 'm', type: 's3', bucket: 'b-1', serverSideEncryption: 'aws:kms', kmsKeyId: 'alias/k', linkLifetime: 'P7D' })).toMatchObject({
      linkLifetime: 'P7D',
      kmsKeyId: 'alias/k',
    });
  });

  it('fills the azure-blob defaults: the standard Azure variable names', () => {
    expect(one({ name: 'blobs', type: 'azure-blob', container: 'zcc' })).toEqual({
      name: 'blobs',
      type: 'azure-blob',
      container: 'zcc',
      prefix: '',
      connectionStringEnv: 'AZURE_STORAGE_CONNECTION_STRING',
      accountEnv: 'AZURE_STORAGE_ACCOUNT',
      accountKeyEnv: 'AZURE_STORAGE_KEY',
      sasTokenEnv: 'AZURE_STORAGE_SAS_TOKEN',
      blockSizeMiB: 8,
      uploadConcurrency: 2,
      linkLifetime: 'PT1H',
    });
    expect(() => one({ name: 'blobs', type: 'azure-blob', container: 'Zcc--x' })).toThrow(/destinations\[0\]\.container.*container name/);
    expect(() => one({ name: 'blobs', type: 'azure-blob', container: 'zcc', accountKeyEnv: 'not a name' })).toThrow(/accountKeyEnv.*environment variable name/);
  });

  it('resolves no path of a remote destination against the config folder', () => {
    const parsed = parseConfig({ destinations: [{ name: 'media', type: 's3', bucket: 'b-1', prefix: 'zcc' }] });
    expect(parsed.destinations[0]).toMatchObject({ prefix: 'zcc' });
  });

  const examples = readdirSync(EXAMPLES).filter((file) => file.endsWith('.json'));
  it.each(examples)('examples/destinations/%s is a valid config for the schema and for config.schema.json', (file) => {
    const raw: unknown = JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8'));
    expect(() => parseConfig(raw)).not.toThrow();
    const published: unknown = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../config.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(configJsonSchema());
    expect(validate(raw) ? [] : validate.errors).toEqual([]);
  });

  it('names the environment variables each destination reads secrets from, for the redactor', () => {
    expect(secretEnvNames(one({ name: 'a', type: 'filesystem', path: './x' })!)).toEqual([]);
    expect(secretEnvNames(one({ name: 'a', type: 's3', bucket: 'b-1' })!)).toEqual(['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
    expect(secretEnvNames(one({ name: 'a', type: 'azure-blob', container: 'zcc', accountKeyEnv: 'ARCHIVE_KEY' })!)).toEqual([
      'AZURE_STORAGE_CONNECTION_STRING',
      'ARCHIVE_KEY',
      'AZURE_STORAGE_SAS_TOKEN',
    ]);
    const http = one({ name: 'a', type: 'http', url: 'https://h.example/{key}', headers: { Authorization: 'Bearer ${HOOK_AUTH}', 'X-A': '${A}-${HOOK_AUTH}' } });
    expect(secretEnvNames(http!)).toEqual(['HOOK_AUTH', 'A']);
  });

  it('has an example for every remote destination type', () => {
    expect(examples.sort()).toEqual(['azure-blob.json', 'dynamics.json', 'http.json', 'hubspot.json', 's3.json', 'salesforce.json', 'servicenow.json', 'zendesk.json']);
  });
});
