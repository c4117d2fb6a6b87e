{#
  Monthly recurring revenue per customer, month and currency, with its movement class.
  The rules are documented in marts.yml (stripe__mrr_by_month); in short: MRR at a month is
  the month-normalised amount of every subscription line whose billed period covers the
  month's last instant (the current month: now), from invoice history, never summed across
  currencies.
#}
{%- set as_of = var('stripe_as_of') -%}

with as_of as (
    select
        {% if as_of -%}
        cast('{{ as_of }}' as timestamp)
        {%- else -%}
        cast(current_timestamp at time zone 'UTC' as timestamp)
        {%- endif %} as as_of_at
),

lines as (
    select
        lines.*,
        invoices.customer_id,
        subscriptions.ended_at as subscription_ended_at,
        coalesce(prices.recurring_interval, lines.line_recurring_interval) as price_interval,
        coalesce(prices.recurring_interval_count, lines.line_recurring_interval_count) as price_interval_count
    from {{ ref('stg_stripe__invoice_lines') }} as lines
    join {{ ref('stg_stripe__invoices') }} as invoices on invoices.invoice_id = lines.invoice_id
    left join {{ ref('stg_stripe__subscriptions') }} as subscriptions
        on subscriptions.subscription_id = lines.subscription_id
    left join {{ ref('stg_stripe__prices') }} as prices on prices.price_id = lines.price_id
    where lines.line_type = 'subscription'
        and not lines.is_proration
        and invoices.status not in ('draft', 'void')
        and not coalesce(invoices.is_deleted, false)
        and invoices.customer_id is not null
        and lines.period_start is not null
        and lines.period_end > lines.period_start
),

normalised as (
    select
        customer_id,
        lower(currency) as currency,
        subscription_id,
        period_start,
        -- a subscription canceled mid-period stops counting when it ended
        least(period_end, coalesce(subscription_ended_at, period_end)) as effective_end,
        amount * {{ stripe_monthly_factor(
            "coalesce(price_interval, case
                when date_diff('day', period_start, period_end) >= 360 then 'year'
                when date_diff('day', period_start, period_end) between 6 and 8 then 'week'
                when date_diff('day', period_start, period_end) <= 1 then 'day'
                else 'month' end)",
            'price_interval_count'
        ) }} as monthly_amount
    from lines
),

months as (
    select
        cast(month_start as date) as month,
        least(month_start + interval 1 month - interval 1 microsecond, as_of.as_of_at) as snapshot_at
    from as_of,
        (select min(date_trunc('month', period_start)) as first_month from normalised) as bounds,
        unnest(generate_series(
            bounds.first_month, date_trunc('month', as_of.as_of_at), interval 1 month
        )) as spine(month_start)
),

active as (
    select
        normalised.customer_id,
        normalised.currency,
        months.month,
        sum(normalised.monthly_amount) as mrr_minor,
        count(distinct normalised.subscription_id) as subscription_count
    from normalised
    join months
        on normalised.period_start <= months.snapshot_at
        and normalised.effective_end > months.snapshot_at
    group by all
    having sum(normalised.monthly_amount) > 0
),

-- every month from a customer's first MRR in a currency to now, zeros included
series as (
    select
        firsts.customer_id,
        firsts.currency,
        months.month,
        coalesce(active.mrr_minor, 0) as mrr_minor,
        coalesce(active.subscription_count, 0) as subscription_count
    from (
        select customer_id, currency, min(month) as first_month from active group by all
    ) as firsts
    join months on months.month >= firsts.first_month
    left join active
        on active.customer_id = firsts.customer_id
        and active.currency = firsts.currency
        and active.month = months.month
),

movements as (
    select
        *,
        coalesce(
            lag(mrr_minor) over (partition by customer_id, currency order by month), 0
        ) as previous_mrr_minor,
        coalesce(
            max(mrr_minor) over (
                partition by customer_id, currency order by month
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) > 0 as had_mrr_before
    from series
),

classified as (
    select
        *,
        case
            when previous_mrr_minor = 0 and mrr_minor > 0 and not had_mrr_before then 'new'
            when previous_mrr_minor = 0 and mrr_minor > 0 then 'reactivated'
            when previous_mrr_minor > 0 and mrr_minor = 0 then 'churned'
            when mrr_minor > previous_mrr_minor then 'expansion'
            when mrr_minor < previous_mrr_minor then 'contraction'
            else 'unchanged'
        end as movement
    from movements
    -- months after a churn with nothing before and nothing now say nothing
    where mrr_minor > 0 or previous_mrr_minor > 0
)

select
    customer_id || '|' || strftime(month, '%Y-%m') || '|' || currency as mrr_id,
    customer_id,
    month,
    currency,
    {{ stripe_to_major('mrr_minor', 'currency') }} as mrr,
    {{ stripe_to_major('previous_mrr_minor', 'currency') }} as previous_mrr,
    {{ stripe_to_major('mrr_minor - previous_mrr_minor', 'currency') }} as mrr_change,
    movement,
    {{ stripe_to_major("case when movement = 'new' then mrr_minor else 0 end", 'currency') }} as new_mrr,
    {{ stripe_to_major("case when movement = 'expansion' then mrr_minor - previous_mrr_minor else 0 end", 'currency') }} as expansion_mrr,
    {{ stripe_to_major("case when movement = 'contraction' then mrr_minor - previous_mrr_minor else 0 end", 'currency') }} as contraction_mrr,
    {{ stripe_to_major("case when movement = 'churned' then -previous_mrr_minor else 0 end", 'currency') }} as churned_mrr,
    {{ stripe_to_major("case when movement = 'reactivated' then mrr_minor else 0 end", 'currency') }} as reactivation_mrr,
    mrr_minor,
    subscription_count
from classified
