// TLS termination, Gunicorn's settings: certfile + keyfile turn it on for every bind; ca_certs and
// cert_reqs verify client certificates; ciphers narrows the cipher list. The arbiter checks the
// files before any worker is forked (and again on HUP); each worker reads them as it starts, so a
// HUP after replacing them serves the new ones.
import { readFileSync } from 'node:fs';
import type cryptoModule from 'node:crypto';
import { createRequire } from 'node:module';
import type tlsModule from 'node:tls';
import { ConfigError, type Settings } from '../config/settings.js';

// node:tls and node:crypto (OpenSSL's set-up) cost a process MiBs: loaded only where TLS is checked
// or served, not by every worker.
const require = createRequire(import.meta.url);
const loadTls = () => require('node:tls') as typeof tlsModule;
const loadCrypto = () => require('node:crypto') as typeof cryptoModule;

export type TlsSettings = Pick<Settings, 'certfile' | 'keyfile' | 'ca_certs' | 'cert_reqs' | 'ciphers'>;

/** Python's ssl.CERT_* values, as Gunicorn's cert_reqs takes them. */
export const CERT_NONE = 0;
export const CERT_OPTIONAL = 1;
export const CERT_REQUIRED = 2;

/** The scheme every bind serves: TLS is on when certfile and keyfile are set. */
export function schemeOf(s: TlsSettings): 'http' | 'https' {
  return s.certfile !== null && s.keyfile !== null ? 'https' : 'http';
}

/** A URL of the start-up log (`http://127.0.0.1:8000`) with the scheme the binds serve. */
export function withScheme(url: string, s: TlsSettings): string {
  return schemeOf(s) === 'https' && url.startsWith('http://') ? 'https://' + url.slice(7) : url;
}

function bad(setting: keyof TlsSettings, value: unknown, why: string): ConfigError {
  return new ConfigError(setting, `Invalid value for ${setting}: ${JSON.stringify(value)} (${why})`);
}

/** OpenSSL's reason, without its error code prefix (`error:0A00018F:SSL routines::ee key too small`). */
function reason(err: unknown): string {
  const msg = (err as Error).message;
  return msg.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '');
}

function readSetting(setting: 'certfile' | 'keyfile' | 'ca_certs', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'a directory, not a file'
            : e.message;
    throw bad(setting, file, why);
  }
}

/**
 * A TLS config that cannot serve, as a ConfigError naming the setting: only one of certfile and
 * keyfile, a file that cannot be read or is not PEM, a key that is encrypted or does not match the
 * certificate, a cipher list that selects nothing, client-certificate settings without TLS.
 */
export function checkTls(s: TlsSettings): void {
  if (s.certfile === null || s.keyfile === null) {
    if (s.certfile !== null) throw bad('keyfile', null, 'certfile is set: TLS needs both certfile and keyfile');
    if (s.keyfile !== null) throw bad('certfile', null, 'keyfile is set: TLS needs both certfile and keyfile');
    for (const name of ['ca_certs', 'ciphers'] as const) {
      if (s[name] !== null) throw bad(name, s[name], 'TLS is off: set certfile and keyfile');
    }
    if (s.cert_reqs !== CERT_NONE) throw bad('cert_reqs', s.cert_reqs, 'TLS is off: set certfile and keyfile');
    return;
  }
  const cert = readSetting('certfile', s.certfile);
  const key = readSetting('keyfile', s.keyfile);
  try {
    new (loadCrypto().X509Certificate)(cert);
  } catch (err) {
    throw bad('certfile', s.certfile, `not a PEM certificate: ${reason(err)}`);
  }
  try {
    // No passphrase is given: an encrypted key fails here rather than prompting in a worker.
    loadCrypto().createPrivateKey({ key, passphrase: '' });
  } catch (err) {
    const encrypted =
      /passphrase|decrypt/i.test((err as Error).message) || /ENCRYPTED/.test(key.toString('latin1', 0, 64));
    throw bad(
      'keyfile',
      s.keyfile,
      encrypted ? 'the key is encrypted: give an unencrypted key' : 'not a PEM private key',
    );
  }
  try {
    loadTls().createSecureContext({ cert, key });
  } catch (err) {
    const why = /mismatch/i.test((err as Error).message)
      ? `it is not the key of certfile ${JSON.stringify(s.certfile)}`
      : reason(err);
    throw bad('keyfile', s.keyfile, why);
  }
  if (s.ca_certs !== null) {
    const ca = readSetting('ca_certs', s.ca_certs);
    try {
      new (loadCrypto().X509Certificate)(ca);
    } catch (err) {
      throw bad('ca_certs', s.ca_certs, `not a PEM certificate: ${reason(err)}`);
    }
  }
  if (s.ciphers !== null) {
    try {
      loadTls().createSecureContext({ ciphers: s.ciphers });
    } catch (err) {
      throw bad('ciphers', s.ciphers, reason(err));
    }
  }
}

/**
 * Why the uws engine cannot serve this TLS config, or null. uWS asks for a client certificate only
 * when given a CA file, and then refuses one that does not verify but serves a client that sends
 * none: Gunicorn's CERT_OPTIONAL, never CERT_REQUIRED. Its cipher list is OpenSSL's classic one
 * (TLS 1.2 and below, as Gunicorn's): TLS 1.3 suites (`TLS_...`) alone select nothing there.
 */
export function uwsCannotServe(s: TlsSettings): string | null {
  if (schemeOf(s) === 'http') return null;
  if (s.cert_reqs === CERT_REQUIRED) return 'cert_reqs 2 (CERT_REQUIRED)';
  if (s.cert_reqs === CERT_OPTIONAL && s.ca_certs === null) return 'cert_reqs 1 without ca_certs';
  if (s.ciphers !== null && s.ciphers.split(':').every((c) => c === '' || c.startsWith('TLS_')))
    return 'ciphers naming TLS 1.3 suites only';
  return null;
}

/** Options for node:https's createServer; the files are read now (a worker, as it starts). */
export function nodeTlsOptions(s: TlsSettings): tlsModule.TlsOptions {
  const opts: tlsModule.TlsOptions = {
    cert: readFileSync(s.certfile!),
    key: readFileSync(s.keyfile!),
    requestCert: s.cert_reqs !== CERT_NONE,
    // CERT_OPTIONAL: a client without a certificate is served; one whose certificate does not
    // verify is cut as its handshake completes (see refuseUnverified).
    rejectUnauthorized: s.cert_reqs === CERT_REQUIRED,
  };
  if (s.ca_certs !== null) opts.ca = readFileSync(s.ca_certs);
  if (s.ciphers !== null) opts.ciphers = s.ciphers;
  return opts;
}

/** CERT_OPTIONAL on node:https: a certificate was sent and did not verify. */
export function refuseUnverified(socket: tlsModule.TLSSocket): void {
  if (!socket.authorized && socket.getPeerX509Certificate() !== undefined) socket.destroy();
}

export interface UwsTlsOptions {
  cert_file_name: string;
  key_file_name: string;
  ca_file_name?: string;
  ssl_ciphers?: string;
}

/** Options for uWS's SSLApp: it reads the files itself. */
export function uwsTlsOptions(s: TlsSettings): UwsTlsOptions {
  const opts: UwsTlsOptions = {
    cert_file_name: s.certfile!,
    key_file_name: s.keyfile!,
  };
  // A CA file makes uWS ask clients for a certificate: only when client certificates are wanted.
  if (s.ca_certs !== null && s.cert_reqs !== CERT_NONE) opts.ca_file_name = s.ca_certs;
  if (s.ciphers !== null) opts.ssl_ciphers = s.ciphers;
  return opts;
}

/** `certfile "a.pem", keyfile "b.pem"`...: what SSLApp was given, in the settings' names. */
export function describeUwsTls(o: UwsTlsOptions): string {
  const parts = [`certfile ${JSON.stringify(o.cert_file_name)}`, `keyfile ${JSON.stringify(o.key_file_name)}`];
  if (o.ca_file_name !== undefined) parts.push(`ca_certs ${JSON.stringify(o.ca_file_name)}`);
  if (o.ssl_ciphers !== undefined) parts.push(`ciphers ${JSON.stringify(o.ssl_ciphers)}`);
  return parts.join(', ');
}
