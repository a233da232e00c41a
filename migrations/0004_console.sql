-- Version 4: the console's session list (issue 14).
-- sessions.user_agent: the browser that signed in (shown as "Firefox on Linux"); last_seen:
-- when it was last used (updated at most once a minute).
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen INTEGER;
-- users.must_change: the password was set by an admin (command line, Users page, first start)
-- and must be replaced by the member's own at the next sign-in. Accounts already there keep 0.
ALTER TABLE users ADD COLUMN must_change INTEGER NOT NULL DEFAULT 0;
