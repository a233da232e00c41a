-- Version 2: groups, access rules per robot, and what admin oversight needs (why and when a
-- booking was ended by an admin, last sign-in, deleted accounts and robots kept for history).

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

ALTER TABLE users ADD COLUMN last_login INTEGER;
ALTER TABLE users ADD COLUMN deleted INTEGER;
ALTER TABLE deployments ADD COLUMN deleted INTEGER;
ALTER TABLE instances ADD COLUMN end_reason TEXT;
