{#-
  Values of `column_name` lie within the plausible range of their signal
  (plausible_min/plausible_max in `signals`). Fails with the number of readings outside.
-#}
{% test within_signal_range(model, column_name, signals, signal_key='signal_id') %}

select
    readings.{{ signal_key }},
    readings.{{ column_name }},
    ranges.plausible_min,
    ranges.plausible_max
from (select * from {{ model }}) as readings
inner join {{ signals }} as ranges
    on ranges.signal_id = readings.{{ signal_key }}
where readings.{{ column_name }} < ranges.plausible_min
   or readings.{{ column_name }} > ranges.plausible_max

{% endtest %}
