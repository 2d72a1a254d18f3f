import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The organization SSO secret is an HMAC key, so it must be kept, not just its hash. It is
 * stored sealed with AES-256-GCM under a key derived (HKDF) from the server's JWT_SECRET. Other
 * HMAC keys kept the same way (webhook signing secrets) name their own `purpose`, so each kind
 * is sealed under a key of its own.
 */
function sealingKey(serverSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, 'vexil', purpose, 32));
}

const SSO_SECRETS = 'sso-secret-sealing';

export function generateSsoSecret(): string {
  return `vx_sso_${randomBytes(32).toString('base64url')}`;
}

export function sealSecret(secret: string, serverSecret: string, purpose = SSO_SECRETS): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(serverSecret, purpose), iv);
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
}

export function openSecret(sealed: string, serverSecret: string, purpose = SSO_SECRETS): string | null {
  try {
    const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(serverSecret, purpose), iv!);
    decipher.setAuthTag(tag!);
    return Buffer.concat([decipher.update(data!), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
