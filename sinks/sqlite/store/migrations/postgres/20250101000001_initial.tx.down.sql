DROP TABLE batches;
--bun:split
DROP TABLE events;
--bun:split
DROP TABLE alerts;
--bun:split
DROP TABLE ip_stats;
--bun:split
DROP TABLE flow_blocks;
--bun:split
DROP TABLE flows;
