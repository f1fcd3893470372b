-- Why an outbound message exists. An opt-out confirmation is the one message an opted-out
-- contact still receives, so the send worker must tell it apart.
ALTER TABLE messages ADD COLUMN purpose text NOT NULL DEFAULT 'conversation'
    CHECK (purpose IN ('conversation', 'opt_out_confirmation', 'opt_in_confirmation'));
