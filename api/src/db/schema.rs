// @generated automatically by Diesel CLI.

diesel::table! {
    audit_days (day) {
        day -> Date,
        claimed_by -> Text,
        claimed_on -> Timestamptz,
        finished_on -> Nullable<Timestamptz>,
        findings -> Nullable<Int4>,
    }
}

diesel::table! {
    catalogue_items (id) {
        id -> Text,
        name -> Text,
        category -> Text,
        price_cents -> Int8,
        points_price -> Int8,
        available -> Bool,
        created_on -> Timestamptz,
        updated_on -> Timestamptz,
    }
}

diesel::table! {
    discounts (id) {
        id -> Text,
        name -> Text,
        percent_off -> Nullable<Int4>,
        amount_off_cents -> Nullable<Int8>,
        min_spend_cents -> Int8,
        category -> Nullable<Text>,
        valid_from -> Nullable<Timestamptz>,
        valid_until -> Nullable<Timestamptz>,
        audience -> Text,
        every_n_bills -> Nullable<Int4>,
        created_on -> Timestamptz,
        updated_on -> Timestamptz,
    }
}

diesel::table! {
    email_directory (email) {
        email -> Text,
        home_region -> Text,
        user_id -> Nullable<Text>,
        confirmed -> Bool,
        reservation_id -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        updated_on -> Timestamptz,
    }
}

diesel::table! {
    email_failures (email) {
        email -> Text,
        minute_started -> Timestamptz,
        failures -> Int4,
        previous -> Int4,
    }
}

diesel::table! {
    erased_users (user_id) {
        user_id -> Text,
        erased_on -> Timestamptz,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        active -> Bool,
        version -> Int8,
        joined_on -> Timestamptz,
        updated_on -> Timestamptz,
        can_redeem -> Bool,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        name -> Text,
        location -> Text,
        points -> Int8,
        personal_of -> Nullable<Text>,
        created_on -> Timestamptz,
        updated_on -> Timestamptz,
        owner_id -> Text,
        points_debt -> Int8,
        open_offers -> Int4,
    }
}

diesel::table! {
    idempotency_records (caller_id, key) {
        caller_id -> Text,
        key -> Text,
        fingerprint -> Text,
        response_status -> Int2,
        response_body -> Jsonb,
        created_on -> Timestamptz,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        group_id -> Text,
        code_hash -> Text,
        can_redeem -> Bool,
        user_id -> Nullable<Text>,
        created_by -> Text,
        expires_at -> Timestamptz,
        used_by -> Nullable<Text>,
        used_on -> Nullable<Timestamptz>,
        revoked_on -> Nullable<Timestamptz>,
        created_on -> Timestamptz,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Text,
        group_id -> Text,
        user_id -> Text,
        kind -> Text,
        points -> Int8,
        amount_cents -> Nullable<Int8>,
        store_region -> Nullable<Text>,
        balance_after -> Int8,
        idempotency_key -> Text,
        created_on -> Timestamptz,
        actor_id -> Nullable<Text>,
        gross_cents -> Nullable<Int8>,
        discount_cents -> Nullable<Int8>,
        discount_id -> Nullable<Text>,
        discount_name -> Nullable<Text>,
        offer_id -> Nullable<Text>,
        bill_id -> Nullable<Text>,
        debt_change -> Nullable<Int8>,
        lines -> Nullable<Jsonb>,
    }
}

diesel::table! {
    lockouts (kind, subject) {
        kind -> Text,
        subject -> Text,
        failures -> Int4,
        locked_until -> Nullable<Timestamptz>,
        last_failure -> Timestamptz,
    }
}

diesel::table! {
    login_networks (user_id, network) {
        user_id -> Text,
        network -> Text,
        last_login -> Timestamptz,
    }
}

diesel::table! {
    membership_repairs (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        reason -> Text,
        repaired_on -> Timestamptz,
    }
}

diesel::table! {
    offers (id) {
        id -> Text,
        group_id -> Text,
        discount_id -> Text,
        state -> Text,
        expires_at -> Nullable<Timestamptz>,
        used_by_bill -> Nullable<Text>,
        issued_by -> Text,
        created_on -> Timestamptz,
        updated_on -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        destination_region -> Text,
        kind -> Text,
        payload -> Jsonb,
        attempts -> Int4,
        created_on -> Timestamptz,
        delivered_on -> Nullable<Timestamptz>,
        next_attempt_at -> Timestamptz,
    }
}

diesel::table! {
    store_bill_counts (group_id, store_region) {
        group_id -> Text,
        store_region -> Text,
        bills -> Int8,
    }
}

diesel::table! {
    token_revocations (seq) {
        seq -> Int8,
        user_id -> Text,
        jti -> Nullable<Text>,
        not_before -> Nullable<Timestamptz>,
        expires_at -> Timestamptz,
        created_on -> Timestamptz,
    }
}

diesel::table! {
    user_group_index (user_id, group_id) {
        user_id -> Text,
        group_id -> Text,
        active -> Bool,
        version -> Int8,
        updated_on -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        full_name -> Text,
        phone -> Nullable<Text>,
        location -> Nullable<Text>,
        age -> Nullable<Int4>,
        personal_group_id -> Text,
        created_on -> Timestamptz,
        updated_on -> Timestamptz,
        directory_replicated -> Bool,
        erased_on -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(invitations -> groups (group_id));
diesel::joinable!(ledger_entries -> groups (group_id));
diesel::joinable!(offers -> groups (group_id));
diesel::joinable!(store_bill_counts -> groups (group_id));
diesel::joinable!(user_group_index -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_days,
    catalogue_items,
    discounts,
    email_directory,
    email_failures,
    erased_users,
    group_members,
    groups,
    idempotency_records,
    invitations,
    ledger_entries,
    lockouts,
    login_networks,
    membership_repairs,
    offers,
    outbox,
    store_bill_counts,
    token_revocations,
    user_group_index,
    users,
);
