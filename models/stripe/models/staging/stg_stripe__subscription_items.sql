{#
  One row per subscription item, from the `subscription_items` child table when it is
  loaded, else from the items embedded in `subscriptions.items__data` (at most 10 each).
#}
{%- set item_columns = [
    ['id', 'subscription_item_id', 'varchar'],
    ['subscription_id', 'subscription_id', 'varchar'],
    ['price__id', 'price_id', 'varchar'],
    ['price__product', 'product_id', 'varchar'],
    ['price__unit_amount', 'unit_amount', 'bigint'],
    ['price__currency', 'currency', 'varchar'],
    ['quantity', 'quantity', 'bigint'],
    ['created', 'created_at', 'timestamp'],
] -%}
{%- set use_embedded = not stripe_has_table('subscription_items') and stripe_has_column('subscriptions', 'items__data') -%}

{% if use_embedded %}
select
    item.value ->> 'id' as subscription_item_id,
    subscriptions.id as subscription_id,
    item.value -> 'price' ->> 'id' as price_id,
    item.value -> 'price' ->> 'product' as product_id,
    cast(item.value -> 'price' ->> 'unit_amount' as bigint) as unit_amount,
    item.value -> 'price' ->> 'currency' as currency,
    cast(item.value ->> 'quantity' as bigint) as quantity,
    to_timestamp(cast(item.value ->> 'created' as bigint)) at time zone 'UTC' as created_at
from {{ source('stripe', 'subscriptions') }} as subscriptions, json_each(subscriptions.items__data) as item
{% else %}
{{ stripe_select('subscription_items', item_columns) }}
{% endif %}
