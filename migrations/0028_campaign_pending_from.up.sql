-- Where a running campaign's next pending recipients start (CampaignRepo.Next): no recipient
-- of the campaign below it, in contact order, is pending without a message. The read of
-- the next batch starts its walk of campaign_recipients_pending_idx here instead of at the
-- index's start, where the entries of every recipient taken before lie until vacuum removes
-- them (in a 100,000-recipient run the walk grew with the campaign, to gaps of seconds
-- between batches). NULL: from the first contact.
ALTER TABLE campaigns ADD COLUMN pending_from uuid;
