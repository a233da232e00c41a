-- "make API token" from the /tokens page's form (cookie, CSRF header and, for htmx, HX-Request
-- come from wrk's -H flags).
wrk.method = "POST"
wrk.body = "duration=3600&note=bench&scope=rw"
