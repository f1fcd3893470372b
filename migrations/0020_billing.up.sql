-- Usage and billing (API.md "Usage and billing"): the operator's rate cards, each
-- workspace's wallet, and one ledger of credits and charges. Money is integer micros.

-- A rate card is immutable once stored; a new one takes over from its effective time, so
-- a charge is priced with the card in force when Meta reported it.
CREATE TABLE rate_cards (
    id            uuid PRIMARY KEY,
    effective_at  timestamptz NOT NULL,
    source        text NOT NULL,  -- 'default' (shipped with the binary) or 'operator'
    created_at    timestamptz NOT NULL
);
CREATE INDEX rate_cards_effective_idx ON rate_cards (effective_at DESC, created_at DESC);

CREATE TABLE rate_card_rates (
    card_id      uuid NOT NULL REFERENCES rate_cards (id) ON DELETE CASCADE,
    currency     text NOT NULL,
    category     text NOT NULL,  -- Meta's pricing category: marketing, utility, authentication, ...
    market       text NOT NULL,  -- ISO 3166 alpha-2, or '*' for the rest of the world
    rate_micros  bigint NOT NULL CHECK (rate_micros >= 0),
    PRIMARY KEY (card_id, currency, category, market)
);

-- The pricing rule: a message of category to market in currency, reported at time at, is
-- priced by the card in force at at (rate_card_periods: the latest effective_at not after
-- at, the latest stored of equal ones) at the market's own rate, else the card's '*' rate;
-- NULL when the card has neither. billing_rate is it for one message (reservations,
-- estimates); the ledger's charge statement joins the same periods and rates for a whole
-- batch at once (adapters/postgres/billing.go), as a per-row function call costs too much there.
CREATE VIEW rate_card_periods AS
    SELECT id, effective_at, lead(effective_at) OVER (ORDER BY effective_at, created_at) AS until FROM rate_cards;
CREATE FUNCTION billing_card(at timestamptz) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT id FROM rate_card_periods WHERE effective_at <= at AND (until IS NULL OR at < until)
$$;
CREATE FUNCTION billing_rate(at timestamptz, market text, category text, currency text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT r.rate_micros FROM rate_card_rates r
    WHERE r.card_id = billing_card(at) AND r.currency = billing_rate.currency
        AND r.category = billing_rate.category AND r.market IN (billing_rate.market, '*')
    ORDER BY r.market = '*' LIMIT 1
$$;

-- The default card: EXAMPLE VALUES ONLY, in USD, roughly the shape of Meta's per-message
-- rates; an operator replaces them with their own (PUT /admin/rate-card).
INSERT INTO rate_cards (id, effective_at, source, created_at)
VALUES ('00000000-0000-7000-8000-000000000001', '1970-01-01T00:00:00Z', 'default', '1970-01-01T00:00:00Z');
INSERT INTO rate_card_rates (card_id, currency, category, market, rate_micros)
SELECT '00000000-0000-7000-8000-000000000001', 'USD', r.category, r.market, r.rate FROM (VALUES
    ('marketing', '*', 50000), ('utility', '*', 10000), ('authentication', '*', 10000),
    ('authentication_international', '*', 30000), ('marketing_lite', '*', 40000), ('service', '*', 0),
    ('marketing', 'US', 25000), ('utility', 'US', 4000), ('authentication', 'US', 4000),
    ('marketing', 'IN', 10700), ('utility', 'IN', 1400), ('authentication', 'IN', 1400),
    ('marketing', 'BR', 62500), ('utility', 'BR', 6800), ('authentication', 'BR', 6800),
    ('marketing', 'GB', 52900), ('utility', 'GB', 22000), ('authentication', 'GB', 22000),
    ('marketing', 'DE', 136500), ('utility', 'DE', 55000), ('authentication', 'DE', 55000)
) AS r (category, market, rate);

-- A workspace's wallet, created when first needed (a workspace without one is postpaid in
-- the default currency). available = balance - reserved; in prepaid mode a reservation
-- is only taken while available covers it, under this row's lock.
CREATE TABLE billing_accounts (
    workspace_id     uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    mode             text NOT NULL CHECK (mode IN ('prepaid', 'postpaid')),
    currency         text NOT NULL,
    balance_micros   bigint NOT NULL DEFAULT 0,
    reserved_micros  bigint NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
    updated_at       timestamptz NOT NULL
);

-- The estimated price of a queued template send in a prepaid workspace, held until the
-- charge settles it or the message fails.
CREATE TABLE billing_reservations (
    workspace_id   uuid NOT NULL,
    message_id     uuid NOT NULL,
    amount_micros  bigint NOT NULL CHECK (amount_micros >= 0),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);

-- The ledger: credits, refunds and adjustments by the operator, and one charge per message
-- Meta priced (free ones at 0, which the transactions list leaves out). charge_key makes a
-- message (or, under CBP, a conversation) charged at most once whatever Meta resends.
CREATE TABLE billing_ledger (
    workspace_id          uuid NOT NULL,
    id                    uuid NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('credit', 'charge', 'refund', 'adjustment')),
    amount_micros         bigint NOT NULL,  -- signed: a charge is negative
    balance_after_micros  bigint NOT NULL,
    currency              text NOT NULL,
    reference             text,
    created_at            timestamptz NOT NULL,
    -- charges only
    charge_key            text,
    message_id            uuid,
    phone_number_id       text,
    campaign_id           uuid,
    market                text,
    category              text,
    pricing_model         text,
    pricing_type          text,
    billable              boolean,
    rate_card_id          uuid,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX billing_ledger_charge_key_idx ON billing_ledger (workspace_id, charge_key) WHERE charge_key IS NOT NULL;
-- Usage reports and their export read a workspace's charges by time.
CREATE INDEX billing_ledger_usage_idx ON billing_ledger (workspace_id, created_at, id) WHERE kind = 'charge';

-- A campaign's estimated price, taken each time it starts (launch, resume).
ALTER TABLE campaigns ADD COLUMN estimated_cost_micros bigint, ADD COLUMN estimated_cost_currency text;
