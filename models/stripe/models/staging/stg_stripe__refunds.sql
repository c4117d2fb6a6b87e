{{ stripe_select('refunds', [
    ['id', 'refund_id', 'varchar'],
    ['charge', 'charge_id', 'varchar'],
    ['customer', 'customer_id', 'varchar'],
    ['payment_intent', 'payment_intent_id', 'varchar'],
    ['balance_transaction', 'balance_transaction_id', 'varchar'],
    ['amount', 'amount', 'bigint'],
    ['currency', 'currency', 'varchar'],
    ['status', 'status', 'varchar'],
    ['reason', 'reason', 'varchar'],
    ['created', 'created_at', 'timestamp'],
]) }}
