-- Every row read from a measurements file is accounted for, per file:
--   rows read            = rows in raw + rows rejected by the loader
--   rows in raw          = readings kept in analytics.measurements
--                          + raw rows dropped as duplicates + orphan readings
-- and analytics holds no reading of a load that is not current. `dropped` is recomputed
-- here independently of the marts, with the duplicate rule over all of raw.
{{ config(severity='error') }}

with ledger as (

    select load_id, source_file, rows_read, rows_loaded, rows_rejected
    from {{ source('raw', 'load_ledger') }}
    where file_kind = 'measurements'
      and status = 'loaded'

),

raw_rows as (

    select load_id, count(*) as n
    from {{ source('raw', 'measurements') }}
    group by load_id

),

rejected as (

    select load_id, count(*) as n
    from {{ source('raw', 'rejected_rows') }}
    group by load_id

),

ranked as (

    select
        load_id,
        row_number() over (
            partition by signal_id, measured_at
            order by load_id desc, line_number desc
        ) as precedence
    from {{ ref('stg_raw__measurements') }}
    where signal_id in (select signal_id from {{ ref('signals') }})
      and load_id in (select load_id from ledger)

),

dropped as (

    select load_id, sum(case when precedence > 1 then 1 else 0 end) as n
    from ranked
    group by load_id

),

kept as (

    select load_id, count(*) as n
    from {{ ref('measurements') }}
    group by load_id

),

orphans as (

    select load_id, sum(n_readings) as n
    from {{ ref('orphan_measurements') }}
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
from (select coalesce(sum(duplicates_dropped), 0) as n from {{ ref('measurements') }}) as counted
cross join (select coalesce(sum(n), 0) as n from dropped) as recomputed
where counted.n <> recomputed.n
