{#
  One row per invoice line, from the `invoice_line_items` child table when it is loaded,
  else from the lines embedded in `invoices.lines__data` (Stripe embeds at most 10: an
  invoice with more is incomplete until the child table lands).

  Stripe has two line shapes. API versions before 2025-03-31 put `type`, `price`,
  `proration` and `subscription_item` on the line; later ones move them under `parent`
  (`parent.type = subscription_item_details`) and `pricing.price_details`. Both are read.
#}
{%- set line_columns = [
    ['id', 'invoice_line_id', 'varchar'],
    ['invoice_id', 'invoice_id', 'varchar'],
    ['amount', 'amount', 'bigint'],
    ['currency', 'currency', 'varchar'],
    ['description', 'description', 'varchar'],
    ['quantity', 'quantity', 'bigint'],
    ['type', 'legacy_type', 'varchar'],
    ['proration', 'legacy_proration', 'boolean'],
    ['subscription', 'subscription', 'varchar'],
    ['subscription_item', 'legacy_subscription_item', 'varchar'],
    ['price__id', 'legacy_price_id', 'varchar'],
    ['price__product', 'legacy_product_id', 'varchar'],
    ['price__recurring', 'legacy_recurring', 'json'],
    ['parent__type', 'parent_type', 'varchar'],
    ['parent__subscription_item_details', 'parent_details', 'json'],
    ['pricing__price_details', 'price_details', 'json'],
    ['period__start', 'period_start', 'timestamp'],
    ['period__end', 'period_end', 'timestamp'],
] -%}
{%- set use_embedded = not stripe_has_table('invoice_line_items') and stripe_has_column('invoices', 'lines__data') -%}

with raw as (
{% if use_embedded %}
    select
        line.value ->> 'id' as invoice_line_id,
        invoices.id as invoice_id,
        cast(line.value ->> 'amount' as bigint) as amount,
        line.value ->> 'currency' as currency,
        line.value ->> 'description' as description,
        cast(line.value ->> 'quantity' as bigint) as quantity,
        line.value ->> 'type' as legacy_type,
        cast(line.value ->> 'proration' as boolean) as legacy_proration,
        line.value ->> 'subscription' as subscription,
        line.value ->> 'subscription_item' as legacy_subscription_item,
        line.value -> 'price' ->> 'id' as legacy_price_id,
        line.value -> 'price' ->> 'product' as legacy_product_id,
        line.value -> 'price' -> 'recurring' as legacy_recurring,
        line.value -> 'parent' ->> 'type' as parent_type,
        line.value -> 'parent' -> 'subscription_item_details' as parent_details,
        line.value -> 'pricing' -> 'price_details' as price_details,
        to_timestamp(cast(line.value -> 'period' ->> 'start' as bigint)) at time zone 'UTC' as period_start,
        to_timestamp(cast(line.value -> 'period' ->> 'end' as bigint)) at time zone 'UTC' as period_end
    from {{ source('stripe', 'invoices') }} as invoices, json_each(invoices.lines__data) as line
{% else %}
    {{ stripe_select('invoice_line_items', line_columns) }}
{% endif %}
)

select
    invoice_line_id,
    invoice_id,
    coalesce(
        legacy_type,
        case parent_type
            when 'subscription_item_details' then 'subscription'
            when 'invoice_item_details' then 'invoiceitem'
        end
    ) as line_type,
    coalesce(legacy_proration, cast(parent_details ->> 'proration' as boolean), false) as is_proration,
    amount,
    currency,
    description,
    quantity,
    coalesce(subscription, parent_details ->> 'subscription') as subscription_id,
    coalesce(legacy_subscription_item, parent_details ->> 'subscription_item') as subscription_item_id,
    coalesce(legacy_price_id, price_details ->> 'price') as price_id,
    coalesce(legacy_product_id, price_details ->> 'product') as product_id,
    legacy_recurring ->> 'interval' as line_recurring_interval,
    cast(legacy_recurring ->> 'interval_count' as bigint) as line_recurring_interval_count,
    period_start,
    period_end
from raw
