{#
  Time helpers that read the same on PostgreSQL, DuckDB and Spark.
#}

{# The IANA zone the source timestamps are written in: var `source_timezone`, else WAREHOUSE_SOURCE_TIMEZONE, else UTC. #}
{% macro source_timezone() -%}
    {%- set zone = var('source_timezone', '') or env_var('WAREHOUSE_SOURCE_TIMEZONE', 'UTC') -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_+/-]+', zone) -%}
        {{ exceptions.raise_compiler_error("source time zone " ~ zone ~ " is not an IANA zone name such as Europe/Zurich") }}
    {%- endif -%}
    {{- return(zone) -}}
{%- endmacro %}

{# UTC itself: nothing to convert. #}
{% macro is_utc_zone(zone) -%}
    {{ return(zone | upper in ('UTC', 'ETC/UTC')) }}
{%- endmacro %}

{#
  A naive local timestamp in the source zone -> naive UTC timestamp. Both warehouses
  resolve the DST edges alike: a repeated local hour (autumn) is read as standard time,
  the later of the two instants; a skipped local hour (spring) with the offset before
  the change. PostgreSQL has the zone database built in; DuckDB's comes from its ICU
  extension, which the duckdb wheel has statically linked (no download at run time).
  The readings do not rely on that rule: readings_in_utc (macros/local_time.sql) places
  the repeated hour by the dump's order and flags both edges.
#}
{% macro to_utc(column, zone=none) -%}
    {%- set zone = zone or source_timezone() -%}
    {%- if is_utc_zone(zone) -%}
        {{ column }}
    {%- else -%}
        {{ adapter.dispatch('zone_to_utc')(column, zone) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__zone_to_utc(column, zone) -%}
    (({{ column }}) at time zone '{{ zone }}') at time zone 'UTC'
{%- endmacro %}

{#
  Spark has no AT TIME ZONE; its zone database is Java's. A skipped local hour is read
  with the offset before the change, as above; a repeated one as the first pass (summer
  time), unlike above, but the readings never meet that case: on change days
  readings_in_utc computes both offsets itself (macros/local_time.sql).
#}
{% macro spark__zone_to_utc(column, zone) -%}
    to_utc_timestamp({{ column }}, '{{ zone }}')
{%- endmacro %}

{# Seconds (with fraction) from timestamp `start` to timestamp `finish`, as a double. #}
{% macro seconds_between(start, finish) -%}
    {{ return(adapter.dispatch('seconds_between')(start, finish)) }}
{%- endmacro %}

{% macro default__seconds_between(start, finish) -%}
    cast(extract(epoch from ({{ finish }}) - ({{ start }})) as double precision)
{%- endmacro %}

{% macro duckdb__seconds_between(start, finish) -%}
    (cast(epoch_us({{ finish }}) - epoch_us({{ start }}) as double) / 1000000.0)
{%- endmacro %}

{% macro spark__seconds_between(start, finish) -%}
    (cast(unix_micros({{ finish }}) - unix_micros({{ start }}) as double) / 1000000.0)
{%- endmacro %}

{# Whole seconds of an interval (a difference of timestamps), as a number. #}
{% macro interval_seconds(interval) -%}
    {{ return(adapter.dispatch('interval_seconds')(interval)) }}
{%- endmacro %}

{% macro default__interval_seconds(interval) -%}
    extract(epoch from {{ interval }})
{%- endmacro %}

{# Spark extracts no epoch from an interval: the instant that far after 1970-01-01 00:00 UTC (the session's zone). #}
{% macro spark__interval_seconds(interval) -%}
    unix_seconds(timestamp '1970-01-01 00:00:00' + ({{ interval }}))
{%- endmacro %}


{# Aggregates: the value of the group's earliest / latest row by `time` (times unique within the group). #}
{% macro first_by(value, time) -%}
    {{ return(adapter.dispatch('first_by')(value, time)) }}
{%- endmacro %}

{% macro default__first_by(value, time) -%}
    (array_agg({{ value }} order by {{ time }}))[1]
{%- endmacro %}

{% macro duckdb__first_by(value, time) -%}
    arg_min({{ value }}, {{ time }})
{%- endmacro %}

{% macro spark__first_by(value, time) -%}
    min_by({{ value }}, {{ time }})
{%- endmacro %}

{% macro last_by(value, time) -%}
    {{ return(adapter.dispatch('last_by')(value, time)) }}
{%- endmacro %}

{% macro default__last_by(value, time) -%}
    (array_agg({{ value }} order by {{ time }} desc))[1]
{%- endmacro %}

{% macro duckdb__last_by(value, time) -%}
    arg_max({{ value }}, {{ time }})
{%- endmacro %}

{% macro spark__last_by(value, time) -%}
    max_by({{ value }}, {{ time }})
{%- endmacro %}

{#
  dbt-spark's dateadd goes through whole seconds (to_unix_timestamp) and drops the
  fraction; PostgreSQL and DuckDB keep microseconds. timestampadd keeps them.
#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}
