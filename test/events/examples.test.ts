// What an operator copies: config.example.json's listen block (the defaults, exactly as PRODUCT.md shows them) and the
// systemd unit for the listener (restarted on failure, secrets from a file, SIGTERM with room for the drain).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ROOT } from '../commands/helpers.js';

/** PRODUCT.md, "Config": `listen` reads this (defaults shown). */
const PRODUCT_LISTEN = {
  host: '127.0.0.1',
  port: 8787,
  webhookPath: '/zoom/events',
  flowPath: '/flow/events',
  websocket: { url: 'wss://ws.zoom.us/ws', subscriptionId: null },
};

/** `[Section]` → key → values (a key may repeat). */
function unitFile(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const pair = /^(\w+)=(.*)$/.exec(line);
    if (!pair || !current) throw new Error(`not a unit file line: ${line}`);
    current.set(pair[1]!, [...(current.get(pair[1]!) ?? []), pair[2]!]);
  }
  return sections;
}

/** systemd time spans as used here: "45s", "2min", "1min 30s", or bare seconds. */
function seconds(span: string): number {
  let total = 0;
  for (const [, value, unit] of span.matchAll(/(\d+)\s*(min|s|ms)?/g)) total += Number(value) * (unit === 'min' ? 60 : unit === 'ms' ? 0.001 : 1);
  return total;
}

describe('examples for listen', () => {
  it('config.example.json has the listen block with its defaults, exactly as PRODUCT.md shows them', () => {
    const raw = JSON.parse(readFileSync(path.join(ROOT, 'config.example.json'), 'utf8')) as { listen: unknown };
    expect(raw.listen).toEqual(PRODUCT_LISTEN);
    const config = parseConfig(raw);
    const { listen: _listen, ...withoutListen } = raw as Record<string, unknown>;
    expect(config.listen).toEqual(parseConfig(withoutListen).listen);
    expect(config.listen).toEqual(PRODUCT_LISTEN);
  });

  it('ships a systemd unit for the listener: restart on failure, EnvironmentFile, SIGTERM, a stop timeout above the drain', () => {
    const unit = unitFile(readFileSync(path.join(ROOT, 'examples/zcc-reconcile-listen.service'), 'utf8'));
    const service = unit.get('Service')!;
    const one = (key: string) => {
      const values = service.get(key) ?? [];
      expect(values, key).toHaveLength(1);
      return values[0]!;
    };
    expect(one('ExecStart')).toMatch(/zcc-reconcile .*--log-format json listen$/);
    expect(one('Restart')).toBe('on-failure');
    // A config error (exit 2) is not fixed by restarting.
    expect(one('RestartPreventExitStatus')).toBe('2');
    expect(one('EnvironmentFile')).toMatch(/^\/etc\/zcc-reconcile\/.+\.env$/);
    expect(one('KillSignal')).toBe('SIGTERM');
    // The server's close waits up to 10 s for requests in progress, then the worker gets 10 s of grace.
    expect(seconds(one('TimeoutStopSec'))).toBeGreaterThan(20);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('Unit')?.get('After')).toEqual(['network-online.target']);
  });
});
