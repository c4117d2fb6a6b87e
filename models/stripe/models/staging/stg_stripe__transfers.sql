{{ stripe_select('transfers', [
    ['id', 'transfer_id', 'varchar'],
    ['balance_transaction', 'balance_transaction_id', 'varchar'],
    ['destination', 'destination', 'varchar'],
    ['amount', 'amount', 'bigint'],
    ['amount_reversed', 'amount_reversed', 'bigint'],
    ['currency', 'currency', 'varchar'],
    ['reversed', 'is_reversed', 'boolean'],
    ['description', 'description', 'varchar'],
    ['created', 'created_at', 'timestamp'],
]) }}
