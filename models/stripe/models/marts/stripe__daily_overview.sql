{#
  One row per day (UTC) from the account's first transaction to today: money in and out of
  the balance (settlement currency, major units), counts, and new customers. Days without
  activity are there with zeros so charts and running totals need no gap filling.
#}
with ledger as (
    select
        cast(created_at as date) as date_day,
        min(currency) as settlement_currency,
        count(*) filter (where source_type = 'charge') as charge_count,
        sum(amount) filter (where source_type = 'charge') as gross_charges,
        count(*) filter (where source_type = 'refund') as refund_count,
        -sum(amount) filter (where source_type = 'refund') as refunds,
        -sum(amount) filter (where source_type = 'dispute') as dispute_losses,
        sum(amount) filter (where source_type not in ('charge', 'refund', 'dispute', 'payout', 'transfer')
            or source_type is null) as other_adjustments,
        sum(fee) as fees,
        sum(net) filter (where source_type is distinct from 'payout' and source_type is distinct from 'transfer') as net_activity,
        count(*) filter (where source_type = 'payout') as payout_count,
        -sum(amount) filter (where source_type = 'payout') as payouts,
        -sum(amount) filter (where source_type = 'transfer') as transfers
    from {{ ref('stripe__balance_transactions') }}
    group by all
),

charges as (
    select
        cast(created_at as date) as date_day,
        count(*) filter (where status = 'failed') as failed_charge_count
    from {{ ref('stg_stripe__charges') }}
    group by all
),

new_customers as (
    select cast(created_at as date) as date_day, count(*) as new_customer_count
    from {{ ref('stg_stripe__customers') }}
    group by all
),

disputes as (
    select cast(created_at as date) as date_day, count(*) as new_dispute_count
    from {{ ref('stg_stripe__disputes') }}
    group by all
),

days as (
    select cast(day as date) as date_day
    from (
        select min(first_day) as first_day
        from (
            select min(date_day) as first_day from ledger
            union all select min(date_day) from charges
            union all select min(date_day) from new_customers
        )
    ) as bounds,
    unnest(generate_series(
        cast(bounds.first_day as timestamp),
        cast(current_timestamp at time zone 'UTC' as date),
        interval 1 day
    )) as spine(day)
)

select
    days.date_day,
    coalesce(ledger.settlement_currency, (select min(settlement_currency) from ledger)) as settlement_currency,
    coalesce(ledger.charge_count, 0) as charge_count,
    coalesce(ledger.gross_charges, 0) as gross_charges,
    coalesce(ledger.refund_count, 0) as refund_count,
    coalesce(ledger.refunds, 0) as refunds,
    coalesce(disputes.new_dispute_count, 0) as new_dispute_count,
    coalesce(ledger.dispute_losses, 0) as dispute_losses,
    coalesce(ledger.other_adjustments, 0) as other_adjustments,
    coalesce(ledger.fees, 0) as fees,
    coalesce(ledger.net_activity, 0) as net,
    coalesce(ledger.payout_count, 0) as payout_count,
    coalesce(ledger.payouts, 0) as payouts,
    coalesce(ledger.transfers, 0) as transfers,
    coalesce(charges.failed_charge_count, 0) as failed_charge_count,
    coalesce(new_customers.new_customer_count, 0) as new_customer_count,
    sum(coalesce(ledger.net_activity, 0)) over (order by days.date_day) as cumulative_net
from days
left join ledger on ledger.date_day = days.date_day
left join charges on charges.date_day = days.date_day
left join new_customers on new_customers.date_day = days.date_day
left join disputes on disputes.date_day = days.date_day
