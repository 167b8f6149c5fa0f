"""Change-log fan-out, outbox, workers, retries, remote links, loop prevention, status."""
