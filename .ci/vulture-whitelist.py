"""Names vulture takes for unused that something else reads by name (scripts/test runs
`vulture webapp sessions migrations/env.py .ci/vulture-whitelist.py`). Each group says what
reads them; a name used by nothing goes, it is not added here."""
# ruff: noqa: B018, F821

# Flask's configuration: read from app.config by name (webapp/config.py)
SECRET_KEY, SQLALCHEMY_DATABASE_URI, SQLALCHEMY_ENGINE_OPTIONS, REDIS_URL
WTF_CSRF_TIME_LIMIT, MINKE_SESSION_MODULES, MINKE_QUEUE, MINKE_CONCURRENCY
MINKE_WORKER_THREADS, MINKE_WORKER_SLOTS, MINKE_JOB_TIMEOUT, MINKE_LOCK_TTL
MINKE_WORKER_HEARTBEAT, MINKE_WORKER_GRACE, MINKE_FABRIC_CONFIG, MINKE_CONNECT_TIMEOUT
MINKE_COMMAND_TIMEOUT, MINKE_POOL_IDLE_TTL, MINKE_POOL_MEMORY, MINKE_POOL_KEEPALIVE
MINKE_OUTPUT_MEMORY_LIMIT, MINKE_OUTPUT_CHUNK_SIZE, MINKE_OUTPUT_FLUSH_INTERVAL
MINKE_LIVE_EVENT_INTERVAL
MINKE_SCHEDULER_TICK, MINKE_SCHEDULE_GRACE
MINKE_SOCKET_USER_LIMIT, MINKE_SOCKET_ADDRESS_LIMIT, MINKE_SOCKET_CONNECT_TIMEOUT
MINKE_EVENT_STREAM_MAXLEN
MINKE_BASE_URL, MINKE_SMTP_HOST, MINKE_SMTP_PORT, MINKE_SMTP_USER, MINKE_SMTP_PASSWORD
MINKE_SMTP_FROM, MINKE_SMTP_STARTTLS, MINKE_NOTIFY_TIMEOUT, MINKE_NOTIFY_RETRY_DELAYS
MINKE_NOTIFY_SLOW_RUNS, MINKE_NOTIFY_SLOW_FACTOR

# Flask-Login reads these of the login manager and the user; werkzeug a response's status
_.login_view, _.login_message, _.login_message_category, _.get_id, _._login_user
_.status_code
# sqlite3 reads the connection's isolation_level (webapp/database.py)
_.isolation_level
# WTForms reads a field class's option_widget
option_widget
# paramiko calls a host-key policy's missing_host_key; invoke a runner's generate_result
_.missing_host_key, _.generate_result
# rq calls these of our worker and death penalty, and run_job by its name (dispatch.py)
_.dequeue_job_and_maintain_ttl, _.setup_death_penalty, _.cancel_death_penalty, run_job

# the session API (../shared/spec/session-api.txt): what user sessions call, and the
# built-in sessions, which register themselves when their module loads
_.update_field, _.runnable_by
UptimeSession, HostnameSession, DiskUsageSession, MemorySession, RunCommandSession
CheckShellSession

# templates read these (templates/objects/list.html, prepare.html, runs/_macros.html)
_.toggled, _.hidden_fields, host_name
# columns, stored and shown, never read back in Python
updated_at, changed_at, _.changed_at
# the pool's counters and idle count, read by tests/test_pool.py and the benchmarks
reused, discarded, in_use, _.reused, _.discarded, _.in_use, _.idle_count
expired, turned_away, _.expired, _.turned_away
# generates static/css/ansi-256.css (tests/test_run_page.py checks the file is its output)
palette_css
# the final badges, read by bench/team.py
FINAL
# rq calls the notification jobs by name (webapp/engine/notify.py); Flask the API's
# DELETE routes (@bp.delete, not among scripts/test's decorators)
run_event, deliver, remove_channel, remove_subscription
# urllib's redirect handler calls it by name (webapp/notifications/channels.py)
_.redirect_request
