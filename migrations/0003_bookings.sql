-- Version 3: bookings in time and waiting in line (issue 11).
-- An instance gets a start: it may begin later than it was made. Old rows began when made.
-- The one-active-instance index gives way to a trigger that refuses any two live bookings of
-- one robot whose [starts, expires) windows overlap, so the database itself keeps bookings apart
-- whatever the pages and the API check first. Reservations are members waiting in line for a
-- robot or a type, with the keys they chose.

ALTER TABLE instances ADD COLUMN starts INTEGER NOT NULL DEFAULT 0;
UPDATE instances SET starts = created;

DROP INDEX IF EXISTS instances_one_active;
CREATE INDEX IF NOT EXISTS instances_robot_window ON instances(deployment_id, expires);

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
