{#
  Every subscription with its customer, items (prices and products), what it bills per
  month now and what its invoices billed and collected so far.
#}
with subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

items as (
    select
        items.subscription_id,
        items.subscription_item_id,
        coalesce(items.quantity, 1) as quantity,
        coalesce(items.currency, prices.currency) as currency,
        coalesce(items.unit_amount, prices.unit_amount) as unit_amount,
        prices.recurring_interval,
        coalesce(prices.recurring_interval_count, 1) as recurring_interval_count,
        coalesce(items.product_id, prices.product_id) as product_id,
        products.product_name
    from {{ ref('stg_stripe__subscription_items') }} as items
    left join {{ ref('stg_stripe__prices') }} as prices on prices.price_id = items.price_id
    left join {{ ref('stg_stripe__products') }} as products
        on products.product_id = coalesce(items.product_id, prices.product_id)
),

item_summary as (
    select
        subscription_id,
        count(*) as item_count,
        sum(quantity) as total_quantity,
        string_agg(distinct product_name, ', ' order by product_name) as product_names,
        -- the same monthly normalisation as stripe__mrr_by_month (see its yml)
        sum(
            unit_amount * quantity * {{ stripe_monthly_factor('recurring_interval', 'recurring_interval_count') }}
        ) as monthly_amount_minor,
        min(currency) as items_currency
    from items
    group by subscription_id
),

invoice_summary as (
    select
        subscription_id,
        count(*) as invoice_count,
        sum(amount_paid) as amount_paid_minor,
        min(created_at) as first_invoice_at,
        max(created_at) as latest_invoice_at
    from {{ ref('stg_stripe__invoices') }}
    where subscription_id is not null
        and status not in ('draft', 'void')
        and not coalesce(is_deleted, false)
    group by subscription_id
)

select
    subscriptions.subscription_id,
    subscriptions.customer_id,
    customers.customer_name,
    customers.email as customer_email,
    subscriptions.status,
    subscriptions.currency,
    subscriptions.collection_method,
    subscriptions.created_at,
    subscriptions.start_date,
    subscriptions.billing_cycle_anchor,
    subscriptions.trial_start,
    subscriptions.trial_end,
    subscriptions.cancel_at_period_end,
    subscriptions.cancel_at,
    subscriptions.canceled_at,
    subscriptions.ended_at,
    subscriptions.cancellation_reason,
    subscriptions.cancellation_feedback,
    subscriptions.latest_invoice_id,
    coalesce(item_summary.item_count, 0) as item_count,
    coalesce(item_summary.total_quantity, 0) as total_quantity,
    item_summary.product_names,
    -- what the items bill per month now; zero once the subscription no longer bills
    case
        when subscriptions.status in ('active', 'past_due', 'unpaid')
            then {{ stripe_to_major('item_summary.monthly_amount_minor', 'subscriptions.currency') }}
        else cast(0 as decimal(38, 4))
    end as current_monthly_amount,
    coalesce(invoice_summary.invoice_count, 0) as invoice_count,
    {{ stripe_to_major('coalesce(invoice_summary.amount_paid_minor, 0)', 'subscriptions.currency') }} as total_amount_paid,
    invoice_summary.first_invoice_at,
    invoice_summary.latest_invoice_at
from subscriptions
left join item_summary on item_summary.subscription_id = subscriptions.subscription_id
left join invoice_summary on invoice_summary.subscription_id = subscriptions.subscription_id
left join {{ ref('stg_stripe__customers') }} as customers
    on customers.customer_id = subscriptions.customer_id
