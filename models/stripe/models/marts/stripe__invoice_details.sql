{#
  Every invoice with its customer, subscription, lines summary, products and payment.
  Amounts in major units of the invoice's currency.
#}
with invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
    where not coalesce(is_deleted, false)
),

lines as (
    select
        invoice_id,
        count(*) as line_count,
        sum(quantity) as total_quantity,
        count(*) filter (where line_type = 'subscription') as subscription_line_count,
        count(*) filter (where is_proration) as proration_line_count,
        string_agg(distinct product_name, ', ' order by product_name) as product_names,
        string_agg(distinct price_id, ', ' order by price_id) as price_ids
    from {{ ref('stripe__invoice_line_item_details') }}
    group by invoice_id
),

-- the latest charge of each invoice (a retried invoice has several)
charges as (
    select * from {{ ref('stg_stripe__charges') }}
    where invoice_id is not null
    qualify row_number() over (partition by invoice_id order by created_at desc, charge_id desc) = 1
),

customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
)

select
    invoices.invoice_id,
    invoices.invoice_number,
    invoices.status,
    invoices.billing_reason,
    invoices.collection_method,
    invoices.currency,
    {{ stripe_to_major('invoices.amount_due', 'invoices.currency') }} as amount_due,
    {{ stripe_to_major('invoices.amount_paid', 'invoices.currency') }} as amount_paid,
    {{ stripe_to_major('invoices.amount_remaining', 'invoices.currency') }} as amount_remaining,
    {{ stripe_to_major('invoices.subtotal', 'invoices.currency') }} as subtotal,
    {{ stripe_to_major('invoices.total', 'invoices.currency') }} as total,
    invoices.attempt_count,
    invoices.created_at,
    invoices.period_start,
    invoices.period_end,
    invoices.due_date,
    invoices.finalized_at,
    invoices.paid_at,
    invoices.voided_at,
    invoices.customer_id,
    customers.customer_name,
    customers.email as customer_email,
    invoices.subscription_id,
    subscriptions.status as subscription_status,
    subscriptions.start_date as subscription_start_date,
    coalesce(lines.line_count, 0) as line_count,
    coalesce(lines.total_quantity, 0) as total_quantity,
    coalesce(lines.subscription_line_count, 0) as subscription_line_count,
    coalesce(lines.proration_line_count, 0) as proration_line_count,
    lines.product_names,
    lines.price_ids,
    charges.charge_id as latest_charge_id,
    charges.status as latest_charge_status,
    charges.failure_code as latest_charge_failure_code
from invoices
left join lines on lines.invoice_id = invoices.invoice_id
left join charges on charges.invoice_id = invoices.invoice_id
left join customers on customers.customer_id = invoices.customer_id
left join subscriptions on subscriptions.subscription_id = invoices.subscription_id
