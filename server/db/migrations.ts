// Versioned schema migrations. Append only: never edit a migration that has shipped.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'rooms, sessions, parties, agent health, audit trail',
    sql: `
      CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('interrogation', 'plea')),
        name TEXT NOT NULL,
        name_en TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'out_of_service'))
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id),
        booking_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        close_reason TEXT
      );
      CREATE INDEX sessions_room ON sessions(room_id, status);
      CREATE TABLE parties (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        role TEXT NOT NULL CHECK (role IN ('room', 'prosecutor', 'lawyer', 'guest')),
        display_name TEXT NOT NULL,
        remote_address TEXT,
        joined_at TEXT NOT NULL,
        left_at TEXT,
        leave_reason TEXT
      );
      CREATE INDEX parties_session ON parties(session_id);
      CREATE TABLE agent_health (
        room_id TEXT PRIMARY KEY REFERENCES rooms(id),
        reported_at TEXT NOT NULL,
        report TEXT NOT NULL
      );
      CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
    `,
  },
];
