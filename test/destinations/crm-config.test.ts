// The CRM destinations' shared config: defaults, the attach rules, links, names, and the secrets they name.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { kindsOf, secretEnvNames } from '../../src/destinations/index.js';

const parse = (destinations: Record<string, unknown>[]) => parseConfig({ destinations }).destinations;
const zendesk = { name: 'desk', type: 'zendesk', baseUrl: 'https://acme.zendesk.com' };

describe('CRM destination config', () => {
  it('fills the shared defaults', () => {
    expect(parse([zendesk])[0]).toMatchObject({
      record: { match: 'external-id', create: true },
      attach: {},
      requestTimeout: 'PT60S',
      retry: { limit: 5, maxBackoff: 'PT30S', maxRetryAfter: 'PT5M' },
      auth: 'api-token',
      emailEnv: 'ZENDESK_EMAIL',
      apiTokenEnv: 'ZENDESK_API_TOKEN',
    });
  });

  it('refuses text for media, plain http to a remote host, and unknown keys, naming each', () => {
    expect(() => parse([{ ...zendesk, attach: { recording: 'text' } }])).toThrow(/destinations\[0\]\.attach\.recording.*"file", "link" or "none" for recording/);
    expect(() => parse([{ ...zendesk, baseUrl: 'http://acme.zendesk.com' }])).toThrow(/destinations\[0\]\.baseUrl.*https:\/\//);
    expect(() => parse([{ ...zendesk, baseURL: 'https://x' }])).toThrow(/baseURL/);
    expect(() => parse([{ ...zendesk, record: { match: 'email' } }])).toThrow(/destinations\[0\]\.record\.match/);
  });

  it('linkFrom must name an s3 or azure-blob destination of the same config', () => {
    expect(() => parse([{ ...zendesk, linkFrom: 'media' }])).toThrow(/destinations\[0\]\.linkFrom.*s3 or azure-blob destination/);
    expect(() => parse([{ name: 'media', type: 'filesystem', path: './m' }, { ...zendesk, linkFrom: 'media' }])).toThrow(/linkFrom/);
    expect(parse([{ name: 'media', type: 's3', bucket: 'b-1' }, { ...zendesk, linkFrom: 'media' }])[1]).toMatchObject({ linkFrom: 'media' });
  });

  it('destination names are unique (they key the ledger)', () => {
    expect(() => parse([zendesk, { ...zendesk }])).toThrow(/destinations\[1\]\.name.*"desk" is used twice/);
  });

  it('attach "none" takes a kind out like leaving it out of kinds', () => {
    const [config] = parse([{ ...zendesk, attach: { voicemail: 'none', recording: 'link' } }]);
    expect([...kindsOf(config!, ['recording', 'voicemail', 'note'])]).toEqual(['recording', 'note']);
  });

  it('names the secrets each CRM reads, for the redactor', () => {
    const names = parse([
      { name: 'a', type: 'salesforce', baseUrl: 'https://acme.my.salesforce.com' },
      zendesk,
      { name: 'c', type: 'servicenow', baseUrl: 'https://acme.service-now.com' },
      { name: 'd', type: 'dynamics', baseUrl: 'https://acme.crm.dynamics.com' },
      { name: 'e', type: 'hubspot', baseUrl: 'https://api.hubapi.com', accessTokenEnv: 'HS_TOKEN' },
    ]).map(secretEnvNames);
    expect(names).toEqual([
      ['SALESFORCE_CLIENT_SECRET', 'SALESFORCE_PRIVATE_KEY'],
      ['ZENDESK_API_TOKEN', 'ZENDESK_CLIENT_SECRET'],
      ['SERVICENOW_CLIENT_SECRET', 'SERVICENOW_PASSWORD'],
      ['DYNAMICS_CLIENT_SECRET'],
      ['HS_TOKEN'],
    ]);
  });
});
