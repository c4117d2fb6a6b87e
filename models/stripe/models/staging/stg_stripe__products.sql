{{ stripe_select('products', [
    ['id', 'product_id', 'varchar'],
    ['name', 'product_name', 'varchar'],
    ['description', 'product_description', 'varchar'],
    ['unit_label', 'unit_label', 'varchar'],
    ['active', 'is_active', 'boolean'],
    ['created', 'created_at', 'timestamp'],
]) }}
