"""The failure hook every job's steps carry: a failed step records itself in ops.run_failures.

It runs in the run's own process, wherever the run was launched (`warehouse run`, the UI,
a schedule, a sensor), so a failure is recorded even when no daemon runs the failure
sensor. A hook that cannot reach the warehouse only says so, and an interrupted step
records nothing (its run must end within seconds): the run's event log keeps the
failure, and the sensor or `warehouse failures` records it from there later.
"""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.alerts.failed_runs import clip, step_failure_of
from orchestration.defs.alerts.failure_log import RunFailure, record_failures


@dg.failure_hook(name="record_failed_step", required_resource_keys={"settings"})
def record_failed_step(context: dg.HookContext) -> None:
    if isinstance(context.op_exception, dg.DagsterExecutionInterruptedError | KeyboardInterrupt):
        return  # Ctrl-C or SIGTERM: the run has seconds to end; `warehouse failures` records it
    failure = step_failure_of(context.instance, context.run_id, context.step_key)
    if failure is None:  # the step's failure event not stored (yet): what the step raised
        raised = context.op_exception
        failure = RunFailure(context.run_id, context.job_name, context.step_key,
                             clip(str(raised) if raised is not None else "step failed"), datetime.now(UTC))
    try:
        # One attempt: a stopped run must end within seconds; whatever is missed, the sensor or
        # `warehouse failures` records later.
        record_failures(context.resources.settings, [failure], attempts=1)
    except Exception as error:
        from kernel.database import first_line

        context.log.warning(f"step {context.step_key}'s failure is not in ops.run_failures yet "
                            f"({first_line(error)}); `warehouse failures` records it from the run history")
