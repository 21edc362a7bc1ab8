{#
  The duplicate rule, written once for every place that applies it (stg_raw__assets,
  stg_raw__signals, measurements, the test assert_measurement_files_reconcile): raw rows
  with the same key are one row, the row of the most recent load wins (the highest
  load_id), then the later line within that file. Exact duplicates collapse the same way.

  Two columns for a select list over raw rows that carry load_id and line_number:
    duplicate_rank       the row's rank within its key: 1 is the row that is kept
    duplicates_dropped   the other rows of its key, which the kept row wins over
  (Indented for its call sites: select lists at 8 spaces.)
#}
{% macro duplicate_rule(key_columns) -%}
    row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by load_id desc, line_number desc
        ) as duplicate_rank,
        count(*) over (partition by {{ key_columns | join(', ') }}) - 1 as duplicates_dropped
{%- endmacro %}
