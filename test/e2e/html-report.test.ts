// The HTML report as people see it: rendered by headless Chromium to a PNG, which must exist, have a sensible size,
// not be blank, and show the per-day chart in the kinds' colours.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { KIND_COLOURS } from '../../src/html-report.js';
import { harness, type Harness } from '../support/harness.js';
import { cli } from '../commands/helpers.js';
import { countColour, readPng } from './png.js';

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((name) => {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

function screenshot(browser: string, html: string, png: string): Promise<void> {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(path.join(tmpdir(), 'zcc-chromium-'))}`,
    '--hide-scrollbars', '--window-size=1100,1400', `--screenshot=${png}`, pathToFileURL(html).href,
  ];
  return new Promise((resolve, reject) => {
    execFile(browser, args, { timeout: 60_000 }, (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()));
  });
}

describe.skipIf(!chromium && !process.env.CI)('the HTML report in a browser', () => {
  it('renders to a PNG that shows the per-day chart and the failures', async () => {
    expect(chromium, 'chromium is not installed (.ci/run installs it)').toBeDefined();
    const h = (current = await harness());
    h.sandbox.faults.add({ label: 'download' }, { type: 'html' }, { times: 2 });
    const html = path.join(h.dir, 'report.html');
    const ran = await cli(['run', '--config', h.configPath, '--from', '2026-11-14', '--to', '2026-11-19', '--report-file', html], h.env(), h.dir);
    expect(ran.code).toBe(1);
    const png = path.join(h.dir, 'report.png');
    await screenshot(chromium!, html, png);
    if (process.env.ZCC_SCREENSHOT_COPY) copyFileSync(png, process.env.ZCC_SCREENSHOT_COPY);

    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    const pixels = readPng(readFileSync(png));
    expect({ width: pixels.width, height: pixels.height }).toEqual({ width: 1100, height: 1400 });
    // Not blank: plenty of non-white pixels and many distinct colours.
    let inked = 0;
    const colours = new Set<number>();
    for (let i = 0; i < pixels.rgb.length; i += 3) {
      const [r, g, b] = [pixels.rgb[i]!, pixels.rgb[i + 1]!, pixels.rgb[i + 2]!];
      if (r < 240 || g < 240 || b < 240) inked++;
      colours.add((r << 16) | (g << 8) | b);
    }
    expect(inked / (pixels.width * pixels.height)).toBeGreaterThan(0.05);
    expect(colours.size).toBeGreaterThan(50);
    // The chart is drawn: each kind with data has a solid area in its colour (bars, not just the legend swatch).
    for (const kind of ['recording', 'note', 'disposition', 'messaging_transcript'] as const) {
      expect(countColour(pixels, KIND_COLOURS[kind]!), kind).toBeGreaterThan(400);
    }
    // The failures' red in the outcome chart.
    expect(countColour(pixels, '#e15759')).toBeGreaterThan(20);
  });
});
