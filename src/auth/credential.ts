import { isValidId } from '../ids.js';
import type { Authenticate, AuthRequest } from '../thread-relay.options.js';

export interface Credential {
  userId: string;
  /** Epoch ms; null when the credential does not expire. */
  expiresAt: number | null;
}

export type CredentialCheck = { ok: true; credential: Credential } | { ok: false; reason: string };

/**
 * Runs the application's `authenticate` on a token and checks what it answers: a valid
 * user id and, if given, an expiry still in the future. Never throws: a throwing hook is a
 * refusal like any other (the reason is for the log, never for the client).
 */
export async function checkCredential(
  authenticate: Authenticate,
  request: AuthRequest,
  now = Date.now(),
): Promise<CredentialCheck> {
  let user: Awaited<ReturnType<Authenticate>>;
  try {
    user = await authenticate(request);
  } catch {
    return { ok: false, reason: 'authenticate threw' };
  }
  if (!user || !isValidId(user.userId)) return { ok: false, reason: 'token rejected' };
  const { expiresAt } = user;
  if (expiresAt === undefined)
    return { ok: true, credential: { userId: user.userId, expiresAt: null } };
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
    return { ok: false, reason: 'authenticate returned an expiresAt that is not a number' };
  }
  if (expiresAt <= now) return { ok: false, reason: 'token expired' };
  return { ok: true, credential: { userId: user.userId, expiresAt } };
}
