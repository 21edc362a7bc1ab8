{#-
  A time-weighted mart with buckets longer than 15 minutes (`bucket`: 'hour' or 'day',
  keyed by signal_id and `time_column`) agrees with the 15-minute intervals inside each
  bucket (`intervals`, measurements_15min): the same covered seconds and integral, and
  its avg_time_weighted lies between the lowest and the highest value that holds in the
  bucket (the intervals' min and max: the readings and the values carried in). Both
  sides are computed from the same hold intervals cut at different edges, so this also
  checks the split at bucket edges. Tolerances: 1e-6 s, and 1e-9 relative (to the sum
  of the intervals' absolute integrals, which positive and negative power can cancel).
-#}
{% test time_weighted_agrees_with_intervals(model, time_column, bucket, intervals) %}

with buckets as (

    select signal_id, {{ time_column }} as bucket_at, covered_seconds, avg_time_weighted
    from {{ model }}

),

inside as (

    select
        buckets.signal_id,
        buckets.bucket_at,
        sum(quarter.covered_seconds) as covered_seconds,
        sum(coalesce(quarter.avg_time_weighted * quarter.covered_seconds, 0)) as integral,
        sum(coalesce(abs(quarter.avg_time_weighted * quarter.covered_seconds), 0)) as magnitude,
        min(quarter.min) as held_min,
        max(quarter.max) as held_max
    from buckets
    inner join {{ intervals }} as quarter
        on quarter.signal_id = buckets.signal_id
        -- equal on the bucket (a hash join over whole tables), within it (an index range
        -- per bucket when the test reads only a refresh's buckets)
        and {{ bucket_start('quarter.interval_start_utc', bucket) }} = cast(buckets.bucket_at as timestamp)
        and quarter.interval_start_utc >= cast(buckets.bucket_at as timestamp)
        and quarter.interval_start_utc < cast(buckets.bucket_at as timestamp) + {{ time_weight_bucket(bucket).interval }}
    group by buckets.signal_id, buckets.bucket_at

)

select
    buckets.signal_id,
    buckets.bucket_at,
    buckets.covered_seconds,
    buckets.avg_time_weighted,
    inside.covered_seconds as intervals_covered_seconds,
    inside.integral as intervals_integral,
    inside.held_min,
    inside.held_max
from buckets
left join inside
    on inside.signal_id = buckets.signal_id
    and inside.bucket_at = buckets.bucket_at
where abs(buckets.covered_seconds - coalesce(inside.covered_seconds, 0)) > 1e-6
   or abs(coalesce(buckets.avg_time_weighted * buckets.covered_seconds, 0) - coalesce(inside.integral, 0))
      > 1e-9 * (1 + coalesce(inside.magnitude, 0))
   or (buckets.avg_time_weighted is not null
       and (buckets.avg_time_weighted < inside.held_min - 1e-9 * (1 + abs(inside.held_min))
            or buckets.avg_time_weighted > inside.held_max + 1e-9 * (1 + abs(inside.held_max))))

{% endtest %}
