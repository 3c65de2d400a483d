import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../server/config.js';

describe('config', () => {
  it('describes the site by default: 6 interrogation rooms and 4 plea workrooms', () => {
    const c = loadConfig({ env: {} });
    expect(c.site.rooms.filter((r) => r.kind === 'interrogation')).toHaveLength(6);
    expect(c.site.rooms.filter((r) => r.kind === 'plea')).toHaveLength(4);
    expect(c.site.rooms.every((r) => /[\u4e00-\u9fff]/.test(r.name))).toBe(true);
  });

  it('announces a usable address when listening on every address', () => {
    const c = loadConfig({ env: { PLEA_LISTEN_IP: '0.0.0.0' } });
    expect(c.media.announcedAddress).not.toBe('');
    expect(c.media.announcedAddress).not.toBe('0.0.0.0');
    expect(loadConfig({ env: { PLEA_LISTEN_IP: '127.0.0.1' } }).media.announcedAddress).toBe('');
  });

  it('takes environment overrides', () => {
    const c = loadConfig({ env: { PLEA_PORT: '9000', PLEA_SYNTHETIC_AGENTS: 'off', PLEA_ANNOUNCED_ADDRESS: '10.1.2.3' } });
    expect(c.http.port).toBe(9000);
    expect(c.demo.syntheticAgents).toBe(false);
    expect(c.media.announcedAddress).toBe('10.1.2.3');
  });

  it.each([
    [{ PLEA_PORT: 'eighty' }, 'http.port'],
    [{ PLEA_PORT: '70000' }, 'http.port'],
    [{ PLEA_SYNTHETIC_AGENTS: 'maybe' }, 'demo.syntheticAgents'],
    [{ PLEA_LOG_LEVEL: 'loud' }, 'logLevel'],
    [{ PLEA_RTC_MIN_PORT: '50000', PLEA_RTC_MAX_PORT: '40000' }, 'media.rtcMinPort'],
  ])('stops on %j naming %s', (env, field) => {
    try {
      loadConfig({ env });
      expect.unreachable('config should have been refused');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
      expect((err as Error).message).toContain(field);
    }
  });

  it('names the field inside a room and refuses duplicate ids', () => {
    const base = loadConfig({ env: {} });
    const rooms = base.site.rooms.map((r) => ({ ...r }));
    expect(() => loadConfig({ env: {}, overrides: { site: { ...base.site, rooms: [{ ...rooms[0], kind: 'cell' }] } } })).toThrow(/site\.rooms\[0\]\.kind/);
    expect(() => loadConfig({ env: {}, overrides: { site: { ...base.site, rooms: [rooms[0], rooms[0]] } } })).toThrow(/site\.rooms\[1\]\.id/);
    expect(() => loadConfig({ env: {}, overrides: { http: { ...base.http, extra: true } } })).toThrow(/http\.extra/);
  });
});
