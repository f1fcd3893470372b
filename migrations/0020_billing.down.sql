DROP TABLE billing_ledger;
DROP TABLE billing_reservations;
DROP TABLE billing_accounts;
DROP FUNCTION billing_rate(timestamptz, text, text, text);
DROP FUNCTION billing_card(timestamptz);
DROP TABLE rate_card_rates;
DROP TABLE rate_cards;
