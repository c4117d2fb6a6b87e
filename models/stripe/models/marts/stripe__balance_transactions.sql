{#
  Every balance transaction (the ledger of money moving in and out of the Stripe balance)
  with the object that caused it, the customer behind it and the payout that paid it out.
#}
with balance_transactions as (
    select * from {{ ref('stg_stripe__balance_transactions') }}
),

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

refunds as (
    select * from {{ ref('stg_stripe__refunds') }}
),

disputes as (
    select * from {{ ref('stg_stripe__disputes') }}
),

transfers as (
    select * from {{ ref('stg_stripe__transfers') }}
),

payouts as (
    select * from {{ ref('stg_stripe__payouts') }}
),

automatic_payouts as (
    -- an automatic payout sweeps every transaction available when it is created
    select payout_id, created_at
    from payouts
    where coalesce(is_automatic, true) and coalesce(status, '') not in ('canceled', 'failed')
),

enriched as (
    select
        bt.*,
        -- Stripe names the source by its id prefix; the type alone is ambiguous
        -- (a dispute's withdrawal is type `adjustment`)
        case
            when bt.source_id like 'ch\_%' escape '\' or bt.source_id like 'py\_%' escape '\' then 'charge'
            when bt.source_id like 're\_%' escape '\' or bt.source_id like 'pyr\_%' escape '\' then 'refund'
            when bt.source_id like 'dp\_%' escape '\' or bt.source_id like 'du\_%' escape '\' then 'dispute'
            when bt.source_id like 'po\_%' escape '\' then 'payout'
            when bt.source_id like 'tr\_%' escape '\' then 'transfer'
            when bt.source_id is not null then 'other'
        end as source_type,
        coalesce(charges.charge_id, refunds.charge_id, disputes.charge_id) as charge_id,
        refunds.refund_id,
        refunds.customer_id as refund_customer_id,
        disputes.dispute_id,
        transfers.transfer_id
    from balance_transactions as bt
    left join charges on charges.charge_id = bt.source_id
    left join refunds on refunds.refund_id = bt.source_id
    left join disputes on disputes.dispute_id = bt.source_id
    left join transfers on transfers.transfer_id = bt.source_id
),

with_payout as (
    select
        enriched.*,
        case
            when enriched.source_type = 'payout' then enriched.source_id
            else swept.payout_id
        end as payout_id
    from enriched
    asof left join automatic_payouts as swept
        on swept.created_at >= enriched.available_on
)

select
    wp.balance_transaction_id,
    wp.created_at,
    wp.available_on,
    wp.type,
    wp.reporting_category,
    wp.status,
    wp.currency,
    {{ stripe_to_major('wp.amount', 'wp.currency') }} as amount,
    {{ stripe_to_major('wp.fee', 'wp.currency') }} as fee,
    {{ stripe_to_major('wp.net', 'wp.currency') }} as net,
    wp.exchange_rate,
    wp.description,
    wp.source_type,
    wp.source_id,
    wp.charge_id,
    wp.refund_id,
    wp.dispute_id,
    wp.transfer_id,
    coalesce(charge.customer_id, wp.refund_customer_id) as customer_id,
    customers.customer_name,
    customers.email as customer_email,
    charge.currency as charge_currency,
    {{ stripe_to_major('charge.amount', 'charge.currency') }} as charge_amount,
    charge.invoice_id,
    charge.payment_method_type,
    wp.payout_id,
    payouts.status as payout_status,
    payouts.created_at as payout_created_at,
    payouts.arrival_date as payout_arrival_date
from with_payout as wp
left join charges as charge on charge.charge_id = wp.charge_id
left join {{ ref('stg_stripe__customers') }} as customers
    on customers.customer_id = coalesce(charge.customer_id, wp.refund_customer_id)
left join payouts on payouts.payout_id = wp.payout_id
