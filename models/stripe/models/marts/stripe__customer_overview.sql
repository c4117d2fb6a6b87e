{#
  One row per customer: what they paid (lifetime value), refunds, disputes, fees, first and
  latest charge and failed charges. Money comes from the balance transactions, in the
  account's settlement currency: a customer paying in EUR and JPY still has one total.
#}
with customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

ledger as (
    select
        customer_id,
        min(currency) as settlement_currency,
        count(*) filter (where source_type = 'charge') as charge_count,
        coalesce(sum(amount) filter (where source_type = 'charge'), 0) as gross_amount,
        count(*) filter (where source_type = 'refund') as refund_count,
        -coalesce(sum(amount) filter (where source_type = 'refund'), 0) as refunded_amount,
        -- a dispute's withdrawal and, when won, its reinstatement
        -coalesce(sum(amount) filter (where source_type = 'dispute'), 0) as disputed_amount,
        coalesce(sum(fee), 0) as fees,
        coalesce(sum(net), 0) as net_amount
    from {{ ref('stripe__balance_transactions') }}
    where customer_id is not null
    group by customer_id
),

charges as (
    select
        customer_id,
        count(*) filter (where status = 'succeeded') as succeeded_charge_count,
        count(*) filter (where status = 'failed') as failed_charge_count,
        min(created_at) filter (where status = 'succeeded') as first_charge_at,
        max(created_at) filter (where status = 'succeeded') as latest_charge_at,
        max(created_at) filter (where status = 'failed') as latest_failed_charge_at
    from {{ ref('stg_stripe__charges') }}
    where customer_id is not null
    group by customer_id
),

disputes as (
    select charges.customer_id, count(*) as dispute_count
    from {{ ref('stg_stripe__disputes') }} as disputes
    join {{ ref('stg_stripe__charges') }} as charges on charges.charge_id = disputes.charge_id
    group by charges.customer_id
),

subscriptions as (
    select
        customer_id,
        count(*) as subscription_count,
        count(*) filter (where status in ('active', 'past_due', 'trialing', 'unpaid')) as live_subscription_count
    from {{ ref('stg_stripe__subscriptions') }}
    group by customer_id
)

select
    customers.customer_id,
    customers.customer_name,
    customers.email,
    customers.country,
    customers.currency as customer_currency,
    customers.created_at,
    customers.is_deleted,
    customers.is_delinquent,
    ledger.settlement_currency,
    -- what the customer paid and the account kept, before Stripe's fees
    coalesce(ledger.gross_amount - ledger.refunded_amount - ledger.disputed_amount, 0) as lifetime_value,
    coalesce(ledger.gross_amount, 0) as gross_amount,
    coalesce(ledger.refunded_amount, 0) as refunded_amount,
    coalesce(ledger.disputed_amount, 0) as disputed_amount,
    coalesce(ledger.fees, 0) as fees,
    coalesce(ledger.net_amount, 0) as net_amount,
    coalesce(charges.succeeded_charge_count, 0) as charge_count,
    coalesce(charges.failed_charge_count, 0) as failed_charge_count,
    coalesce(ledger.refund_count, 0) as refund_count,
    coalesce(disputes.dispute_count, 0) as dispute_count,
    charges.first_charge_at,
    charges.latest_charge_at,
    charges.latest_failed_charge_at,
    coalesce(subscriptions.subscription_count, 0) as subscription_count,
    coalesce(subscriptions.live_subscription_count, 0) as live_subscription_count
from customers
left join ledger on ledger.customer_id = customers.customer_id
left join charges on charges.customer_id = customers.customer_id
left join disputes on disputes.customer_id = customers.customer_id
left join subscriptions on subscriptions.customer_id = customers.customer_id
