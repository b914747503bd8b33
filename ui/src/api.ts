// REST over fetch: Bearer access token, one refresh on 401, RFC 9457 problems as ApiError.
import { ApiError, type ApiClient, type Problem } from "./context";

const API_ROOT = "/api/v1";
const TOKENS_KEY = "grekko.tokens";

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** Tokens live in sessionStorage: a reload (or a server restart) keeps the session, a new tab does not. */
export class TokenStore {
  get(): Tokens | null {
    const text = sessionStorage.getItem(TOKENS_KEY);
    if (!text) return null;
    try {
      const value = JSON.parse(text) as Partial<Tokens>;
      if (typeof value.access_token === "string" && typeof value.refresh_token === "string") {
        return { access_token: value.access_token, refresh_token: value.refresh_token };
      }
    } catch {
      /* a damaged entry is no session */
    }
    return null;
  }

  set(tokens: Tokens): void {
    const { access_token, refresh_token } = tokens;
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token, refresh_token }));
  }

  clear(): void {
    sessionStorage.removeItem(TOKENS_KEY);
  }
}

type Query = Record<string, string | number | undefined | string[]>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  auth?: boolean;
}

export class HttpApiClient implements ApiClient {
  private refreshing: Promise<boolean> | null = null;
  private sessionEndHandlers: Array<() => void> = [];

  constructor(readonly tokens: TokenStore) {}

  /** Called once the session cannot be renewed (refresh refused): the app shows the login. */
  onSessionEnd(handler: () => void): void {
    this.sessionEndHandlers.push(handler);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>("POST", path, { body, headers });
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }
  del<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path, {});
  }

  /** A call without credentials (login, SIWE nonce). */
  publicRequest<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, { body, auth: false });
  }

  async request<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const auth = options.auth ?? true;
    let response = await this.send(method, path, options, auth);
    if (response.status === 401 && auth && (await this.refresh())) {
      response = await this.send(method, path, options, auth);
    }
    if (response.status === 401 && auth) this.endSession();
    if (!response.ok) throw new ApiError(await readProblem(response));
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Rotate the refresh token; concurrent callers share one rotation (a reused token is refused). */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.rotate().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async logout(): Promise<void> {
    const tokens = this.tokens.get();
    this.tokens.clear();
    if (!tokens) return;
    try {
      await this.request("POST", "/auth/logout", {
        body: { refresh_token: tokens.refresh_token },
        auth: false,
      });
    } catch {
      /* the session is gone locally either way */
    }
  }

  private async rotate(): Promise<boolean> {
    const tokens = this.tokens.get();
    if (!tokens) return false;
    try {
      const pair = await this.request<Tokens>("POST", "/auth/refresh", {
        body: { refresh_token: tokens.refresh_token },
        auth: false,
      });
      this.tokens.set(pair);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.problem.status === 0) return false;
      this.tokens.clear();
      return false;
    }
  }

  private endSession(): void {
    this.tokens.clear();
    for (const handler of this.sessionEndHandlers) handler();
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    auth: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const access = auth ? this.tokens.get()?.access_token : undefined;
    if (access) headers["Authorization"] = `Bearer ${access}`;
    try {
      return await fetch(API_ROOT + path + queryString(options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError({
        status: 0,
        code: "network_error",
        title: "Network error",
        detail: "The server cannot be reached",
      });
    }
  }
}

function queryString(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The RFC 9457 body of an error answer, or a problem made from the status line. */
export async function readProblem(response: Response): Promise<Problem> {
  const fallback: Problem = {
    status: response.status,
    code: `http_${response.status}`,
    title: response.statusText || `HTTP ${response.status}`,
    detail: "",
  };
  try {
    const body = (await response.json()) as Record<string, unknown>;
    return {
      status: typeof body.status === "number" ? body.status : response.status,
      code: typeof body.code === "string" ? body.code : fallback.code,
      title: typeof body.title === "string" ? body.title : fallback.title,
      detail: typeof body.detail === "string" ? body.detail : validationDetail(body.errors),
    };
  } catch {
    return fallback;
  }
}

function validationDetail(errors: unknown): string {
  if (!Array.isArray(errors)) return "";
  return errors
    .slice(0, 3)
    .map((e: { loc?: unknown[]; msg?: string }) => {
      const where = Array.isArray(e.loc) ? e.loc.slice(1).join(".") : "";
      return where ? `${where}: ${e.msg ?? ""}` : String(e.msg ?? "");
    })
    .join("; ");
}
