{#-
    The (signal, day) pairs a refresh recomputes because a signal's first or last reading
    moved, shared by the incremental marts that keep a row per signal and day
    (signal_daily_quality and the time-weighted marts): CTEs to put after an `ends` CTE
    (new_end_day, old_end_day, and what `end_moved` reads).

      touched_signals     the signals of the batch's readings and the changed signals
      signal_changes      per touched signal: its first day before and now, and 'all' (a
                          changed signal, or one that gained or lost every reading) or
                          'first moved' (`first_moved`, over previous_first and bounds)
      bound_change_days   when the end of the data moved (`end_moved`), every signal's days
                          between the old and the new end (the last day's gap runs to the
                          end); the days between a signal's old and new first day; and
                          every day of a signal marked 'all'

    batch_pairs, pending: relations of (signal_id, ...) — the batch's pairs and the changed
    signals; previous_first: (signal_id, first_at) as the mart has it, a relation or a CTE
    named before this one (it may read the two relations, not touched_signals); bounds:
    (signal_id, first_at) as the readings have it now.
-#}
{% macro bound_change_days(batch_pairs, pending, previous_first, bounds, end_moved, first_moved) -%}
         touched_signals as (
             select signal_id from {{ batch_pairs }}
             union
             select signal_id from {{ pending }}
         ),
         signal_changes as (
             select
                 touched_signals.signal_id,
                 cast(previous_first.first_at as date) as old_first_day,
                 cast(bounds.first_at as date) as new_first_day,
                 case
                     when touched_signals.signal_id in (select signal_id from {{ pending }})
                       or previous_first.first_at is null
                       or bounds.first_at is null
                         then 'all'
                     when {{ first_moved }}
                         then 'first moved'
                 end as change
             from touched_signals
             left join {{ previous_first }} as previous_first on previous_first.signal_id = touched_signals.signal_id
             left join {{ bounds }} as bounds on bounds.signal_id = touched_signals.signal_id
         ),
         bound_change_days as (
             select bounds.signal_id, {{ day_series('least(ends.old_end_day, ends.new_end_day)', 'greatest(ends.old_end_day, ends.new_end_day)') }} as day_utc
             from {{ bounds }} as bounds
             cross join ends
             where {{ end_moved }}
             union all
             select signal_id, {{ day_series('least(old_first_day, new_first_day)', 'greatest(old_first_day, new_first_day)') }} as day_utc
             from signal_changes
             where change = 'first moved'
             union all
             select signal_changes.signal_id, {{ day_series(
                    'coalesce(least(signal_changes.old_first_day, signal_changes.new_first_day), ends.new_end_day, ends.old_end_day)',
                    'coalesce(greatest(ends.old_end_day, ends.new_end_day), signal_changes.new_first_day, signal_changes.old_first_day)') }} as day_utc
             from signal_changes
             cross join ends
             where signal_changes.change = 'all'
               and coalesce(signal_changes.old_first_day, signal_changes.new_first_day) is not null
         )
{%- endmacro %}
