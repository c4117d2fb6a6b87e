{{ stripe_select('prices', [
    ['id', 'price_id', 'varchar'],
    ['product', 'product_id', 'varchar'],
    ['nickname', 'price_nickname', 'varchar'],
    ['lookup_key', 'lookup_key', 'varchar'],
    ['type', 'price_type', 'varchar'],
    ['currency', 'currency', 'varchar'],
    ['unit_amount', 'unit_amount', 'bigint'],
    ['recurring__interval', 'recurring_interval', 'varchar'],
    ['recurring__interval_count', 'recurring_interval_count', 'bigint'],
    ['recurring__usage_type', 'recurring_usage_type', 'varchar'],
    ['active', 'is_active', 'boolean'],
    ['created', 'created_at', 'timestamp'],
]) }}
