{#
  The duplicate rule, written once: among raw rows with the same key, the row of the most
  recent load wins (the highest load_id), then the later line within that file. Returns
  the row's rank within its key (1 = the row that is kept).
#}
{% macro latest_first_rank(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by load_id desc, line_number desc
    )
{%- endmacro %}
