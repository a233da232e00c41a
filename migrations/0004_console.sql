-- Version 4: the console's session list (issue 14).
-- sessions.user_agent: the browser that signed in (shown as "Firefox on Linux"); last_seen:
-- when it was last used (updated at most once a minute).
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen INTEGER;
