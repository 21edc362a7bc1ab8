-- Every row read from a measurements file is accounted for:
--   rows read            = rows in raw + rows rejected by the loader      (per file)
--   rows in raw          = readings kept in analytics.measurements
--                          + raw rows dropped as duplicates + orphan readings
-- and analytics holds no reading of a load that is not current. `dropped` is recomputed
-- here independently of the marts, with the duplicate rule over raw.
-- On a refresh (macros/check_scope.sql) the same balance is checked for what the run
-- changed: the first line per added file, the second over the (signal, day) pairs the
-- run recomputed (readings and duplicates) and per added file (orphans).
{{ config(severity='error') }}
{%- set scoped = check_scope_is_batch() %}
{%- if scoped %}
{%- set batch = current_refresh_batch() %}
{%- endif %}

with ledger as (

    select load_id, source_file, rows_read, rows_loaded, rows_rejected
    from {{ source('raw', 'load_ledger') }}
    where file_kind = 'measurements'
      and status = 'loaded'

),

checked_files as (

    select *
    from ledger
    {%- if scoped %}
    where {{ in_list('load_id', batch.added) }}
    {%- endif %}

),

raw_rows as (

    select load_id, count(*) as n
    from {{ source('raw', 'measurements') }}
    {%- if scoped %}
    where {{ in_list('load_id', batch.added) }}
    {%- endif %}
    group by load_id

),

rejected as (

    select load_id, count(*) as n
    from {{ source('raw', 'rejected_rows') }}
    {%- if scoped %}
    where {{ in_list('load_id', batch.added) }}
    {%- endif %}
    group by load_id

),

known_raw as (

    -- raw rows of known signals, in scope: all of them, or those on the run's pairs
    select staged.load_id, staged.signal_id, staged.measured_at, staged.line_number
    from {{ ref('stg_raw__measurements') }} as staged
    {%- if scoped %}
    {{ join_batch_pairs('staged.signal_id', 'staged.measured_at') }}
    {%- endif %}
    where staged.signal_id in (select signal_id from {{ ref('signals') }})
      and staged.load_id in (select load_id from ledger)
    {%- if scoped %}
      and {{ in_list('staged.load_id', batch.sources) }}
    {%- endif %}

),

kept_readings as (

    select measurements.load_id, measurements.duplicates_dropped
    from {{ ref('measurements') }} as measurements
    {%- if scoped %}
    {{ join_batch_pairs('measurements.signal_id', 'measurements.measured_at') }}
    {%- endif %}

),

orphans as (

    select load_id, sum(n_readings) as n
    from {{ ref('orphan_measurements') }}
    group by load_id

),

{%- if scoped %}

known_per_file as (

    select load_id, count(*) as n
    from {{ ref('stg_raw__measurements') }}
    where {{ in_list('load_id', batch.added) }}
      and signal_id in (select signal_id from {{ ref('signals') }})
    group by load_id

),

balance as (

    select
        (select count(*) from known_raw) as raw_rows,
        (select count(*) from kept_readings) as kept,
        (select coalesce(sum(duplicates_dropped), 0) from kept_readings) as dropped

)

select
    checked_files.load_id,
    checked_files.source_file,
    'rows read <> raw rows + rejected rows, or the ledger counts disagree with the tables' as problem
from checked_files
left join raw_rows on raw_rows.load_id = checked_files.load_id
left join rejected on rejected.load_id = checked_files.load_id
where checked_files.rows_read <> coalesce(raw_rows.n, 0) + coalesce(rejected.n, 0)
   or checked_files.rows_loaded <> coalesce(raw_rows.n, 0)
   or checked_files.rows_rejected <> coalesce(rejected.n, 0)

union all

select
    checked_files.load_id,
    checked_files.source_file,
    'raw rows <> rows of known signals + orphans' as problem
from checked_files
left join raw_rows on raw_rows.load_id = checked_files.load_id
left join known_per_file on known_per_file.load_id = checked_files.load_id
left join orphans on orphans.load_id = checked_files.load_id
where coalesce(raw_rows.n, 0) <> coalesce(known_per_file.n, 0) + coalesce(orphans.n, 0)

union all

select
    cast(null as bigint) as load_id,
    cast(null as {{ dbt.type_string() }}) as source_file,
    'raw rows on the recomputed signal-days <> readings kept + duplicates dropped' as problem
from balance
where raw_rows <> kept + dropped

union all

select
    kept_readings.load_id,
    cast(null as {{ dbt.type_string() }}) as source_file,
    'analytics.measurements holds readings of a load that is not current' as problem
from kept_readings
where kept_readings.load_id not in (select load_id from ledger)

{%- else %}

ranked as (

    select
        load_id,
        {{ duplicate_rule(['signal_id', 'measured_at']) }}
    from known_raw

),

dropped as (

    select load_id, sum(case when duplicate_rank > 1 then 1 else 0 end) as n
    from ranked
    group by load_id

),

kept as (

    select load_id, count(*) as n
    from kept_readings
    group by load_id

),

per_file as (

    select
        ledger.load_id,
        ledger.source_file,
        ledger.rows_read,
        ledger.rows_loaded,
        ledger.rows_rejected,
        coalesce(raw_rows.n, 0) as raw_rows,
        coalesce(rejected.n, 0) as rejected_rows,
        coalesce(kept.n, 0) as kept,
        coalesce(dropped.n, 0) as dropped,
        coalesce(orphans.n, 0) as orphans
    from ledger
    left join raw_rows on raw_rows.load_id = ledger.load_id
    left join rejected on rejected.load_id = ledger.load_id
    left join kept on kept.load_id = ledger.load_id
    left join dropped on dropped.load_id = ledger.load_id
    left join orphans on orphans.load_id = ledger.load_id

)

select
    load_id,
    source_file,
    'rows read <> raw rows + rejected rows, or the ledger counts disagree with the tables' as problem
from per_file
where rows_read <> raw_rows + rejected_rows
   or rows_loaded <> raw_rows
   or rows_rejected <> rejected_rows

union all

select
    load_id,
    source_file,
    'raw rows <> kept + duplicates dropped + orphans' as problem
from per_file
where raw_rows <> kept + dropped + orphans

union all

select
    kept.load_id,
    cast(null as {{ dbt.type_string() }}) as source_file,
    'analytics.measurements holds readings of a load that is not current' as problem
from kept
where kept.load_id not in (select load_id from ledger)

union all

select
    cast(null as bigint) as load_id,
    cast(null as {{ dbt.type_string() }}) as source_file,
    'measurements.duplicates_dropped does not add up to the raw rows dropped' as problem
from (select coalesce(sum(duplicates_dropped), 0) as n from kept_readings) as counted
cross join (select coalesce(sum(n), 0) as n from dropped) as recomputed
where counted.n <> recomputed.n

{%- endif %}
