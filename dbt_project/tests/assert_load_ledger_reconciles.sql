-- The ledger and the raw tables agree, load by load: for every current load,
-- rows_loaded = its rows in the raw table and rows_rejected = its rows in
-- raw.rejected_rows; and raw holds no row of a load that is not current ('replaced'
-- loads have their rows deleted, 'failed' ones never commit any).
-- On a refresh (macros/check_scope.sql) only the loads this run added or removed are
-- checked; on PostgreSQL their literal ids reach just their partitions.
{{ config(severity='error') }}
{%- set scoped = check_scope_is_batch() %}
{%- if scoped %}
{%- set added = batch_load_ids('added') %}
{%- set in_batch = in_list('load_id', added + batch_load_ids('removed')) %}
{%- endif %}

with ledger as (

    select load_id, source_file, file_kind, rows_loaded, rows_rejected
    from {{ source('raw', 'load_ledger') }}
    where status = 'loaded'
    {%- if scoped %}
      and {{ in_list('load_id', added) }}
    {%- endif %}

),

raw_rows as (

    select load_id, 'assets' as file_kind, count(*) as n from {{ source('raw', 'assets') }}
    {%- if scoped %} where {{ in_batch }}{% endif %} group by load_id
    union all
    select load_id, 'signals' as file_kind, count(*) as n from {{ source('raw', 'signals') }}
    {%- if scoped %} where {{ in_batch }}{% endif %} group by load_id
    union all
    select load_id, 'measurements' as file_kind, count(*) as n from {{ source('raw', 'measurements') }}
    {%- if scoped %} where {{ in_batch }}{% endif %} group by load_id

),

rejected as (

    select load_id, count(*) as n
    from {{ source('raw', 'rejected_rows') }}
    {%- if scoped %} where {{ in_batch }}{% endif %}
    group by load_id

)

select
    ledger.load_id,
    ledger.file_kind,
    ledger.source_file,
    ledger.rows_loaded,
    coalesce(raw_rows.n, 0) as raw_rows,
    ledger.rows_rejected,
    coalesce(rejected.n, 0) as rejected_rows
from ledger
left join raw_rows
    on raw_rows.load_id = ledger.load_id
    and raw_rows.file_kind = ledger.file_kind
left join rejected
    on rejected.load_id = ledger.load_id
where ledger.rows_loaded <> coalesce(raw_rows.n, 0)
   or ledger.rows_rejected <> coalesce(rejected.n, 0)

union all

select
    raw_rows.load_id,
    raw_rows.file_kind,
    cast(null as {{ dbt.type_string() }}) as source_file,
    cast(null as bigint) as rows_loaded,
    raw_rows.n as raw_rows,
    cast(null as bigint) as rows_rejected,
    cast(null as bigint) as rejected_rows
from raw_rows
where raw_rows.load_id not in (select load_id from ledger)
