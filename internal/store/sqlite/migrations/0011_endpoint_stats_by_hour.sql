-- Counters older than any window are removed by maintenance, oldest hours
-- first; without this index each round would read the whole table. An
-- index entry is written once per counter (when its hour's first attempt
-- creates it), not on every count.
CREATE INDEX endpoint_stats_by_hour ON endpoint_stats (hour);
