/**
 * Configuration comes only from environment variables, validated once at start.
 * `loadConfig` is pure: main.ts hands it `process.env`, tests hand it a literal.
 */
export const DEFAULT_JWT_SECRET = 'dev-secret-change-in-production';

/** Secrets that are published (our default, the placeholder of docker-compose.yml): never in production. */
const KNOWN_SECRETS = new Set([DEFAULT_JWT_SECRET, 'change-me-to-a-long-random-secret']);
/** HS256 wants a key at least as long as its hash (RFC 7518, 3.2). */
const MIN_PRODUCTION_SECRET_BYTES = 32;

export interface Config {
  nodeEnv: string;
  host: string;
  port: number;
  /** Unset: start an embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  redisUrl: string | undefined;
  jwtSecret: string;
  tokenTtlMinutes: number;
  refreshTtlHours: number;
  logLevel: string;
  authRateLimitPerMinute: number;
  managementRateLimitPerMinute: number;
  evaluationRateLimitPerMinute: number;
  /** Calls a minute per caller of each sensitive GraphQL mutation (keys and tokens minted, secrets rotated). */
  sensitiveRateLimitPerMinute: number;
  requireHttps: boolean;
  /** graphql-ws keep-alive: every socket is pinged this often; one that has not answered the previous ping is dropped. */
  wsPingIntervalMs: number;
  /** Prefix of rate-limit counter keys (lets several deployments share one Redis). */
  rateLimitPrefix: string;
  /** Addresses/CIDRs of proxies whose X-Forwarded-* headers are trusted (comma separated). */
  trustProxy: string[];
  /** Where people reach this server (invitation links); default http://localhost:PORT. */
  publicUrl: string;
  /** Unset: no mail is sent (invitation links are only answered). */
  smtpUrl: string | undefined;
  smtpFrom: string;
  /** Bearer token `GET /metrics` (Prometheus) asks for; unset, the endpoint is open. */
  metricsToken: string | undefined;
  webhooks: WebhookSettings;
  /** What the operator should know at start (main.ts prints it): risky settings outside production. */
  warnings: string[];
}

/** How webhooks are delivered (docs/security.md lists each bound). */
export interface WebhookSettings {
  /** Deliver to loopback, private, link-local and metadata addresses too (tests, private networks). */
  allowPrivate: boolean;
  /** The first retry waits this long; each later one twice as long, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** An endpoint failing without a success for this long is disabled. */
  disableAfterSeconds: number;
  /** One attempt's budget: connect, send, and read the answer's head and first KB. */
  timeoutMs: number;
  /** Deliveries this node makes at once (each to a different endpoint). */
  concurrency: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env): Config {
  const nodeEnv = env.NODE_ENV?.trim() || 'development';
  const jwtSecret = env.JWT_SECRET || DEFAULT_JWT_SECRET;
  const warnings: string[] = [];
  if (nodeEnv === 'production') {
    if (KNOWN_SECRETS.has(jwtSecret)) {
      throw new ConfigError('JWT_SECRET', 'is a published default: set a random secret of 32 bytes or more');
    }
    if (Buffer.byteLength(jwtSecret) < MIN_PRODUCTION_SECRET_BYTES) {
      throw new ConfigError(
        'JWT_SECRET',
        `must be at least ${MIN_PRODUCTION_SECRET_BYTES} bytes when NODE_ENV=production`,
      );
    }
  } else if (KNOWN_SECRETS.has(jwtSecret)) {
    warnings.push(
      'JWT_SECRET is a published default: anyone can sign sessions for this server. Fine for a laptop; set a random secret of 32 bytes or more anywhere else (NODE_ENV=production refuses it).',
    );
  }
  if (jwtSecret.length < 16) throw new ConfigError('JWT_SECRET', 'must be at least 16 characters');

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  }
  const smtpUrl = env.SMTP_URL?.trim() || undefined;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL', 'must be an smtp:// or smtps:// URL');
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const publicUrl = (env.PUBLIC_URL?.trim() || `http://localhost:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(publicUrl))
    throw new ConfigError('PUBLIC_URL', 'must be an http:// or https:// URL');
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  const webhooks: WebhookSettings = {
    allowPrivate: boolean(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    retryBaseMs: integer(env, 'WEBHOOK_RETRY_BASE_MS', 10_000, 1, 3_600_000),
    retryMaxMs: integer(env, 'WEBHOOK_RETRY_MAX_MS', 4 * 3_600_000, 1, 24 * 3_600_000),
    disableAfterSeconds: integer(env, 'WEBHOOK_DISABLE_AFTER_SECONDS', 86_400, 1, 30 * 86_400),
    timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    concurrency: integer(env, 'WEBHOOK_CONCURRENCY', 4, 1, 64),
  };
  if (webhooks.allowPrivate) {
    warnings.push(
      'WEBHOOK_ALLOW_PRIVATE=true: webhooks may target loopback, private and cloud-metadata addresses. Fine for tests and private networks; anyone with webhook:manage can then make this server call them.',
    );
  }

  return {
    nodeEnv,
    host: env.HOST?.trim() || '0.0.0.0',
    port,
    databaseUrl,
    dataDir: env.DATA_DIR?.trim() || '.data',
    embeddedPgPort: integer(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
    redisUrl,
    jwtSecret,
    tokenTtlMinutes: integer(env, 'TOKEN_TTL_MINUTES', 60, 1, 60 * 24 * 30),
    refreshTtlHours: integer(env, 'REFRESH_TTL_HOURS', 168, 1, 24 * 365),
    logLevel,
    authRateLimitPerMinute: integer(env, 'AUTH_RATE_LIMIT', 20, 1, 1_000_000),
    managementRateLimitPerMinute: integer(env, 'MANAGEMENT_RATE_LIMIT', 300, 1, 1_000_000),
    evaluationRateLimitPerMinute: integer(env, 'EVALUATION_RATE_LIMIT', 1000, 1, 100_000_000),
    sensitiveRateLimitPerMinute: integer(env, 'SENSITIVE_RATE_LIMIT', 30, 1, 1_000_000),
    requireHttps: boolean(env, 'REQUIRE_HTTPS', false),
    wsPingIntervalMs: integer(env, 'WS_PING_INTERVAL_MS', 12_000, 100, 600_000),
    rateLimitPrefix: env.RATE_LIMIT_PREFIX?.trim() || 'vexil',
    trustProxy: (env.TRUST_PROXY ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    publicUrl,
    smtpUrl,
    smtpFrom: env.SMTP_FROM?.trim() || 'Vexil <vexil@localhost>',
    metricsToken: env.METRICS_TOKEN?.trim() || undefined,
    webhooks,
    warnings,
  };
}
