// REST of the administrator page (/admin): people (create with organisation and
// roles, change roles, reset password, lock, unlock, disable, logout
// everywhere), API tokens (issue with scopes, revoke) and room-agent credentials
// (rotate, revoke). The role, scope and organisation-kind lists come from the
// server (GET /api/admin/catalogue), never copied here. A secret (one-time
// password, token, agent credential) is in one reply only: the page shows it
// once. No Vue.
import type { Role, Scope } from '../../../server/access/roles';

export type { Role, Scope };

export interface Catalogue {
  roles: Role[];
  scopes: Scope[];
  organisationKinds: string[];
}

export interface AdminUser {
  id: string;
  username: string;
  displayName: string;
  organisationId: string;
  roles: Role[];
  mustChangePassword: boolean;
  disabled: boolean;
  locked: boolean;
}

export interface Organisation {
  id: string;
  name: string;
  nameEn: string;
  kind: string;
  parentId: string | null;
}

export interface ApiToken {
  id: string;
  name: string;
  organisationId: string | null;
  scopes: Scope[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface RoomAgent {
  roomId: string;
  name: string;
  nameEn: string;
  hasCredential: boolean;
  online: boolean;
  /** The addresses (IPs or CIDRs) its credential is bound to; empty: not bound. */
  addresses: string[];
}

export interface Department {
  id: string;
  name: string;
  nameEn: string;
  parentId: string | null;
  head: { userId: string; displayName: string } | null;
  prosecutors: Array<{ id: string; displayName: string }>;
}

export interface Me {
  id: string;
  username: string;
  displayName: string;
  roles: Role[];
  mustChangePassword: boolean;
}

/** A refused request: `code` is the server's error code ('last_administrator', 'conflict', …). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const enc = encodeURIComponent;

export class AdminClient {
  private csrfToken = '';

  private async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    let payload: unknown = null;
    if (text) {
      try {
        payload = JSON.parse(text) as unknown;
      } catch {
        payload = null;
      }
    }
    if (!response.ok) {
      const p = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
      throw new ApiError(response.status, typeof p['error'] === 'string' ? p['error'] : 'http', typeof p['message'] === 'string' ? p['message'] : `HTTP ${response.status}`);
    }
    return payload as T;
  }

  /** Who is signed in (and the CSRF token for writes); null when nobody is. */
  async me(): Promise<Me | null> {
    try {
      const out = await this.call<{ user: Me; csrfToken: string }>('GET', '/api/auth/me');
      this.csrfToken = out.csrfToken;
      return out.user;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }

  async logout(): Promise<void> {
    await this.call<null>('POST', '/api/auth/logout');
  }

  catalogue(): Promise<Catalogue> {
    return this.call('GET', '/api/admin/catalogue');
  }

  async users(): Promise<AdminUser[]> {
    return (await this.call<{ users: AdminUser[] }>('GET', '/api/admin/users')).users;
  }

  async organisations(): Promise<Organisation[]> {
    return (await this.call<{ organisations: Organisation[] }>('GET', '/api/admin/organisations')).organisations;
  }

  /** The new person and their one-time password (shown once). */
  createUser(input: { username: string; displayName: string; organisationId: string; roles: Role[] }): Promise<{ user: AdminUser; temporaryPassword: string }> {
    return this.call('POST', '/api/admin/users', input);
  }

  updateUser(id: string, patch: { displayName?: string; organisationId?: string; roles?: Role[]; disabled?: boolean; locked?: boolean }): Promise<AdminUser> {
    return this.call('PATCH', `/api/admin/users/${enc(id)}`, patch);
  }

  /** A new one-time password (shown once); every login session of the person ends. */
  async resetPassword(id: string): Promise<string> {
    return (await this.call<{ temporaryPassword: string }>('POST', `/api/admin/users/${enc(id)}/reset-password`)).temporaryPassword;
  }

  async logoutEverywhere(id: string): Promise<number> {
    return (await this.call<{ sessions: number }>('POST', `/api/admin/users/${enc(id)}/logout-everywhere`)).sessions;
  }

  async tokens(): Promise<ApiToken[]> {
    return (await this.call<{ tokens: ApiToken[] }>('GET', '/api/admin/tokens')).tokens;
  }

  /** The token itself is in this reply only. */
  issueToken(input: { name: string; scopes: Scope[]; organisationId?: string | null; expiresInDays?: number }): Promise<{ token: string; view: ApiToken }> {
    return this.call('POST', '/api/admin/tokens', input);
  }

  async revokeToken(id: string): Promise<void> {
    await this.call<null>('DELETE', `/api/admin/tokens/${enc(id)}`);
  }

  async departments(): Promise<Department[]> {
    return (await this.call<{ departments: Department[] }>('GET', '/api/admin/departments')).departments;
  }

  /** Allowances the previous head granted lapse with the change. */
  async appointHead(departmentId: string, userId: string): Promise<void> {
    await this.call('PUT', `/api/admin/departments/${enc(departmentId)}/head`, { userId });
  }

  async removeHead(departmentId: string): Promise<void> {
    await this.call<null>('DELETE', `/api/admin/departments/${enc(departmentId)}/head`);
  }

  async agents(): Promise<RoomAgent[]> {
    return (await this.call<{ rooms: RoomAgent[] }>('GET', '/api/rooms/agent-credentials')).rooms;
  }

  /** The new credential is in this reply only; the old one stops working and the live agent is dropped. */
  async rotateAgent(roomId: string): Promise<string> {
    return (await this.call<{ credential: string }>('POST', `/api/rooms/${enc(roomId)}/agent-credential`)).credential;
  }

  /** Binds the room's agent credential to these addresses (empty: unbound); a live agent from elsewhere is dropped. */
  async bindAgent(roomId: string, addresses: string[]): Promise<string[]> {
    return (await this.call<{ addresses: string[] }>('PUT', `/api/rooms/${enc(roomId)}/agent-address`, { addresses })).addresses;
  }

  async revokeAgent(roomId: string): Promise<void> {
    await this.call<null>('DELETE', `/api/rooms/${enc(roomId)}/agent-credential`);
  }
}
