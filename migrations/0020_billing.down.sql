ALTER TABLE campaigns DROP COLUMN estimated_cost_micros, DROP COLUMN estimated_cost_currency;
DROP TABLE billing_ledger;
DROP TABLE billing_reservations;
DROP TABLE billing_accounts;
DROP FUNCTION billing_rate(timestamptz, text, text, text);
DROP FUNCTION billing_card(timestamptz);
DROP VIEW rate_card_periods;
DROP TABLE rate_card_rates;
DROP TABLE rate_cards;
