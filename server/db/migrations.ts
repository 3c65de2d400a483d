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
  {
    version: 2,
    name: 'schedule: bookings with history, resource holds, duty roster, reserved windows, notices',
    sql: `
      CREATE TABLE bookings (
        id TEXT PRIMARY KEY,
        date TEXT NOT NULL,
        room_id TEXT NOT NULL REFERENCES rooms(id),
        start_min INTEGER NOT NULL,
        end_min INTEGER NOT NULL CHECK (end_min > start_min),
        escort_before_min INTEGER NOT NULL,
        changeover_after_min INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('scheduled', 'escorting', 'in_room', 'in_session', 'finished', 'no_show', 'cancelled', 'displaced')),
        case_number TEXT NOT NULL,
        detainee_id TEXT NOT NULL,
        procuratorate_id TEXT NOT NULL,
        priority_class TEXT NOT NULL CHECK (priority_class IN ('district', 'higher', 'sibling')),
        prosecutor_id TEXT NOT NULL,
        lawyer_role TEXT NOT NULL CHECK (lawyer_role IN ('duty', 'defence')),
        lawyer_id TEXT NOT NULL,
        lawyer_named INTEGER NOT NULL,
        session_kind TEXT NOT NULL CHECK (session_kind IN ('arraignment', 'plea_hearing', 'bail_hearing')),
        requested_start_min INTEGER NOT NULL,
        duration_min INTEGER NOT NULL,
        pinned_room_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX bookings_day ON bookings(date, room_id, start_min);
      -- Every minute a booking holds of a resource (room:, detainee:, prosecutor:, lawyer:).
      -- The primary key makes double use of any resource impossible, whatever the caller.
      CREATE TABLE booking_holds (
        resource TEXT NOT NULL,
        date TEXT NOT NULL,
        minute INTEGER NOT NULL,
        booking_id TEXT NOT NULL REFERENCES bookings(id),
        PRIMARY KEY (resource, date, minute)
      ) WITHOUT ROWID;
      CREATE INDEX booking_holds_booking ON booking_holds(booking_id);
      CREATE TABLE booking_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        booking_id TEXT NOT NULL REFERENCES bookings(id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        before TEXT,
        after TEXT,
        note TEXT
      );
      CREATE INDEX booking_history_booking ON booking_history(booking_id, seq);
      CREATE TABLE duty_shifts (
        id TEXT PRIMARY KEY,
        lawyer_id TEXT NOT NULL,
        date TEXT NOT NULL,
        start_min INTEGER NOT NULL,
        end_min INTEGER NOT NULL CHECK (end_min > start_min)
      );
      CREATE INDEX duty_shifts_date ON duty_shifts(date);
      CREATE TABLE reserved_windows (
        id TEXT PRIMARY KEY,
        priority_class TEXT NOT NULL CHECK (priority_class IN ('higher', 'sibling')),
        date TEXT,
        weekday INTEGER CHECK (weekday BETWEEN 1 AND 7),
        start_min INTEGER NOT NULL,
        end_min INTEGER NOT NULL CHECK (end_min > start_min),
        room_id TEXT REFERENCES rooms(id),
        room_kind TEXT CHECK (room_kind IN ('interrogation', 'plea'))
      );
      CREATE TABLE notices (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        booking_id TEXT NOT NULL REFERENCES bookings(id),
        at TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX notices_booking ON notices(booking_id);
    `,
  },
  {
    version: 3,
    name: 'recordings: one per booking, hash-chained segments (originals and evidence video), gaps with typed causes',
    sql: `
      CREATE TABLE recordings (
        booking_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('recording', 'finished')),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        session_clock_origin TEXT NOT NULL
      );
      CREATE TABLE recording_segments (
        booking_id TEXT NOT NULL REFERENCES recordings(booking_id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        source TEXT NOT NULL CHECK (source IN ('original', 'evidence')),
        track TEXT NOT NULL,
        party_id TEXT,
        path TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        bytes INTEGER NOT NULL CHECK (bytes >= 0),
        sha256 TEXT NOT NULL,
        chain_hash TEXT NOT NULL,
        container TEXT NOT NULL,
        codec TEXT NOT NULL,
        PRIMARY KEY (booking_id, seq),
        UNIQUE (booking_id, path)
      ) WITHOUT ROWID;
      CREATE TABLE recording_gaps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        booking_id TEXT NOT NULL REFERENCES recordings(booking_id),
        source TEXT NOT NULL CHECK (source IN ('original', 'evidence')),
        track TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        cause TEXT NOT NULL
      );
      CREATE INDEX recording_gaps_booking ON recording_gaps(booking_id, started_at);
    `,
  },
  {
    version: 4,
    name: 'evidence: disc images and the append-only custody log',
    sql: `
      CREATE TABLE disc_images (
        booking_id TEXT NOT NULL,
        disc_no INTEGER NOT NULL CHECK (disc_no >= 1),
        disc_count INTEGER NOT NULL CHECK (disc_count >= disc_no),
        medium TEXT NOT NULL,
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        built_at TEXT NOT NULL,
        PRIMARY KEY (booking_id, disc_no)
      );
      CREATE TABLE custody_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        booking_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('image_built', 'burned', 'verified', 'verify_failed', 'sealed', 'handed_over')),
        disc_no INTEGER,
        copy TEXT CHECK (copy IN ('master', 'working')),
        image_sha256 TEXT,
        actor TEXT NOT NULL,
        handed_to TEXT,
        at TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX custody_events_booking ON custody_events(booking_id, seq);
      CREATE TRIGGER custody_events_no_update BEFORE UPDATE ON custody_events BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
      CREATE TRIGGER custody_events_no_delete BEFORE DELETE ON custody_events BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
    `,
  },
  {
    version: 5,
    name: 'accounts: organisations, users with roles, login sessions, API tokens, set-up links',
    sql: `
      CREATE TABLE organisations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_en TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('procuratorate', 'department', 'higher_procuratorate', 'sibling_procuratorate', 'law_office', 'legal_aid_office', 'detention_centre')),
        parent_id TEXT REFERENCES organisations(id)
      );
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        organisation_id TEXT NOT NULL REFERENCES organisations(id),
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL DEFAULT 1,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE user_roles (
        user_id TEXT NOT NULL REFERENCES users(id),
        role TEXT NOT NULL CHECK (role IN ('prosecutor', 'duty_lawyer', 'defence_lawyer', 'detention_staff', 'evidence_clerk', 'office', 'auditor', 'administrator')),
        PRIMARY KEY (user_id, role)
      ) WITHOUT ROWID;
      -- A login session: its id is the SHA-256 of the cookie's secret, so the file alone signs nobody in.
      CREATE TABLE login_sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        revoked_at TEXT,
        remote_address TEXT,
        user_agent TEXT
      );
      CREATE INDEX login_sessions_user ON login_sessions(user_id, revoked_at);
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        organisation_id TEXT REFERENCES organisations(id),
        created_by TEXT NOT NULL REFERENCES users(id),
        scopes TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
      );
      CREATE TABLE setup_links (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      );
    `,
  },
  {
    version: 6,
    name: 'keyed audit chain: meta, verified checkpoints',
    sql: `
      CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        mac TEXT NOT NULL,
        verified_at TEXT NOT NULL,
        tag TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'guest links: one booking, its window, one device at a time, secret and code kept as hashes',
    sql: `
      CREATE TABLE guest_links (
        id TEXT PRIMARY KEY,
        booking_id TEXT NOT NULL REFERENCES bookings(id),
        role TEXT NOT NULL CHECK (role IN ('defence_lawyer', 'bail_suspect')),
        guest_name TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        -- SHA-256 of the link's secret; HMAC of the short code under the secret: the file alone opens nothing.
        secret_hash TEXT NOT NULL UNIQUE,
        code_hash TEXT NOT NULL,
        wrong_codes INTEGER NOT NULL DEFAULT 0,
        locked_at TEXT,
        redeemed_at TEXT,
        -- SHA-256 of the bound device's cookie secret, and where it redeemed from.
        device_hash TEXT,
        device_address TEXT,
        device_agent TEXT,
        revoked_at TEXT,
        revoked_by TEXT
      );
      CREATE INDEX guest_links_booking ON guest_links(booking_id, role);
    `,
  },
  {
    version: 8,
    name: 'department heads and their allowances (a prosecutor may join a colleague\'s bookings)',
    sql: `
      CREATE TABLE department_heads (
        department_id TEXT PRIMARY KEY REFERENCES organisations(id),
        user_id TEXT NOT NULL REFERENCES users(id),
        appointed_at TEXT NOT NULL,
        appointed_by TEXT NOT NULL
      );
      -- The head allows one prosecutor of the department to join the bookings of its other prosecutors.
      CREATE TABLE department_allowances (
        id TEXT PRIMARY KEY,
        department_id TEXT NOT NULL REFERENCES organisations(id),
        grantee_id TEXT NOT NULL REFERENCES users(id),
        granted_by TEXT NOT NULL REFERENCES users(id),
        granted_at TEXT NOT NULL,
        expires_at TEXT,
        note TEXT,
        revoked_at TEXT,
        revoked_by TEXT
      );
      CREATE INDEX department_allowances_grantee ON department_allowances(grantee_id, revoked_at);
    `,
  },
];
