"""``--inject-failure``: which Task state fails on purpose, mapped to the runner that fails it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from retailsage.core.errors import UserError

TRAINING = "training"
TRANSFORM = "transform"
PROCESSING = "processing"
_JOB_RESOURCES = {
    "createTrainingJob": TRAINING,
    "createTransformJob": TRANSFORM,
    "createProcessingJob": PROCESSING,
}


def injectable_states(definition: Mapping[str, Any]) -> dict[str, str]:
    """Map each Task state a local runner executes to what fails it.

    Lambda states map to their function name, training, transform and processing states to
    :data:`TRAINING` / :data:`TRANSFORM` / :data:`PROCESSING`; a Map state maps to what its
    first such nested task maps to. States handled by moto alone (``createModel``,
    ``sns:publish``) cannot fail on request and are left out.

    Args:
        definition: the resolved ASL definition.

    Returns:
        state name -> function name or job kind.
    """
    targets: dict[str, str] = {}
    for name, state in definition.get("States", {}).items():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            nested = injectable_states(processor)
            targets.update(nested)
            if nested:
                targets[name] = next(iter(nested.values()))
        target = _task_target(state)
        if target is not None:
            targets[name] = target
    return targets


def _task_target(state: Mapping[str, Any]) -> str | None:
    """The function name or job kind a Task state runs through, if a local runner runs it."""
    resource = str(state.get("Resource", ""))
    if state.get("Type") != "Task":
        return None
    if ":lambda:invoke" in resource:
        function = str(state.get("Parameters", {}).get("FunctionName", ""))
        return function.split(":function:")[-1].split(":")[0]
    for api, kind in _JOB_RESOURCES.items():
        if f":sagemaker:{api}" in resource:
            return kind
    return None


@dataclass
class FaultPlan:
    """What fails on purpose in the current execution (shared by the Lambda and job runners).

    Attributes:
        functions: Lambda function names that raise ``InjectedFailure``.
        jobs: job kinds (:data:`TRAINING`, :data:`TRANSFORM`, :data:`PROCESSING`) that end
            ``Failed``.
    """

    functions: set[str] = field(default_factory=set)
    jobs: set[str] = field(default_factory=set)

    def arm(self, state: str | None, definition: Mapping[str, Any]) -> None:
        """Fail ``state`` in the next execution (or nothing, for ``None``).

        Args:
            state: a Task state name, or ``None`` to clear the plan.
            definition: the resolved ASL definition.

        Raises:
            UserError: the state does not exist or cannot fail on request.
        """
        self.functions.clear()
        self.jobs.clear()
        if state is None:
            return
        targets = injectable_states(definition)
        if state not in targets:
            raise UserError(
                f"cannot inject a failure into {state!r}; choose one of: {', '.join(targets)}"
            )
        target = targets[state]
        (self.jobs if target in (TRAINING, TRANSFORM, PROCESSING) else self.functions).add(target)
