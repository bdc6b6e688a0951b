"""Pure building blocks, table-tested: clock, ids, durations, cron, signing, header and URL parsing."""
