{#
  Every invoice line with its invoice, customer, subscription, price and product.
  Amounts in major units of the line's currency.
#}
with lines as (
    select * from {{ ref('stg_stripe__invoice_lines') }}
),

invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

prices as (
    select * from {{ ref('stg_stripe__prices') }}
),

products as (
    select * from {{ ref('stg_stripe__products') }}
)

select
    lines.invoice_line_id,
    lines.invoice_id,
    invoices.invoice_number,
    invoices.status as invoice_status,
    invoices.created_at as invoice_created_at,
    invoices.customer_id,
    lines.line_type,
    lines.is_proration,
    lines.description,
    lines.quantity,
    lines.currency,
    {{ stripe_to_major('lines.amount', 'lines.currency') }} as amount,
    lines.period_start,
    lines.period_end,
    lines.subscription_id,
    subscriptions.status as subscription_status,
    lines.subscription_item_id,
    lines.price_id,
    prices.price_nickname,
    prices.price_type,
    {{ stripe_to_major('prices.unit_amount', 'prices.currency') }} as price_unit_amount,
    coalesce(prices.recurring_interval, lines.line_recurring_interval) as recurring_interval,
    coalesce(prices.recurring_interval_count, lines.line_recurring_interval_count) as recurring_interval_count,
    coalesce(lines.product_id, prices.product_id) as product_id,
    products.product_name
from lines
left join invoices on invoices.invoice_id = lines.invoice_id
left join subscriptions on subscriptions.subscription_id = lines.subscription_id
left join prices on prices.price_id = lines.price_id
left join products on products.product_id = coalesce(lines.product_id, prices.product_id)
where not coalesce(invoices.is_deleted, false)
