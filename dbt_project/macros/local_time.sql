{#
  The readings' local wall times -> UTC instants, daylight-saving time included.

  The dumps write naive local times of the source zone (WAREHOUSE_SOURCE_TIMEZONE). Two
  nights a year that is not one instant per wall time:

  * The autumn change repeats an hour (Europe/Zurich, 2021-10-31: 02:00-03:00 occurs
    first in summer time, +02:00, then again in standard time, +01:00). Which pass a
    reading belongs to is read from the dump's own order: a block (one signal, one
    stretch of time) is written newest first, so where a block crosses the change its
    wall times, going down the file, fall through the second pass and then jump back
    up into the first. Within one load and signal, a chain of repeated-hour readings
    on consecutive lines with exactly one such jump is resolved: the lines before the
    jump are the second pass (standard time), those after it the first (summer time)
    -> 'repeated_resolved'.
    Any other repeated-hour reading (no jump in its chain: a block that starts, ends or
    is quiet in the hour; or more than one jump) cannot be placed by the order ->
    'repeated_ambiguous', read as standard time, the later instant, except that two
    readings are never collapsed into one: when the load holds, for the signal and that
    wall time, a value that an ordered reading places, an ambiguous reading of the same
    value takes its place (a duplicate line); when it holds exactly two different values,
    they take the two passes (the one an ordered reading places keeps its pass; if
    neither is placed, the one on the earlier line is standard time).
  * The spring change skips an hour (2022-03-27 02:00-03:00 does not exist in Zurich).
    A reading there is kept, read with the offset before the change (02:30 is 01:30 UTC,
    as a clock not yet switched would mean; both warehouses' own rule) -> 'skipped'.

  Everything is decided within one load (one file), so a load's instants never depend on
  another load: the refresh batch's coverage (macros/refresh_batch.sql) stays exact.

  Cost: readings on days without a change are converted row by row as before (a hash
  lookup of their day in the zone's change days, zone_change_days below, decides); only
  readings on change days (four local days a year in Europe) go through the windows that
  read the order. In UTC (the default) nothing of this is compiled in.
#}

{# Naive UTC timestamp -> naive local wall time of the source zone. #}
{% macro from_utc(column, zone=none) -%}
    {%- set zone = zone or source_timezone() -%}
    {{ adapter.dispatch('utc_to_zone')(column, zone) }}
{%- endmacro %}

{% macro default__utc_to_zone(column, zone) -%}
    (({{ column }}) at time zone 'UTC') at time zone '{{ zone }}'
{%- endmacro %}

{% macro spark__utc_to_zone(column, zone) -%}
    from_utc_timestamp({{ column }}, '{{ zone }}')
{%- endmacro %}

{#
  The local days on which the zone's UTC offset may change: the offset at noon of the day
  before (offset_before) differs from the offset at noon of the day after (offset_after).
  A change lies on two such days (it can fall on either side of midnight); a reading on
  one of them fits offset_before, offset_after, both (the repeated hour) or neither (the
  skipped hour). Asked of the warehouse's own zone database when the SQL is compiled, for
  the local days from 1970 to 2100, and written into the SQL as literals: a literal list
  is a hash lookup per row on both warehouses, which a join to a computed table is not
  on PostgreSQL (it cannot estimate it and sorts the whole load to merge-join it).
  Returns a list of (local day 'YYYY-MM-DD', offset before, offset after in seconds).
#}
{% macro zone_change_days(zone) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select
            cast(local_day as {{ dbt.type_string() }}),
            cast({{ interval_seconds('offset_before') }} as bigint),
            cast({{ interval_seconds('offset_after') }} as bigint)
        from (
            select
                local_day,
                lag(utc_offset) over (order by local_day) as offset_before,
                lead(utc_offset) over (order by local_day) as offset_after
            from (
                select local_day, local_noon - {{ to_utc('local_noon', zone) }} as utc_offset
                from (
                    select local_day, cast(local_day as timestamp) + interval '12 hours' as local_noon
                    from (select {{ day_series("date '1970-01-01'", "date '2100-12-31'") }} as local_day) as days
                ) as noons
            ) as offsets
        ) as neighbours
        where offset_before <> offset_after
        order by local_day
    {%- endset -%}
    {%- set days = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do days.append((row[0], row[1] | int, row[2] | int)) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}

{#
  The change days as a relation `change_days (local_day, offset_before, offset_after)`:
  the literal list (`values`). On Spark the list would make the view's text longer than
  the Derby metastore keeps (32,700 characters), so Spark computes the same days in the
  query, from its zone database, as zone_change_days does.
#}
{% macro change_days_relation(values, zone) -%}
    {{ return(adapter.dispatch('change_days_relation')(values, zone)) }}
{%- endmacro %}

{% macro default__change_days_relation(values, zone) -%}
    {{ values }}
{%- endmacro %}

{% macro spark__change_days_relation(values, zone) -%}
    (
            select local_day, offset_before, offset_after
            from (
                select
                    local_day,
                    lag(utc_offset) over (order by local_day) as offset_before,
                    lead(utc_offset) over (order by local_day) as offset_after
                from (
                    select local_day, local_noon - {{ to_utc('local_noon', zone) }} as utc_offset
                    from (
                        select local_day, cast(local_day as timestamp) + interval '12 hours' as local_noon
                        from (select {{ day_series("date '1970-01-01'", "date '2100-12-31'") }} as local_day) as days
                    ) as noons
                ) as offsets
            ) as neighbours
            where offset_before <> offset_after
        ) as change_days
{%- endmacro %}

{# Whether the local day `day` is a change day: a literal list, or on Spark the join alone. #}
{% macro change_day_filter(day, day_list) -%}
    {{ return(adapter.dispatch('change_day_filter')(day, day_list)) }}
{%- endmacro %}

{% macro default__change_day_filter(day, day_list) -%}
    {{ day }} in ({{ day_list }})
{%- endmacro %}

{% macro spark__change_day_filter(day, day_list) -%}
    1 = 1
{%- endmacro %}

{#
  Every row of `raw` (raw.measurements, or a fixture of it), renamed, typed and with its
  time in UTC: signal_id, measured_at, measured_at_local, value, load_id, source_file,
  line_number, loaded_at, local_time_flag (null, 'repeated_resolved',
  'repeated_ambiguous' or 'skipped'). `where` (optional) filters raw's rows, e.g. to
  some loads; a filter on load_id from outside reaches raw as well, as every window
  below is partitioned by load.
#}
{% macro readings_in_utc(raw, where=none) -%}
    {%- set zone = source_timezone() -%}
    {%- set change_days = [] if is_utc_zone(zone) else zone_change_days(zone) -%}
    {%- set raw_filter = ('and (' ~ where ~ ')') if where else '' -%}
    {%- set day_list -%}
        {%- for day in change_days %}date '{{ day[0] }}'{{ ', ' if not loop.last }}{% endfor -%}
    {%- endset -%}
    {%- set change_days_values -%}
        (
            values
            {%- for day in change_days %}
            (date '{{ day[0] }}', interval '{{ day[1] }} seconds', interval '{{ day[2] }} seconds'){{ ',' if not loop.last }}
            {%- endfor %}
        ) as change_days (local_day, offset_before, offset_after)
    {%- endset %}
    {%- if change_days %}
    with on_change_days as (

        -- readings of the change days, with the instant each of the two offsets gives
        select
            cast(raw_rows.signal_id as bigint) as signal_id,
            cast(raw_rows.ts as timestamp) as ts,
            cast(raw_rows.measurement_value as {{ type_double() }}) as value,
            cast(raw_rows.load_id as bigint) as load_id,
            raw_rows.source_file,
            cast(raw_rows.line_number as bigint) as line_number,
            raw_rows.loaded_at,
            raw_rows.ts - change_days.offset_before as before_at,
            raw_rows.ts - change_days.offset_after as after_at,
            {{ from_utc('raw_rows.ts - change_days.offset_before', zone) }} = raw_rows.ts as fits_before,
            {{ from_utc('raw_rows.ts - change_days.offset_after', zone) }} = raw_rows.ts as fits_after
        from {{ raw }} as raw_rows
        inner join {{ change_days_relation(change_days_values, zone) }}
            on change_days.local_day = cast(raw_rows.ts as date)
        where {{ change_day_filter('cast(raw_rows.ts as date)', day_list) }} {{ raw_filter }}

    ),

    kinds as (

        -- one instant fits, both (the repeated hour), or none (the skipped hour)
        select
            *,
            case
                when fits_before and fits_after then 'repeated'
                when fits_before or fits_after then 'plain'
                else 'skipped'
            end as local_time
        from on_change_days

    ),

    neighbours as (

        select
            *,
            coalesce(lag(line_number) over same_kind = line_number - 1, false) as follows,
            lag(ts) over same_kind as previous_ts
        from kinds
        window same_kind as (partition by load_id, signal_id, local_time order by line_number)

    ),

    chains as (

        -- a chain: readings of one signal in the repeated hour on consecutive lines; a
        -- rise: the wall time jumps up from the line before
        select
            *,
            sum(case when follows then 0 else 1 end)
                over (partition by load_id, signal_id, local_time order by line_number rows between unbounded preceding and current row)
                as chain_number,
            case when follows and ts > previous_ts then 1 else 0 end as rise
        from neighbours

    ),

    ordered as (

        -- a chain with exactly one rise: the lines before it are the second pass (2,
        -- standard time), the lines from it on the first (1, summer time)
        select
            *,
            case
                when sum(rise) over (partition by load_id, signal_id, local_time, chain_number) = 1
                    then case when sum(rise) over (partition by load_id, signal_id, local_time, chain_number
                                                   order by line_number rows between unbounded preceding and current row) = 0
                              then 2 else 1 end
            end as ordered_pass
        from chains

    ),

    same_wall_time as (

        -- the values the file holds for the signal at one wall time, and where the order put them
        select
            *,
            max(ordered_pass) over same_value as value_pass,
            min(line_number) over same_value as value_first_line,
            min(line_number) over same_time as time_first_line,
            dense_rank() over (partition by load_id, signal_id, local_time, ts order by value) as value_rank
        from ordered
        window same_value as (partition by load_id, signal_id, local_time, ts, value),
               same_time as (partition by load_id, signal_id, local_time, ts)

    ),

    values_at_time as (

        select
            *,
            max(value_rank) over same_time as values_at_time,
            max(case when value_rank = 1 then value_pass end) over same_time as first_value_pass,
            max(case when value_rank = 2 then value_pass end) over same_time as second_value_pass
        from same_wall_time
        window same_time as (partition by load_id, signal_id, local_time, ts)

    ),

    passes as (

        -- placed by the order; else the place of the same value placed by the order; else,
        -- of two values at one wall time, the pass the other leaves free (by line if
        -- neither is placed); else standard time
        select
            *,
            case
                when ordered_pass is not null then ordered_pass
                when value_pass is not null then value_pass
                when values_at_time = 2 then coalesce(
                    3 - case when value_rank = 1 then second_value_pass else first_value_pass end,
                    case when value_first_line = time_first_line then 2 else 1 end
                )
                else 2
            end as pass,
            ordered_pass is not null or value_pass is not null as placed_by_order
        from values_at_time

    )

    {% endif -%}
    -- days without a change: one offset, the plain conversion
    select
        cast(raw_rows.signal_id as bigint) as signal_id,
        cast({{ to_utc('raw_rows.ts', zone) }} as timestamp) as measured_at,
        cast(raw_rows.ts as timestamp) as measured_at_local,
        cast(raw_rows.measurement_value as {{ type_double() }}) as value,
        cast(raw_rows.load_id as bigint) as load_id,
        raw_rows.source_file,
        cast(raw_rows.line_number as bigint) as line_number,
        raw_rows.loaded_at,
        cast(null as {{ dbt.type_string() }}) as local_time_flag
    from {{ raw }} as raw_rows
    {%- if change_days %}
    left join {{ change_days_relation(change_days_values, zone) }}
        on change_days.local_day = cast(raw_rows.ts as date)
    where change_days.local_day is null {{ raw_filter }}

    union all

    -- change days: the offset that fits, and in the repeated hour the pass
    select
        signal_id,
        cast(
            case
                when local_time = 'plain' then case when fits_before then before_at else after_at end
                when local_time = 'skipped' then before_at
                when pass = 1 then before_at
                else after_at
            end
            as timestamp
        ) as measured_at,
        ts as measured_at_local,
        value,
        load_id,
        source_file,
        line_number,
        loaded_at,
        cast(
            case
                when local_time = 'skipped' then 'skipped'
                when local_time = 'repeated' and placed_by_order then 'repeated_resolved'
                when local_time = 'repeated' then 'repeated_ambiguous'
            end
            as {{ dbt.type_string() }}
        ) as local_time_flag
    from passes
    {%- else %}
    where 1 = 1 {{ raw_filter }}
    {%- endif %}
{%- endmacro %}
