-- Discounts of this region's menu (contract v1.2), managed by the region's staff. A bill
-- applies the one that saves most among those it qualifies for (no stacking); a discount
-- of audience 'offer' applies only through an offer the group holds.
CREATE TABLE discounts (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    percent_off      integer CHECK (percent_off BETWEEN 1 AND 100),
    amount_off_cents bigint CHECK (amount_off_cents > 0),
    -- What the bill's lines the discount covers (its category's, or all) must add up to.
    min_spend_cents  bigint NOT NULL DEFAULT 0 CHECK (min_spend_cents >= 0),
    category         text,
    valid_from       timestamptz,
    valid_until      timestamptz,
    audience         text NOT NULL CHECK (audience IN ('everyone', 'offer')),
    every_n_bills    integer CHECK (every_n_bills > 0),
    created_on       timestamptz NOT NULL DEFAULT now(),
    updated_on       timestamptz NOT NULL DEFAULT now(),
    CHECK ((percent_off IS NULL) <> (amount_off_cents IS NULL)),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until),
    -- Issuing offers of a discount everyone gets anyway would give nothing.
    CHECK (every_n_bills IS NULL OR audience = 'offer')
);

-- What a bill came to before its discount, and the discount it applied, through which
-- offer if any (kept with the bill, whatever later becomes of the discount).
ALTER TABLE ledger_entries
    ADD COLUMN gross_cents    bigint CHECK (gross_cents >= 0),
    ADD COLUMN discount_cents bigint CHECK (discount_cents >= 0),
    ADD COLUMN discount_id    text,
    ADD COLUMN discount_name  text,
    ADD COLUMN offer_id       text;

-- An offer: one group's single-use entitlement to one 'offer' discount of a store region.
-- Kept in the group's region, so the bill that uses it marks it in the transaction that
-- writes the bill. 'expired' is not a state: it is an open offer past expires_at.
CREATE TABLE offers (
    id           text PRIMARY KEY,
    group_id     text NOT NULL REFERENCES groups (id),
    discount_id  text NOT NULL,
    state        text NOT NULL CHECK (state IN ('open', 'used')),
    expires_at   timestamptz,
    used_by_bill text,
    -- The staff member or admin who issued it, or the bill whose count issued it.
    issued_by    text NOT NULL,
    created_on   timestamptz NOT NULL DEFAULT now(),
    updated_on   timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'used') = (used_by_bill IS NOT NULL))
);
CREATE INDEX offers_by_group ON offers (group_id, created_on DESC);
-- What every batch of bills reads: small, and empty while no group holds an offer.
CREATE INDEX offers_open_by_group ON offers (group_id) WHERE state = 'open';
-- At most one offer per bill: a bill uses one.
CREATE UNIQUE INDEX offers_used_once ON offers (used_by_bill) WHERE used_by_bill IS NOT NULL;

-- How many bills each group has had in each store region: a discount with every_n_bills
-- issues an offer on the N-th, 2N-th, ... Written with the bills, under the group's lock.
CREATE TABLE store_bill_counts (
    group_id     text NOT NULL REFERENCES groups (id),
    store_region text NOT NULL,
    bills        bigint NOT NULL CHECK (bills >= 0),
    PRIMARY KEY (group_id, store_region)
);
