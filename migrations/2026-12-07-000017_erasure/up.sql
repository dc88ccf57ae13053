-- Closing an account (`DELETE /v1/users/{uid}`) erases what identifies its user: the
-- row keeps the id (ledger entries, memberships and the index name it, and the books
-- must still add up) with the email, name, phone, location, age and password hash
-- gone; `erased_on` says when. Every read of a user skips an erased one.
ALTER TABLE users ADD COLUMN erased_on timestamptz;

-- The users whose accounts were closed, in every region that keeps a directory entry of
-- their email (and their home region): a confirmation of such a user's email arriving
-- late (an event retried, or the router repairing the directory from a region the
-- erasure has not reached yet) is refused, so the email stays free for a new sign-up.
-- Ids only: nothing here identifies a person.
CREATE TABLE erased_users (
    user_id   text PRIMARY KEY,
    erased_on timestamptz NOT NULL DEFAULT now()
);
