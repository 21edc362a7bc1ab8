-- The health of every signal on every UTC day from its first reading to the end of the
-- data (the latest reading of any signal), days without readings included.
--   max_gap_seconds  the longest stretch of the day without a reading: between two
--                    readings, or from the day's start (or the signal's first reading
--                    ever) to its first reading, or from its last reading to the day's end
--                    (or the end of the data). A day without readings is one long gap.
--   flatline         the day overlaps a stuck stretch: at least var('flatline_min_readings')
--                    consecutive readings with one unchanged value, spanning at least
--                    var('flatline_hours') hours. Report-by-exception sensors write only
--                    when the value moves; a few equal readings in a row happen through
--                    quantisation, dozens over hours mean the sensor is stuck.
{%- set flatline_seconds = var('flatline_hours') | float * 3600 %}
{%- set flatline_readings = var('flatline_min_readings') | int %}

with signals as (

    select signal_id, plausible_min, plausible_max
    from {{ ref('signals') }}

),

readings as (

    select
        signal_id,
        measured_at,
        value,
        duplicates_dropped,
        cast(measured_at as date) as day_utc
    from {{ ref('measurements') }}

),

data_end as (

    select max(measured_at) as data_end_at
    from readings

),

signal_span as (

    select
        signal_id,
        min(measured_at) as signal_first_at,
        min(day_utc) as first_day
    from readings
    group by signal_id

),

days as (

    select
        signal_id,
        signal_first_at,
        {{ day_series('first_day', 'cast(data_end.data_end_at as date)') }} as day_utc
    from signal_span
    cross join data_end

),

sequenced as (

    select
        readings.*,
        lag(measured_at) over (partition by signal_id, day_utc order by measured_at) as previous_at_same_day,
        lag(value) over (partition by signal_id order by measured_at) as previous_value
    from readings

),

daily as (

    select
        sequenced.signal_id,
        sequenced.day_utc,
        count(*) as n,
        min(sequenced.measured_at) as first_at,
        max(sequenced.measured_at) as last_at,
        max({{ seconds_between('sequenced.previous_at_same_day', 'sequenced.measured_at') }}) as max_inner_gap_seconds,
        sum(sequenced.duplicates_dropped) as duplicates_dropped,
        sum(
            case
                when sequenced.value < signals.plausible_min or sequenced.value > signals.plausible_max then 1
                else 0
            end
        ) as out_of_range
    from sequenced
    left join signals
        on signals.signal_id = sequenced.signal_id
    group by sequenced.signal_id, sequenced.day_utc

),

runs as (

    -- a run: consecutive readings of one signal with the same value
    select
        signal_id,
        measured_at,
        sum(case when previous_value = value then 0 else 1 end)
            over (partition by signal_id order by measured_at rows between unbounded preceding and current row) as run_number
    from sequenced

),

flat_runs as (

    select
        signal_id,
        min(measured_at) as run_start_at,
        max(measured_at) as run_end_at
    from runs
    group by signal_id, run_number
    having count(*) >= {{ flatline_readings }}
       and {{ seconds_between('min(measured_at)', 'max(measured_at)') }} >= {{ flatline_seconds }}

),

day_windows as (

    -- the part of each day the signal could have reported in
    select
        days.signal_id,
        days.day_utc,
        greatest(cast(days.day_utc as timestamp), days.signal_first_at) as window_start_at,
        least({{ dbt.dateadd('day', 1, 'cast(days.day_utc as timestamp)') }}, data_end.data_end_at) as window_end_at
    from days
    cross join data_end

),

flat_days as (

    select distinct
        day_windows.signal_id,
        day_windows.day_utc
    from day_windows
    inner join flat_runs
        on flat_runs.signal_id = day_windows.signal_id
        and flat_runs.run_start_at < {{ dbt.dateadd('day', 1, 'cast(day_windows.day_utc as timestamp)') }}
        and flat_runs.run_end_at > cast(day_windows.day_utc as timestamp)

)

select
    day_windows.signal_id,
    day_windows.day_utc,
    cast(coalesce(daily.n, 0) as bigint) as n,
    daily.first_at,
    daily.last_at,
    cast(
        case
            when daily.n is null
                then {{ seconds_between('day_windows.window_start_at', 'day_windows.window_end_at') }}
            else greatest(
                {{ seconds_between('day_windows.window_start_at', 'daily.first_at') }},
                coalesce(daily.max_inner_gap_seconds, 0),
                {{ seconds_between('daily.last_at', 'day_windows.window_end_at') }}
            )
        end
        as double precision
    ) as max_gap_seconds,
    cast(coalesce(daily.duplicates_dropped, 0) as bigint) as duplicates_dropped,
    cast(coalesce(daily.out_of_range, 0) as bigint) as out_of_range,
    flat_days.signal_id is not null as flatline
from day_windows
left join daily
    on daily.signal_id = day_windows.signal_id
    and daily.day_utc = day_windows.day_utc
left join flat_days
    on flat_days.signal_id = day_windows.signal_id
    and flat_days.day_utc = day_windows.day_utc
