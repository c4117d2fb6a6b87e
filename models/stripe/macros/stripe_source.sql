{#
  Typed, defensive selects over the raw tables sluice loads.

  dlt creates a table only when its first row arrives and adds a column only when a value
  appears, so a young account may lack `disputes`, or `charges.failure_code`. Every staging
  model selects through `stripe_select`, which reads the table's real columns from the
  warehouse: a missing column becomes a typed NULL and a missing table an empty relation with
  the same columns, so the marts build on any account and fill in as data arrives.
#}

{% macro stripe_relation(table) %}
  {#- The raw table as a relation, or none when it is not loaded (yet). -#}
  {%- set src = source('stripe', table) -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(adapter.get_relation(database=src.database, schema=src.schema, identifier=src.identifier)) }}
{% endmacro %}

{% macro stripe_columns(relation) %}
  {#- {lowercase column name: lowercase data type} of a relation ({} for none). -#}
  {%- set present = {} -%}
  {%- if relation is not none -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do present.update({column.name | lower: column.data_type | lower}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(present) }}
{% endmacro %}

{% macro stripe_cast(expression, type, actual) %}
  {#-
    Cast one raw value to `type`. `timestamp` means a naive UTC timestamp, whatever the raw
    type: unix seconds (BIGINT, as Stripe sends them and as older loads stored them) or a
    TIMESTAMP WITH TIME ZONE (dlt's type for the fields it recognises as times).
  -#}
  {%- if type == 'timestamp' and 'int' in actual -%}
    (to_timestamp({{ expression }}) at time zone 'UTC')
  {%- elif type == 'timestamp' and 'time zone' in actual -%}
    ({{ expression }} at time zone 'UTC')
  {%- else -%}
    cast({{ expression }} as {{ type }})
  {%- endif -%}
{% endmacro %}

{% macro stripe_select(table, columns) %}
  {#-
    `select <columns> from <raw table>` where `columns` is a list of
    [raw name, output name, type]; see the comment at the top of this file.
  -#}
  {%- set relation = stripe_relation(table) -%}
  {%- set present = stripe_columns(relation) -%}
select
  {%- for name, alias, type in columns %}
  {% if name | lower in present -%}
    {{ stripe_cast(adapter.quote(name), type, present[name | lower]) }}
  {%- else -%}
    cast(null as {{ type }})
  {%- endif %} as {{ alias }}{{ "," if not loop.last }}
  {%- endfor %}
  {%- if relation is not none %}
from {{ relation }}
  {%- else %}
-- {{ table }} is not loaded (yet): no rows, same columns
where false
  {%- endif %}
{% endmacro %}

{% macro stripe_has_table(table) %}
  {{ return(stripe_relation(table) is not none) }}
{% endmacro %}

{% macro stripe_has_column(table, column) %}
  {{ return(column | lower in stripe_columns(stripe_relation(table))) }}
{% endmacro %}
