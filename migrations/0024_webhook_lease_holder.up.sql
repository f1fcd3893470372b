-- The holder of a claimed delivery's lease: the River job (lease_job, its id) and the run of
-- it (lease_attempt, River's attempt number) that claimed it; NULL when no run holds it.
-- A job keeps its id when it is retried or when the process running it dies and it is
-- rescued, and River increments its attempt on every run, so a later run of the same job
-- takes back at once what an earlier run claimed and never recorded (the process was
-- killed mid-send), instead of waiting for the 3-minute lease (next_attempt_at) to run out.
-- That lease stays the fallback for everything else (another job, a run that never comes).
ALTER TABLE webhook_deliveries ADD COLUMN lease_job bigint, ADD COLUMN lease_attempt integer;
