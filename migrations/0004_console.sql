-- Version 4: the console's session list and admin-set passwords (issue 14).
-- sessions.user_agent: the browser that signed in (shown as "Firefox on Linux"); last_seen:
-- when it was last used (updated at most once a minute). users.must_change_password: set when
-- an admin (CLI, Users page, first start) chose the password; cleared when its owner changes it.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen INTEGER;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
