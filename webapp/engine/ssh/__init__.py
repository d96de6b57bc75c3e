"""The SSH floor: a host's connection configuration and connections, the pool that keeps
them warm, running a command and interrupting it, host keys, probing a host, and the words
for what went wrong. It knows nothing of runs, workers or the database's run tables."""
