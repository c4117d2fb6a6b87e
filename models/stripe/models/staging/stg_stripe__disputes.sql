{{ stripe_select('disputes', [
    ['id', 'dispute_id', 'varchar'],
    ['charge', 'charge_id', 'varchar'],
    ['payment_intent', 'payment_intent_id', 'varchar'],
    ['amount', 'amount', 'bigint'],
    ['currency', 'currency', 'varchar'],
    ['status', 'status', 'varchar'],
    ['reason', 'reason', 'varchar'],
    ['created', 'created_at', 'timestamp'],
]) }}
