/**
 * Browser side of the dev sign-in: tokens from `POST /auth/dev-token` and the user's
 * thread list, kept in localStorage so a reload finds them again.
 */

/** Tokens live 12 h on the server; the page asks for a new one well before that. */
const TOKEN_REFRESH_MS = 60 * 60 * 1000;

const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,200}$/;

export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** `thread_<16 hex>`, the shape the demo agent backend uses. */
export function newThreadId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `thread_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class SignInError extends Error {}

/** Fetches dev tokens for one user; `token()` is handed to the SDK, which asks at every (re)connect. */
export class DevTokenSource {
  private cached: { token: string; at: number } | null = null;
  private pending: Promise<string> | null = null;

  constructor(
    private readonly baseUrl: string,
    readonly userId: string,
  ) {}

  /** Signs in once; rejects with a readable message when the server refuses. */
  async signIn(): Promise<void> {
    await this.token();
  }

  token = (): Promise<string> => {
    if (this.cached && Date.now() - this.cached.at < TOKEN_REFRESH_MS) {
      return Promise.resolve(this.cached.token);
    }
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = null;
    });
    return this.pending;
  };

  private async fetchToken(): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/auth/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: this.userId }),
      });
    } catch (error) {
      throw new SignInError(`cannot reach the server: ${String(error)}`);
    }
    if (response.status === 404) {
      throw new SignInError('dev sign-in is off on this server (NODE_ENV=production)');
    }
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      throw new SignInError(`sign-in refused (${response.status}): ${errorMessage(body)}`);
    }
    const token = isRecord(body) && typeof body.token === 'string' ? body.token : '';
    if (token === '') throw new SignInError('sign-in answered without a token');
    this.cached = { token, at: Date.now() };
    return token;
  }
}

/** The threads a user opened in this browser, most recent first. */
export class ThreadList {
  private readonly key: string;

  constructor(userId: string) {
    this.key = `thread-relay-demo:threads:${userId}`;
  }

  all(): string[] {
    try {
      const stored: unknown = JSON.parse(localStorage.getItem(this.key) ?? '[]');
      return Array.isArray(stored)
        ? stored.filter((id): id is string => typeof id === 'string' && isValidId(id))
        : [];
    } catch {
      return [];
    }
  }

  touch(threadId: string): string[] {
    const next = [threadId, ...this.all().filter((id) => id !== threadId)].slice(0, 20);
    localStorage.setItem(this.key, JSON.stringify(next));
    return next;
  }
}

const LAST_USER_KEY = 'thread-relay-demo:user';

export const lastUser = {
  get(): string | null {
    return localStorage.getItem(LAST_USER_KEY);
  },
  set(userId: string | null): void {
    if (userId === null) localStorage.removeItem(LAST_USER_KEY);
    else localStorage.setItem(LAST_USER_KEY, userId);
  },
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function errorMessage(body: unknown): string {
  if (isRecord(body) && isRecord(body.error) && typeof body.error.message === 'string') {
    return body.error.message;
  }
  if (isRecord(body) && typeof body.message === 'string') return body.message;
  return 'no details';
}
