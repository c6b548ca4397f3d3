import { readFileSync } from 'node:fs';
import { ConfigError, requireSetting, type Config } from './index';

/** What `Connection.connect` (client) and `NativeConnection.connect` (worker) both take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

/**
 * How the API and the worker reach Temporal: plain gRPC by default (the dev server, a cluster inside
 * the same network), TLS when `TEMPORAL_TLS` is set or any TLS file or API key is given (the Temporal
 * CLI's rule), mTLS with a client certificate (Temporal Cloud, a self-hosted cluster with
 * `requireClientAuth`), an API key as a bearer token (Temporal Cloud). Files are read once, here.
 */
export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const address = requireSetting(config, 'TEMPORAL_ADDRESS');
  const certPath = config.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const keyPath = config.TEMPORAL_TLS_CLIENT_KEY_PATH;
  const caPath = config.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  const serverName = config.TEMPORAL_TLS_SERVER_NAME;
  const tlsFiles = certPath !== undefined || caPath !== undefined || serverName !== undefined;
  const apiKey = config.TEMPORAL_API_KEY;

  if (config.TEMPORAL_TLS === false && tlsFiles) {
    throw new ConfigError('TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CLIENT_CERT_PATH/SERVER_CA_CERT_PATH/SERVER_NAME');
  }
  const useTls = config.TEMPORAL_TLS ?? (tlsFiles || apiKey !== undefined);
  const options: TemporalConnectionOptions = { address };
  if (apiKey !== undefined) options.apiKey = apiKey;
  // Always explicit: the SDK turns TLS on by itself for an API key when `tls` is left out.
  if (!useTls) return { ...options, tls: false };
  if (!tlsFiles) return { ...options, tls: true };
  return {
    ...options,
    tls: {
      ...(serverName !== undefined && { serverNameOverride: serverName }),
      ...(caPath !== undefined && { serverRootCACertificate: readSetting(config, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH') }),
      ...(certPath !== undefined &&
        keyPath !== undefined && {
          clientCertPair: { crt: readSetting(config, 'TEMPORAL_TLS_CLIENT_CERT_PATH'), key: readSetting(config, 'TEMPORAL_TLS_CLIENT_KEY_PATH') },
        }),
    },
  };
}

type PathSetting = 'TEMPORAL_TLS_CLIENT_CERT_PATH' | 'TEMPORAL_TLS_CLIENT_KEY_PATH' | 'TEMPORAL_TLS_SERVER_CA_CERT_PATH';

function readSetting(config: Config, key: PathSetting): Buffer {
  const file = requireSetting(config, key);
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`${key}=${file} cannot be read: ${(error as Error).message}`);
  }
}
