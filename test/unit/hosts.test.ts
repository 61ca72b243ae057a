// Where Zoom's access token may go: exact hosts, https (plain http only to loopback), and for the WebSocket the same
// rule over wss/ws.
import { describe, expect, it } from 'vitest';
import { socketTokenMayGoTo, tokenMayGoTo } from '../../src/zoom/hosts.js';

const API = 'https://api.zoom.us/v2';
const ZOOM = ['api.zoom.us', 'zoom.us'];

describe('tokenMayGoTo', () => {
  it('allows https to a listed host, and plain http only to a loopback host', () => {
    expect(tokenMayGoTo(new URL('https://zoom.us/rec/download/x'), ZOOM, API)).toBe(true);
    expect(tokenMayGoTo(new URL('https://api.zoom.us/v2/contact_center/recording/download/x'), ['zoom.us'], API)).toBe(true);
    expect(tokenMayGoTo(new URL('http://127.0.0.1:9000/x'), ['127.0.0.1:9000'], API)).toBe(true);
  });

  it.each([
    ['plain http to a listed host that is not loopback', 'http://zoom.us/rec/download/x'],
    ['plain http to the API host', 'http://api.zoom.us/v2/x'],
    ['a look-alike host', 'https://zoom.us.evil.example/x'],
    ['credentials that name the host', 'https://zoom.us@evil.example/x'],
    ['another port of a listed host', 'https://zoom.us:8443/x'],
    ['a loopback host that is not listed', 'http://127.0.0.1:9001/x'],
  ])('refuses %s', (_case, url) => {
    expect(tokenMayGoTo(new URL(url), [...ZOOM, '127.0.0.1:9000'], API)).toBe(false);
  });
});

describe('socketTokenMayGoTo', () => {
  it("allows Zoom's WebSocket host over wss, and ws only to a listed loopback host", () => {
    expect(socketTokenMayGoTo(new URL('wss://ws.zoom.us/ws'), ZOOM, API)).toBe(true);
    expect(socketTokenMayGoTo(new URL('ws://127.0.0.1:9000/ws'), ['127.0.0.1:9000'], API)).toBe(true);
  });

  it.each([
    ['ws to Zoom', 'ws://ws.zoom.us/ws'],
    ['wss to another host', 'wss://events.example.com/ws'],
    ['ws to a host that is not loopback', 'ws://192.0.2.7:9000/ws'],
    ['https instead of wss', 'https://ws.zoom.us/ws'],
  ])('refuses %s', (_case, url) => {
    expect(socketTokenMayGoTo(new URL(url), [...ZOOM, '192.0.2.7:9000'], API)).toBe(false);
  });
});
