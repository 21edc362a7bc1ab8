{#-
    On an incremental run of a mart with a row per signal and day: the CTEs `signal_bounds`
    (signal_id, signal_first_at), `data_end` (data_end_at) and `days` (signal_id,
    signal_first_at, day_utc), the days to recompute (`days_relation`: signal_id, day_utc)
    kept between each signal's first reading and the end of the data (`bounds_relation`:
    signal_id, first_at, last_at of the readings as they are now).
-#}
{% macro recomputed_days(bounds_relation, days_relation) -%}
signal_bounds as (

    select signal_id, first_at as signal_first_at
    from {{ bounds_relation }}

),

data_end as (

    select max(last_at) as data_end_at
    from {{ bounds_relation }}

),

days as (

    select
        recomputed.signal_id,
        signal_bounds.signal_first_at,
        recomputed.day_utc
    from {{ days_relation }} as recomputed
    inner join signal_bounds
        on signal_bounds.signal_id = recomputed.signal_id
    cross join data_end
    where recomputed.day_utc >= cast(signal_bounds.signal_first_at as date)
      and recomputed.day_utc <= cast(data_end.data_end_at as date)

),
{%- endmacro %}
