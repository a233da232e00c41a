-- labgate schema, whole and current: applied to an empty database. Each change after the first
-- release is also a numbered migration in migrations/ (see src/db.rs); a test keeps the two equal.
-- Times are unix seconds (INTEGER). The version lives in PRAGMA user_version.
-- Columns a migration added with ALTER TABLE sit on the table's last line (", name TYPE"), as
-- SQLite writes them into the stored statement, so fresh and migrated schemas read the same.
-- users.last_login: last sign-in; users.deleted / deployments.deleted: when an admin deleted it
-- (the row stays for history); instances.end_reason: why an admin ended the booking.
-- sessions.user_agent / last_seen: the browser and its last use, for the Account page's list.
-- users.must_change: an admin set the password; the member must choose their own first.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL
, last_login INTEGER, deleted INTEGER, must_change INTEGER NOT NULL DEFAULT 0);

-- Session ids are random 256-bit values; only their SHA-256 is stored.
CREATE TABLE IF NOT EXISTS sessions (
    id_hash  TEXT PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    expires  INTEGER NOT NULL,
    address  TEXT
, user_agent TEXT, last_seen INTEGER);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);

-- The security log shown on /account.
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '',
    address TEXT
);
CREATE INDEX IF NOT EXISTS events_user ON events(user_id, id);

-- Admin-set limits and other small server-wide values.
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ssh_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    bits         INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL UNIQUE,
    public_key   TEXT NOT NULL,
    comment      TEXT NOT NULL DEFAULT '',
    created      INTEGER NOT NULL,
    last_used    INTEGER,
    last_used_on TEXT,
    UNIQUE (user_id, name)
);

-- API tokens. The token text is never stored: it is re-signed from these claims.
CREATE TABLE IF NOT EXISTS tokens (
    id        TEXT PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    note      TEXT NOT NULL DEFAULT '',
    scope     TEXT NOT NULL CHECK (scope IN ('rw', 'ro')),
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    sha256    TEXT NOT NULL UNIQUE,
    revoked   INTEGER,
    last_used INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id);

-- Robots ("workspace deployments").
CREATE TABLE IF NOT EXISTS deployments (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    region          TEXT NOT NULL DEFAULT '',
    ssh_host        TEXT NOT NULL,
    ssh_port        INTEGER NOT NULL DEFAULT 22,
    ssh_user        TEXT NOT NULL DEFAULT 'root',
    hostkeys        TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1,
    credential_hash TEXT NOT NULL,
    created         INTEGER NOT NULL
, deleted INTEGER);

-- A user's time-boxed booking of one robot, from `starts` (possibly in the future) to `expires`.
CREATE TABLE IF NOT EXISTS instances (
    id            TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status        TEXT NOT NULL,
    created       INTEGER NOT NULL,
    expires       INTEGER NOT NULL,
    ended         INTEGER,
    private_key   TEXT,
    end_reason    TEXT,
    starts        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS instances_user ON instances(user_id);
CREATE INDEX IF NOT EXISTS instances_robot_window ON instances(deployment_id, expires);
-- A booking runs over [starts, expires). Live bookings of one robot never overlap, enforced by
-- the database itself (writes are serialised by BEGIN IMMEDIATE, so the check cannot race).
CREATE TRIGGER IF NOT EXISTS instances_no_overlap_insert
BEFORE INSERT ON instances
WHEN NEW.status <> 'TERMINATED' AND (NEW.expires <= NEW.starts OR EXISTS (
    SELECT 1 FROM instances o
    WHERE o.deployment_id = NEW.deployment_id AND o.status <> 'TERMINATED'
      AND o.starts < NEW.expires AND NEW.starts < o.expires))
BEGIN
    SELECT RAISE(ABORT, 'booking overlaps another booking of this robot');
END;

CREATE TRIGGER IF NOT EXISTS instances_no_overlap_update
BEFORE UPDATE OF deployment_id, status, starts, expires ON instances
WHEN NEW.status <> 'TERMINATED' AND EXISTS (
    SELECT 1 FROM instances o
    WHERE o.deployment_id = NEW.deployment_id AND o.status <> 'TERMINATED'
      AND o.id <> NEW.id AND o.starts < NEW.expires AND NEW.starts < o.expires)
BEGIN
    SELECT RAISE(ABORT, 'booking overlaps another booking of this robot');
END;


-- The public keys allowed to log in for an instance.
CREATE TABLE IF NOT EXISTS instance_keys (
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ssh_key_id  INTEGER REFERENCES ssh_keys(id) ON DELETE SET NULL,
    PRIMARY KEY (instance_id, fingerprint)
);

CREATE TABLE IF NOT EXISTS groups (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added    INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS group_members_user ON group_members(user_id);

-- Access rules (rerobots CAP_INSTANTIATE): a robot with no rule is open to every member; a
-- robot with rules may be booked only by the users and group members they name.
CREATE TABLE IF NOT EXISTS rules (
    id            INTEGER PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id      INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    created       INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS rules_user ON rules(deployment_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS rules_group ON rules(deployment_id, group_id) WHERE group_id IS NOT NULL;
-- Members waiting in line for a robot (target = its id) or any robot of a type (target = the
-- type), with the keys they chose; status WAITING, FULFILLED, CANCELLED or EXPIRED.
CREATE TABLE IF NOT EXISTS reservations (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target      TEXT NOT NULL,
    seconds     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    ended       INTEGER,
    instance_id TEXT REFERENCES instances(id) ON DELETE SET NULL,
    private_key TEXT,
    via         TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS reservations_one_waiting
    ON reservations(user_id, target) WHERE status = 'WAITING';
CREATE INDEX IF NOT EXISTS reservations_line ON reservations(status, created);

CREATE TABLE IF NOT EXISTS reservation_keys (
    reservation_id TEXT NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
    public_key     TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    ssh_key_id     INTEGER REFERENCES ssh_keys(id) ON DELETE CASCADE,
    PRIMARY KEY (reservation_id, fingerprint)
);
