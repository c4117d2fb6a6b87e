{#
  Stripe amounts are integers in the currency's smallest unit: cents for USD and EUR, but
  yen for JPY (zero-decimal) and fils for KWD (three-decimal). Dividing everything by 100
  would make a 5,000 JPY invoice 50 JPY. Lists from https://docs.stripe.com/currencies.
#}

{% macro stripe_currency_exponent(currency) -%}
  case
    when lower({{ currency }}) in (
      'bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga',
      'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'
    ) then 0
    when lower({{ currency }}) in ('bhd', 'jod', 'kwd', 'omr', 'tnd') then 3
    else 2
  end
{%- endmacro %}

{% macro stripe_to_major(amount, currency) -%}
  {#- An amount in the smallest unit as DECIMAL(38, 4) in major units (dollars, yen, dinars). -#}
  cast(({{ amount }}) / power(10, {{ stripe_currency_exponent(currency) }}) as decimal(38, 4))
{%- endmacro %}

{% macro stripe_monthly_factor(interval, interval_count) -%}
  {#-
    What one billing period's amount is worth per month: a year is 12 months, a week
    52/12 of one per month, a day 365/12; an interval_count of 3 spreads it over 3 of them.
  -#}
  (case lower({{ interval }})
      when 'month' then 1.0
      when 'year' then 1.0 / 12
      when 'week' then 52.0 / 12
      when 'day' then 365.0 / 12
  end / nullif(coalesce({{ interval_count }}, 1), 0))
{%- endmacro %}
