import Ajv from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';

/**
 * Every environment variable the service reads, with its default. This schema is the only place a
 * variable is named; the README's configuration table documents the same keys. A secret is
 * `writeOnly`: it is read, never shown (logged or answered).
 */
/** One e-mail address, loosely: the SMTP server decides; this catches typos such as a missing `@` or a stray space. */
const ADDRESS = String.raw`\s*[^\s@,<>]+@[^\s@,<>]+\s*`;

// Node's timers cannot wait longer (a longer one fires at once): the most any *_MS setting may be.
const MAX_TIMER_MS = 2 ** 31 - 1;

const settings = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8000 },
    HOST: { type: 'string', default: '0.0.0.0' },
    LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    MAX_BODY_BYTES: { type: 'integer', minimum: 1024, default: 65536 },
    IMPORT_MAX_BYTES: { type: 'integer', minimum: 1024, default: 52428800 },
    // Each running client import holds a database connection while its body uploads: the pool keeps the rest.
    IMPORTS_AT_ONCE: { type: 'integer', minimum: 1, default: 2 },
    // Prometheus endpoints (`/metrics`), each on its own port, bound to HOST; 0 turns one off.
    API_METRICS_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 9463 },
    METRICS_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 9464 },
    SDK_METRICS_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 9465 },

    DATABASE_URL: { type: 'string', minLength: 1, writeOnly: true },
    DATABASE_POOL_MAX: { type: 'integer', minimum: 1, default: 10 },
    DATA_DIR: { type: 'string', default: '.data' },
    EMBEDDED_POSTGRES_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 5433 },

    TEMPORAL_ADDRESS: { type: 'string', minLength: 1 },
    TEMPORAL_NAMESPACE: { type: 'string', default: 'default' },
    TEMPORAL_TASK_QUEUE: { type: 'string', default: 'mailings' },
    // A secured cluster (Temporal Cloud, or a self-hosted one with TLS): the names the Temporal CLI reads too.
    TEMPORAL_API_KEY: { type: 'string', minLength: 1, writeOnly: true },
    TEMPORAL_TLS: { type: 'boolean' },
    TEMPORAL_TLS_CLIENT_CERT_PATH: { type: 'string', minLength: 1 },
    TEMPORAL_TLS_CLIENT_KEY_PATH: { type: 'string', minLength: 1 },
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: { type: 'string', minLength: 1 },
    TEMPORAL_TLS_SERVER_NAME: { type: 'string', minLength: 1 },
    TEMPORAL_DEV_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 7233 },
    TEMPORAL_UI_PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 8233 },
    TEMPORAL_CLI_PATH: { type: 'string', minLength: 1 },
    TEMPORAL_TEST_SERVER_PATH: { type: 'string', minLength: 1 },
    WORKFLOW_BUNDLE_PATH: { type: 'string', minLength: 1 },
    // At least the 40 workflow tasks a worker runs at once: each needs its workflow in the cache.
    WORKER_CACHED_WORKFLOWS: { type: 'integer', minimum: 40, default: 100 },

    SEND_API_URL: { type: 'string', format: 'uri', pattern: '^https?://', default: 'https://probe.fbrq.cloud/v1' },
    SEND_API_TOKEN: { type: 'string', minLength: 1, writeOnly: true },
    SEND_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: MAX_TIMER_MS, default: 10000 },
    SEND_CONCURRENCY: { type: 'integer', minimum: 1, default: 64 },
    SEND_RATE_LIMIT: { type: 'number', minimum: 0, default: 0 },
    SEND_BATCH_SIZE: { type: 'integer', minimum: 1, maximum: 10000, default: 2000 },
    SEND_PARALLEL_BATCHES: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    SEND_RETRY_INITIAL_MS: { type: 'integer', minimum: 10, maximum: MAX_TIMER_MS, default: 1000 },
    SEND_RETRY_MAX_MS: { type: 'integer', minimum: 10, maximum: MAX_TIMER_MS, default: 60000 },
    SEND_OUTAGE_PAUSE_MS: { type: 'integer', minimum: 10, maximum: MAX_TIMER_MS, default: 1000 },
    SEND_OUTAGE_PAUSE_MAX_MS: { type: 'integer', minimum: 10, maximum: MAX_TIMER_MS, default: 60000 },
    SEND_OUTAGE_THRESHOLD: { type: 'integer', minimum: 1, default: 20 },
    MAILING_STOP_WAIT_MS: { type: 'integer', minimum: 0, maximum: MAX_TIMER_MS, default: 30000 },
    FAKE_PROVIDER_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8010 },

    // The daily statistics e-mail: the Temporal Schedule `daily-stats` exists only while STATS_EMAIL_TO is set.
    STATS_EMAIL_AT: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', default: '08:00' },
    STATS_EMAIL_TZ: { type: 'string', format: 'time-zone', default: 'UTC' },
    STATS_EMAIL_TO: { type: 'string', pattern: `^${ADDRESS}(,${ADDRESS})*$` },
    STATS_EMAIL_FROM: { type: 'string', pattern: `^${ADDRESS}$`, default: 'mailing-service@localhost' },
    // smtp://user:password@host:port (STARTTLS when offered) or smtps:// (TLS from the start).
    SMTP_URL: { type: 'string', format: 'uri', pattern: '^smtps?://', writeOnly: true },

    // Who may call the API (README, "Signing in"): API keys always; OpenID Connect when an issuer is set.
    AUTH_DISABLED: { type: 'boolean', default: false },
    OIDC_ISSUER: { type: 'string', format: 'uri', pattern: '^https?://' },
    OIDC_CLIENT_ID: { type: 'string', minLength: 1 },
    OIDC_CLIENT_SECRET: { type: 'string', minLength: 1, writeOnly: true },
    OIDC_AUDIENCE: { type: 'string', minLength: 1 },
    OIDC_ROLE_CLAIM: { type: 'string', minLength: 1, default: 'roles' },
    OIDC_OPERATOR_VALUES: { type: 'string', minLength: 1, default: 'operator' },
    OIDC_VIEWER_VALUES: { type: 'string', minLength: 1, default: 'viewer' },
    SESSION_SECRET: { type: 'string', minLength: 32, writeOnly: true },
    PUBLIC_URL: { type: 'string', format: 'uri', pattern: '^https?://[^/]+$' },
    OIDC_DEV_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8020 },
  },
  // Only the keys above are read from the environment.
  additionalProperties: false,
} as const;

const schema = {
  ...settings,
  // An mTLS client certificate comes with its key.
  dependencies: {
    TEMPORAL_TLS_CLIENT_CERT_PATH: ['TEMPORAL_TLS_CLIENT_KEY_PATH'],
    TEMPORAL_TLS_CLIENT_KEY_PATH: ['TEMPORAL_TLS_CLIENT_CERT_PATH'],
    // Signing operators in needs the client registered at the issuer and a key for the session cookie.
    OIDC_ISSUER: ['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'SESSION_SECRET'],
  },
} as const;

/** The settings as loadConfig answers them: a key with a default is always there, the others may be absent. */
type Settings = FromSchema<typeof settings>;
export type Config = { [K in keyof Settings]: Settings[K] };

/** Every setting's name (the deployment files are checked against them: test/deploy.spec.ts). */
export const configKeys = Object.keys(schema.properties) as (keyof Config)[];

type Properties = typeof settings.properties;
type SecretKey = { [K in keyof Properties]: Properties[K] extends { writeOnly: true } ? K : never }[keyof Properties];

/** Values that must never be logged or returned (the settings marked `writeOnly`); the logger redacts them. */
export const secretKeys = Object.entries(settings.properties)
  .filter(([, setting]) => 'writeOnly' in setting && setting.writeOnly)
  .map(([key]) => key) as SecretKey[];

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addFormat('time-zone', isTimeZone);
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') values[key] = raw;
  }
  const validate = ajv.compile(schema);
  if (!validate(values)) {
    const problems = validate.errors!.map((e) => `${e.instancePath.slice(1)} ${e.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return values as unknown as Config;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function requireSetting<K extends keyof Config>(config: Config, key: K): NonNullable<Config[K]> {
  const value = config[key];
  if (value === undefined) throw new ConfigError(`${key} must be set`);
  return value!;
}

/** The sending limits a mailing workflow is started with (workflows get configuration as arguments). */
export function sendLimits(config: Config) {
  return {
    batchSize: config.SEND_BATCH_SIZE,
    parallelBatches: config.SEND_PARALLEL_BATCHES,
    outagePauseMs: config.SEND_OUTAGE_PAUSE_MS,
    outagePauseMaxMs: config.SEND_OUTAGE_PAUSE_MAX_MS,
  };
}

/** When and to whom the daily statistics e-mail goes; `recipients` is empty when STATS_EMAIL_TO is unset (no e-mail). */
export function statsEmailSettings(config: Config) {
  const [hour, minute] = config.STATS_EMAIL_AT.split(':').map(Number);
  return {
    hour,
    minute,
    // Spelled as the zone database does: Temporal's schedules refuse `europe/moscow`, which Intl accepts.
    timeZone: new Intl.DateTimeFormat('en', { timeZone: config.STATS_EMAIL_TZ }).resolvedOptions().timeZone,
    recipients: (config.STATS_EMAIL_TO ?? '').split(',').map((address) => address.trim()).filter(Boolean),
  };
}

/** Where browsers reach the API: PUBLIC_URL, else this machine at PORT. */
export const publicUrl = (config: Config) => config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
