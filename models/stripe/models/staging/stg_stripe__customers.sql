{{ stripe_select('customers', [
    ['id', 'customer_id', 'varchar'],
    ['name', 'customer_name', 'varchar'],
    ['email', 'email', 'varchar'],
    ['description', 'customer_description', 'varchar'],
    ['currency', 'currency', 'varchar'],
    ['address__country', 'country', 'varchar'],
    ['delinquent', 'is_delinquent', 'boolean'],
    ['balance', 'balance', 'bigint'],
    ['created', 'created_at', 'timestamp'],
    ['deleted', 'is_deleted', 'boolean'],
    ['deleted_at', 'deleted_at', 'timestamp'],
]) }}
