{#
  How the incremental measurement marts (measurements, measurements_hourly,
  orphan_measurements) catch up with raw in this run.

  `measurement_inputs` (built first) lists the measurement loads and signal ids in raw
  now; `measurement_inputs_applied` (built last) is a copy of the inputs the marts
  reflected after the previous run. Their difference decides the mode:

    full     first build or --full-refresh: every load in scope.
    append   only new measurement loads arrived: process just those (on PostgreSQL the
             literal load ids prune raw.measurements to their partitions). Load ids only
             grow, so a new load's reading replaces an older one of the same signal and
             time (delete+insert on the key), which is exactly the duplicate rule.
    rebuild  a load the marts used was replaced (its file changed), or the set of signals changed:
             such a change can touch any row, so the pre-hook empties the table and the
             model processes every load in scope again. Rare, and exact.

  Returns {'mode': ..., 'loads': [new load ids]}. `guard_reprocessing` (measurements
  only, whose duplicate counts add up across runs): rebuild instead of appending loads
  that an earlier, unfinished run already applied to the table.
#}
{% macro measurement_batch(guard_reprocessing=false, announce=true) %}
    {%- set inputs = ref('measurement_inputs') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return({'mode': 'full', 'loads': []}) }}
    {%- endif -%}
    {%- set applied = adapter.get_relation(database=inputs.database, schema=inputs.schema, identifier='measurement_inputs_applied') -%}
    {%- if applied is none -%}
        {{ return({'mode': 'rebuild', 'loads': []}) }}
    {%- endif -%}
    {%- set changes = run_query(
        "select coalesce(now_.input_kind, before_.input_kind) as input_kind,
                coalesce(now_.input_id, before_.input_id) as input_id,
                case when before_.input_id is null then 'added' else 'removed' end as change
         from " ~ inputs ~ " as now_
         full outer join " ~ applied ~ " as before_
           on now_.input_kind = before_.input_kind and now_.input_id = before_.input_id
         where now_.input_id is null or before_.input_id is null
         order by 2") -%}
    {%- set added_loads = [] -%}
    {%- set rebuild = [] -%}
    {%- for row in changes.rows -%}
        {%- if row['input_kind'] == 'measurements_load' and row['change'] == 'added' -%}
            {%- do added_loads.append(row['input_id'] | int) -%}
        {%- else -%}
            {%- do rebuild.append(row['input_kind'] ~ ' ' ~ row['input_id'] ~ ' ' ~ row['change']) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if rebuild -%}
        {%- do log(this ~ ": rebuilding, raw changed beyond new loads (" ~ (rebuild[:5] | join(', ')) ~ (', ...' if rebuild | length > 5 else '') ~ ")", info=announce) -%}
        {{ return({'mode': 'rebuild', 'loads': []}) }}
    {%- endif -%}
    {%- if guard_reprocessing and added_loads -%}
        {#- A previous run applied these loads to this table but did not finish the family: redo it from scratch. -#}
        {%- set seen = run_query("select 1 from " ~ this ~ " where load_id in (" ~ (added_loads | join(', ')) ~ ") limit 1") -%}
        {%- if seen.rows | length > 0 -%}
            {%- do log(this ~ ": rebuilding, loads " ~ (added_loads | join(', ')) ~ " were applied by an unfinished run", info=announce) -%}
            {{ return({'mode': 'rebuild', 'loads': []}) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'mode': 'append', 'loads': added_loads}) }}
{% endmacro %}

{# Filter on a load_id column: the batch's loads. #}
{% macro measurement_batch_loads(batch, column) -%}
    {%- if batch.mode == 'append' -%}
        {%- if batch.loads -%}
            {{ column }} in ({{ batch.loads | join(', ') }})
        {%- else -%}
            1 = 0
        {%- endif -%}
    {%- else -%}
        {{ column }} in (select input_id from {{ ref('measurement_inputs') }} where input_kind = 'measurements_load')
    {%- endif -%}
{%- endmacro %}

{# Pre-hook of the incremental measurement marts: empty the table when this run rebuilds it. #}
{% macro empty_if_rebuilding(guard_reprocessing=false) -%}
    {%- if measurement_batch(guard_reprocessing, announce=false).mode == 'rebuild' -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}
