// REST of the evidence clerk page (/evidence): sign-in (cookie + CSRF token),
// finished bookings with their recording and disc state, disc builds, verify
// and burn as jobs with progress, sealing, hand-over, custody, labels, the
// evidence video. Reply shapes are the server's schemas (evidence-api.ts); what may be
// done now comes from the server (GET …/actions), never worked out here. No Vue.
import type { Static } from 'typebox';
import type { EvidenceActions, ActionBlock } from '../../../recordings/disc/clerk-actions';
import type * as api from '../../../recordings/disc/evidence-api';

export type { EvidenceActions, ActionBlock };
export type DiscActions = EvidenceActions['discs'][number];
export type ActionState = DiscActions['verify'];

// The reply shapes are the server's own schemas (recordings/disc/evidence-api.ts).
export type EvidenceState = Static<typeof api.EvidenceState>;
export type EvidenceSummary = Static<typeof api.Summary>;
export type RecordingState = EvidenceSummary['recordingState'];
export type DiscImage = Static<typeof api.DiscImage>;
export type Drive = Static<typeof api.Drive>;
export type EvidenceList = Static<typeof api.EvidenceList>;
export type EvidenceJob = Static<typeof api.Job>;
export type JobKind = EvidenceJob['kind'];
export type JobState = EvidenceJob['state'];
export type CustodyEvent = Static<typeof api.CustodyEvent>;
export type CustodyKind = CustodyEvent['kind'];
export type DiscCopy = Static<typeof api.Copy>;
export type Custody = Static<typeof api.Custody>;
export const EVIDENCE_STATES: readonly EvidenceState[] = ['recording', 'complete', 'with_gaps', 'rendering', 'ready', 'burned', 'sealed'];
export const CUSTODY_KINDS: readonly CustodyKind[] = ['image_built', 'burned', 'verified', 'verify_failed', 'sealed', 'handed_over'];

export interface SignedInUser {
  id: string;
  username: string;
  displayName: string;
  roles: string[];
  mustChangePassword: boolean;
}

/** A refused request: `code` is the server's error code ('no_drive', 'not_burned', 'unauthorized', …). */
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

const enc = encodeURIComponent;

export class EvidenceClient {
  /** The login session's CSRF token, sent on every write (from login or GET /api/auth/me). */
  private csrfToken = '';

  private async call<T>(method: 'GET' | 'POST', url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
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
      const p = isObject(payload) ? payload : {};
      throw new ApiError(
        response.status,
        typeof p.error === 'string' ? p.error : 'http',
        typeof p.message === 'string' ? p.message : `${method} ${url}: HTTP ${response.status}`
      );
    }
    return payload as T;
  }

  // Sign-in ------------------------------------------------------------------

  /** Who is signed in, or null. */
  async me(): Promise<SignedInUser | null> {
    try {
      const r = await this.call<{ user: SignedInUser; csrfToken: string }>('GET', '/api/auth/me');
      this.csrfToken = r.csrfToken;
      return r.user;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) return null;
      throw error;
    }
  }

  async login(username: string, password: string): Promise<SignedInUser> {
    const r = await this.call<{ user: SignedInUser; csrfToken: string }>('POST', '/api/auth/login', { username, password });
    this.csrfToken = r.csrfToken;
    return r.user;
  }

  async logout(): Promise<void> {
    await this.call('POST', '/api/auth/logout');
    this.csrfToken = '';
  }

  // Evidence -----------------------------------------------------------------

  list(signal?: AbortSignal): Promise<EvidenceList> {
    return this.call<EvidenceList>('GET', '/api/evidence/bookings', undefined, signal);
  }

  booking(id: string, signal?: AbortSignal): Promise<{ booking: EvidenceSummary; jobs: EvidenceJob[] }> {
    return this.call('GET', `/api/evidence/bookings/${enc(id)}`, undefined, signal);
  }

  actions(id: string, signal?: AbortSignal): Promise<EvidenceActions> {
    return this.call<EvidenceActions>('GET', `/api/evidence/bookings/${enc(id)}/actions`, undefined, signal);
  }

  custody(id: string, signal?: AbortSignal): Promise<Custody> {
    return this.call<Custody>('GET', `/api/evidence/bookings/${enc(id)}/custody`, undefined, signal);
  }

  job(jobId: string, signal?: AbortSignal): Promise<EvidenceJob> {
    return this.call<EvidenceJob>('GET', `/api/evidence/jobs/${enc(jobId)}`, undefined, signal);
  }

  build(id: string, medium?: string): Promise<EvidenceJob> {
    return this.call<EvidenceJob>('POST', `/api/evidence/bookings/${enc(id)}/build`, medium ? { medium } : {});
  }

  verify(id: string, discNo: number): Promise<EvidenceJob> {
    return this.call<EvidenceJob>('POST', `/api/evidence/bookings/${enc(id)}/discs/${discNo}/verify`);
  }

  burn(id: string, discNo: number, copy: DiscCopy, drive: string): Promise<EvidenceJob> {
    return this.call<EvidenceJob>('POST', `/api/evidence/bookings/${enc(id)}/discs/${discNo}/burn`, { copy, drive });
  }

  seal(id: string, discNo: number, witness: string): Promise<CustodyEvent> {
    return this.call<CustodyEvent>('POST', `/api/evidence/bookings/${enc(id)}/discs/${discNo}/seal`, { witness });
  }

  handOver(id: string, discNo: number, input: { copy: DiscCopy; to: string; note?: string }): Promise<CustodyEvent> {
    return this.call<CustodyEvent>('POST', `/api/evidence/bookings/${enc(id)}/discs/${discNo}/hand-over`, input);
  }

  labelUrl(id: string, discNo: number, copy: DiscCopy): string {
    return `/api/evidence/bookings/${enc(id)}/discs/${discNo}/label?copy=${copy}`;
  }

  videoUrl(id: string): string {
    return `/api/evidence/bookings/${enc(id)}/evidence-video`;
  }

  /**
   * Follows a job until it ends; `onProgress` sees every state. The server
   * pushes the job's progress (server-sent events, GET /api/evidence/jobs/:id/events);
   * where the stream cannot be had or breaks off, the job is polled from there.
   * Resolves with the ended job.
   */
  async follow(job: EvidenceJob, onProgress: (job: EvidenceJob) => void, signal?: AbortSignal, everyMs = 300): Promise<EvidenceJob> {
    let current = job;
    onProgress(current);
    const running = (j: EvidenceJob) => j.state === 'queued' || j.state === 'running';
    if (running(current) && typeof EventSource !== 'undefined') {
      const pushed = await this.followPushed(job, onProgress, signal);
      if (pushed) current = pushed;
    }
    while (running(current)) {
      if (signal?.aborted) return current;
      await new Promise((r) => setTimeout(r, everyMs));
      if (signal?.aborted) return current;
      current = await this.job(job.id, signal);
      onProgress(current);
    }
    return current;
  }

  /** The pushed progress of a job: its last state when the stream ended, aborted or broke off (null: nothing came). */
  private followPushed(job: EvidenceJob, onProgress: (job: EvidenceJob) => void, signal?: AbortSignal): Promise<EvidenceJob | null> {
    return new Promise((resolve) => {
      const source = new EventSource(`/api/evidence/jobs/${enc(job.id)}/events`);
      let last: EvidenceJob | null = null;
      const finish = () => {
        source.close();
        signal?.removeEventListener('abort', finish);
        resolve(last);
      };
      signal?.addEventListener('abort', finish);
      source.onmessage = (ev: MessageEvent<string>) => {
        last = JSON.parse(ev.data) as EvidenceJob;
        onProgress(last);
        if (last.state === 'done' || last.state === 'failed') finish();
      };
      source.onerror = finish;
    });
  }
}
