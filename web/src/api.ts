// REST calls of the home page. Shapes follow the server's /api/site and
// /api/demo/join-links; HealthReport comes from the shared protocol module
// (types only).
import type { HealthReport } from '../../server/signalling/protocol';

export type RoomKind = 'interrogation' | 'plea';

export interface SiteRoom {
  id: string;
  kind: RoomKind;
  name: string;
  nameEn: string;
  status: 'active' | 'out_of_service';
  session: { sessionId: string; parties: number } | null;
  agent: { online: boolean; health: HealthReport | null };
}

export interface SiteView {
  name: string;
  rooms: SiteRoom[];
}

export interface DemoJoinLink {
  roomId: string;
  prosecutor: string;
  lawyer: string;
}

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

async function getJson(url: string, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: 'application/json' }, signal });
  if (!response.ok) throw new HttpError(response.status, `${url}: HTTP ${response.status}`);
  return response.json() as Promise<unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export async function fetchSite(signal?: AbortSignal): Promise<SiteView> {
  const body = await getJson('/api/site', signal);
  if (!isObject(body) || typeof body.name !== 'string' || !Array.isArray(body.rooms)) {
    throw new Error('/api/site: unexpected reply');
  }
  return body as unknown as SiteView;
}

/** The demo join links, or null when demo mode is off (404) or they cannot be read. */
export async function fetchDemoLinks(signal?: AbortSignal): Promise<DemoJoinLink[] | null> {
  try {
    const body = await getJson('/api/demo/join-links', signal);
    if (!isObject(body) || !Array.isArray(body.links)) return null;
    return body.links.filter(
      (l): l is DemoJoinLink =>
        isObject(l) && typeof l.roomId === 'string' && typeof l.prosecutor === 'string' && typeof l.lawyer === 'string'
    );
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    return null;
  }
}
