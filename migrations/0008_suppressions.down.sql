DROP INDEX inbox_events_ws_contact_idx;
DROP TABLE suppressions;
