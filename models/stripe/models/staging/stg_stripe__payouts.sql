{{ stripe_select('payouts', [
    ['id', 'payout_id', 'varchar'],
    ['balance_transaction', 'balance_transaction_id', 'varchar'],
    ['amount', 'amount', 'bigint'],
    ['currency', 'currency', 'varchar'],
    ['status', 'status', 'varchar'],
    ['type', 'payout_type', 'varchar'],
    ['method', 'method', 'varchar'],
    ['automatic', 'is_automatic', 'boolean'],
    ['destination', 'destination', 'varchar'],
    ['description', 'description', 'varchar'],
    ['created', 'created_at', 'timestamp'],
    ['arrival_date', 'arrival_date', 'timestamp'],
]) }}
