-- Counters older than any window are removed by maintenance, oldest hours
-- first; without this index each round would read the whole table.
CREATE INDEX endpoint_stats_by_hour_idx ON endpoint_stats (hour);
