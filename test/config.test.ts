import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_JWT_SECRET, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      jwtSecret: DEFAULT_JWT_SECRET,
      tokenTtlMinutes: 60,
      refreshTtlHours: 168,
      logLevel: 'info',
    });
    expect(c.databaseUrl).toBeUndefined();
  });

  it('refuses the default JWT secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-very-long-production-secret-of-40-bytes' }).nodeEnv,
    ).toBe('production');
  });

  it('refuses in production any published secret, and any shorter than 32 bytes (issue 06, item 7)', () => {
    for (const secret of [DEFAULT_JWT_SECRET, 'change-me-to-a-long-random-secret', 'x'.repeat(31), 'é'.repeat(15)]) {
      expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret }), secret).toThrow(/JWT_SECRET/);
    }
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'é'.repeat(16) }).warnings).toEqual([]);
  });

  it('keeps the default outside production, with a warning naming the risk', () => {
    expect(loadConfig({}).warnings).toEqual([expect.stringMatching(/JWT_SECRET is a published default/)]);
    expect(loadConfig({ JWT_SECRET: 'change-me-to-a-long-random-secret' }).warnings).toHaveLength(1);
    expect(loadConfig({ JWT_SECRET: 'a-private-secret-of-our-own' }).warnings).toEqual([]);
  });

  it('docker-compose.yml requires JWT_SECRET instead of falling back to a placeholder', () => {
    const compose = readFileSync('docker-compose.yml', 'utf8');
    expect(compose).toMatch(/JWT_SECRET: \$\{JWT_SECRET:\?/);
    expect(compose).not.toMatch(/change-me-to-a-long-random-secret/);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['TOKEN_TTL_MINUTES', '0'],
    ['REFRESH_TTL_HOURS', '-5'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://x'],
    ['REQUIRE_HTTPS', 'maybe'],
  ])('names the bad variable %s=%s', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toContain(name);
  });
});
