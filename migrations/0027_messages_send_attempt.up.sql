-- When a Graph call for a queued message began. Written (and committed) before the call and
-- cleared when Meta answers with a refusal, so a run of the send job that finds it set on a
-- message still without a wamid knows an earlier attempt may have reached Meta (the process
-- died, or no answer came) and waits for Meta's status webhook instead of sending again.
ALTER TABLE messages ADD COLUMN send_attempted_at timestamptz;
