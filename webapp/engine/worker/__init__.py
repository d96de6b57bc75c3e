"""The worker floor: the worker process and its slots, the RQ job, running a job's sessions
on the SSH floor, recording their results and writing them in batches, waiting for busy
hosts, telling queued runs their place, and reaping what dead workers left."""
