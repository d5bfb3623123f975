"""Every patch to moto's internals that lets its Step Functions engine run real project code.

moto 5.2.5's engine (ported from LocalStack) cannot run Lambda code without Docker and rejects
the ``.sync`` SageMaker integrations the pipeline uses. These hooks fix that:

1. ``LambdaSimpleBackend.invoke`` runs the function through a :class:`LambdaInvoker`;
2. ``StateTaskServiceUnsupported`` accepts ``.sync`` and polls ``Describe*Job`` until the job is
   terminal (``States.TaskFailed`` with the description as cause, as in AWS);
3. ``SageMakerModelBackend.create_training_job`` / ``create_transform_job`` and
   ``SageMakerResponse.create_processing_job`` hand the new job to a :class:`JobLauncher`, which
   runs it and updates its status (moto records processing jobs ``Completed`` at once and
   drops their ``Environment`` and ``ProcessingResources``; the patch keeps both);
4. a Fail state may re-raise a caught ``States.*`` error through ``ErrorPath``, as in AWS;
5. a JSONPath filter that matches nothing yields ``[]``, as in AWS, instead of an error;
6. a Distributed Map run fails when its failed items exceed the tolerated threshold, as in AWS
   (moto lets it succeed with ``null`` results);
7. a DynamoDB ``Item`` checks its 400 KB size limit once, on the whole item, instead of
   re-sizing every attribute already set for each attribute it adds (moto's
   ``LimitedSizeDict.__setitem__`` is quadratic in the attribute count: a third of the write
   step's time on the 536k-item anomaly run). Same limit, same error, same stored item;
8. a DynamoDB ``BatchWriteItem`` request whose attribute values need no conversion (no binary
   ``B``/``BS`` values, no nulls or unknown members) is taken as ``json.loads`` gives it, which
   is exactly what moto's shape-driven parser returns for such a request, at a fraction of the
   cost (that parser visits every attribute of every item in Python: a quarter of the write
   step's time). Any other request goes through moto's parser unchanged.

:func:`stored_items` is not a patch but reads moto's DynamoDB storage directly: every moto
Scan/Query page sorts and walks the whole table, so paging through a 536k-item run costs
minutes (``benchmarks/pipeline_export.py`` measures both).

All of them touch private moto code, so the version is pinned and checked before patching.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

MOTO_VERSION = "5.2.5"
"""The only moto version these patches were written and tested against."""

_SYNC_JOBS: dict[str, tuple[str, str, str]] = {
    # boto action -> (describe action, name parameter, status field)
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "create_processing_job": (
        "describe_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
    ),
}
_TERMINAL_FAILURES = frozenset({"Failed", "Stopped"})


@dataclass(frozen=True)
class LambdaOutcome:
    """What one Lambda invocation returned.

    Attributes:
        payload: the JSON response body (the handler's return value, or the error document).
        error_type: the raised exception's class name, or ``None`` on success.
    """

    payload: bytes
    error_type: str | None = None


class LambdaInvoker(Protocol):
    """Runs one Lambda function (a moto ``LambdaFunction``) on a request payload."""

    def __call__(self, function: Any, payload: bytes) -> LambdaOutcome:
        """Invoke the function.

        Args:
            function: moto's ``LambdaFunction`` (``function_name``, ``handler``,
                ``environment_vars``, ``function_arn``, ...).
            payload: the raw JSON request payload.

        Returns:
            The outcome; an ``error_type`` becomes the Step Functions error name.
        """
        ...


class JobLauncher(Protocol):
    """Runs the SageMaker jobs moto records, updating the job objects as they progress."""

    def start_training(self, job: Any) -> None:
        """Start a training job (moto ``FakeTrainingJob``, status already ``InProgress``)."""
        ...

    def start_transform(self, job: Any, backend: Any) -> None:
        """Start a transform job (moto ``FakeTransformJob``); ``backend`` resolves its model."""
        ...

    def start_processing(self, job: Any) -> None:
        """Start a processing job (moto ``FakeProcessingJob``, status already ``InProgress``)."""
        ...


class MotoVersionError(RuntimeError):
    """The installed moto is not the version these patches target."""


def check_moto_version() -> str:
    """Fail loudly unless the installed moto is exactly :data:`MOTO_VERSION`.

    Returns:
        The installed version.

    Raises:
        MotoVersionError: for any other version (the patched internals may have changed).
    """
    installed = metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"moto {installed} is installed but retailsage.pipeline.moto_patches targets "
            f"moto {MOTO_VERSION}; re-check the patched internals before changing the pin"
        )
    return installed


def stored_items(
    account_id: str, region: str, table_name: str, sort_key_prefix: str
) -> Iterator[dict[str, dict[str, Any]]]:
    """Yield the items of a moto table whose sort key starts with a prefix, in one pass.

    What a full Scan returns, without moto's per-page cost (each Scan/Query page re-sorts the
    whole table and skips to its start key). Items come in DynamoDB's attribute-value form.

    Args:
        account_id: the local account.
        region: the region.
        table_name: the table.
        sort_key_prefix: keep items whose sort key (a string) starts with this.

    Yields:
        Items as ``{name: {"S": ...}}`` dicts.

    Raises:
        MotoVersionError: when the installed moto is not :data:`MOTO_VERSION`.
    """
    check_moto_version()
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account_id][region].get_table(table_name)
    for partition in list(table.items.values()):
        for item in list(partition.values()) if isinstance(partition, dict) else [partition]:
            key = item.range_key.value if item.range_key is not None else ""
            if isinstance(key, str) and key.startswith(sort_key_prefix):
                yield {name: value.to_json() for name, value in item.attrs.items()}


def stored_item_count(account_id: str, region: str, table_name: str) -> int:
    """Count a moto table's items without a Scan (``Select=COUNT`` pages are quadratic too).

    Args:
        account_id: the local account.
        region: the region.
        table_name: the table.

    Returns:
        The item count.
    """
    check_moto_version()
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account_id][region].get_table(table_name)
    return sum(len(p) if isinstance(p, dict) else 1 for p in list(table.items.values()))


def json_safe(value: Any) -> Any:
    """Return ``value`` with datetimes as epoch milliseconds (what Step Functions emits).

    Args:
        value: a boto3 response or part of one.

    Returns:
        A structure ``json.dumps`` accepts.
    """
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return value


def _lambda_invoke(invoker: LambdaInvoker) -> Callable[..., bytes]:
    """Build the replacement for ``LambdaSimpleBackend.invoke``."""

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        function = self.get_function(function_name, qualifier)  # raises if it does not exist
        raw = body.encode() if isinstance(body, str) else (body or b"{}")
        outcome = invoker(function, raw)
        if outcome.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return outcome.payload

    return invoke


def _sync_resolver_builder() -> Callable[..., Callable[[], Any]]:
    """Build ``StateTaskServiceUnsupported._build_sync_resolver`` for SageMaker jobs."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    def build(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any]:
        action = self._get_boto_service_action()
        if action not in _SYNC_JOBS:
            raise RuntimeError(f"Unsupported .sync callback procedure in resource {action}")
        describe, name_key, status_key = _SYNC_JOBS[action]
        client = boto_client_for(
            service="sagemaker",
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        env.stack.pop()  # the Create*Job response; the description replaces it
        name = normalised_parameters[name_key]

        def resolve() -> dict[str, Any] | None:
            response = getattr(client, describe)(**{name_key: name})
            response.pop("ResponseMetadata", None)
            status = response[status_key]
            if status == "Completed":
                return dict(json_safe(response))
            if status not in _TERMINAL_FAILURES:
                return None
            error = StatesErrorNameType.StatesTaskFailed.to_name()
            details = TaskFailedEventDetails(
                resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type(),
                error=error,
                cause=json.dumps(json_safe(response)),
            )
            event_details: Any = {"taskFailedEventDetails": details}  # an EventDetails dict
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=event_details,
                )
            )

        return resolve

    return build


def _fail_state_error_name() -> type:
    """Build the error-name class a Fail state uses for its ``Error``/``ErrorPath`` value.

    moto's ``CustomErrorName`` rejects names starting ``States.``, but a Fail state re-raising a
    caught error (``ErrorPath: $.error.Error`` after ``States.TaskFailed``) is valid ASL that
    AWS runs; with the check the execution ends in ``States.Runtime`` instead.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName

    class FailStateErrorName(ErrorName):
        """A Fail state's error name, taken as given."""

    return FailStateErrorName


def _filters_are_indefinite(original: Callable[[str], bool]) -> Callable[[str], bool]:
    """Treat JSONPath filters (``[?(...)]``) like wildcards: no match gives ``[]``, not an error.

    AWS evaluates a filter as an indefinite path whose result is a list, possibly empty (the
    pipeline's ``ResultSelector`` picks each metric out of ``FinalMetricDataList`` with one, and
    a family prints only some of the metrics); moto raises ``States.Runtime`` instead.
    """

    def indefinite(path: str) -> bool:
        return "[?(" in path or original(path)

    return indefinite


def _map_run_with_tolerance(original: Callable[..., None]) -> Callable[..., None]:
    """Fail a Distributed Map run whose failed items exceed its tolerated failure threshold.

    moto records failed items but lets the run succeed with ``null`` results; AWS fails it with
    ``States.ExceedToleratedFailureThreshold`` (the defaults tolerate no failure), which the
    Map state's Catch then handles.
    """
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        items = eval_input.map_run_record.item_counter
        failed, total = items.failed.get() + items.timed_out.get(), max(1, items.total.get())
        within_count = failed <= int(eval_input.tolerated_failure_count or 0)
        within_share = 100.0 * failed / total <= float(eval_input.tolerated_failure_percentage or 0)
        if failed == 0 or within_count or within_share:
            return
        error_type = StatesErrorNameType.StatesExceedToleratedFailureThreshold
        cause = f"{failed} of {total} items failed; the Map run tolerates none beyond its threshold"
        details: Any = {"mapRunFailedEventDetails": {"error": error_type.to_name(), "cause": cause}}
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=error_type),
                event_type=HistoryEventType.MapRunFailed,
                event_details=details,
            )
        )

    return map_run


def _item_init_sized_once() -> Callable[..., None]:
    """Build a moto DynamoDB ``Item`` with one size check over all of its attributes.

    moto sizes the whole item again for every attribute it sets; sizes are non-negative, so
    the last of those checks (the whole item) is the only one that can fail first: checking the
    total once raises exactly when moto would, with the same ``ItemSizeTooLarge``.
    """
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        typed = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in typed.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict(typed)  # its __init__ uses dict.update: no re-sizing

    return init


ITEM_SIZE_LIMIT = 405000
"""moto's item size limit in bytes (``LimitedSizeDict.__setitem__``)."""

_BATCH_WRITE_MEMBERS = frozenset(
    {"RequestItems", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics"}
)
_PLAIN_SCALARS: dict[str, type] = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_SETS = frozenset({"SS", "NS"})


def _batch_write_parsed_as_json(original: Callable[..., None]) -> Callable[..., None]:
    """Wrap moto's ``parse_parameters`` with a direct path for plain ``BatchWriteItem`` bodies."""

    def parse_parameters(self: Any, request: Any) -> None:
        if self._get_action() == "BatchWriteItem":
            params = plain_batch_write(request.data)
            if params is not None:
                self.params = params
                return
        original(self, request)

    return parse_parameters


def plain_batch_write(body: bytes) -> dict[str, Any] | None:
    """Parse a ``BatchWriteItem`` body when moto's shape-driven parser would not change it.

    moto's JSON parser converts base64 ``B``/``BS`` values to bytes, drops null and unknown
    members and otherwise returns the ``json.loads`` result: for a body made only of known
    members with non-null values and ``S``/``N``/``BOOL``/``NULL``/``SS``/``NS``/``M``/``L``
    attribute values, the two are equal.

    Args:
        body: the raw request body.

    Returns:
        The parsed request, or ``None`` when it needs moto's parser.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or not set(document) <= _BATCH_WRITE_MEMBERS:
        return None
    tables = document.get("RequestItems")
    if not isinstance(tables, dict) or any(
        not isinstance(value, str) for name, value in document.items() if name != "RequestItems"
    ):
        return None
    for requests in tables.values():
        if not isinstance(requests, list) or not all(_plain_write(r) for r in requests):
            return None
    return document


def _plain_write(request: Any) -> bool:
    """Whether one ``WriteRequest`` holds only plain attribute values."""
    if not isinstance(request, dict) or len(request) != 1:
        return False
    ((kind, body),) = request.items()
    member = {"PutRequest": "Item", "DeleteRequest": "Key"}.get(kind)
    if member is None or not isinstance(body, dict) or set(body) != {member}:
        return False
    return _plain_map(body[member])


def _plain_map(attributes: Any) -> bool:
    """Whether a map of attribute values holds only plain ones."""
    return isinstance(attributes, dict) and all(
        isinstance(name, str) and _plain_value(value) for name, value in attributes.items()
    )


def _plain_value(value: Any) -> bool:
    """Whether one ``AttributeValue`` needs no conversion by moto's parser."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, content),) = value.items()
    scalar = _PLAIN_SCALARS.get(kind)
    if scalar is not None:
        return isinstance(content, scalar)
    if kind in _PLAIN_SETS:
        return isinstance(content, list) and all(isinstance(v, str) for v in content)
    if kind == "M":
        return _plain_map(content)
    if kind == "L":
        return isinstance(content, list) and all(_plain_value(v) for v in content)
    return False


def _launching(
    original: Callable[..., Any], start: Callable[[Any, Any], None]
) -> Callable[..., Any]:
    """Wrap a moto ``create_*_job`` so that the recorded job is handed to a runner."""

    def create(self: Any, **kwargs: Any) -> Any:
        spec = kwargs.get("algorithm_specification")
        kept = dict(spec) if isinstance(spec, dict) else None
        job = original(self, **kwargs)
        if kept is not None:  # moto overwrites MetricDefinitions with a canned one
            job.algorithm_specification = kept
        start(job, self)
        return job

    return create


def _launching_processing(
    original: Callable[..., Any], start: Callable[[Any], None]
) -> Callable[..., Any]:
    """Wrap ``SageMakerResponse.create_processing_job`` to keep the request and run the job.

    moto's backend method takes neither ``Environment`` nor ``ProcessingResources``, so the
    response handler (which still has the request) records them on the new job.
    """

    def create(self: Any) -> Any:
        result = original(self)
        job = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        job.environment = self._get_param("Environment") or {}
        job.processing_resources = self._get_param("ProcessingResources") or {}
        job.processing_end_time = None
        job.processing_job_status = "InProgress"
        start(job)
        return result

    return create


def _restore(owner: Any, name: str, original: Any) -> None:
    """Put back an attribute replaced by a patch (delete it where it was inherited)."""
    if original is None:
        delattr(owner, name)
    else:
        setattr(owner, name, original)


@contextmanager
def patched_moto(invoker: LambdaInvoker, launcher: JobLauncher) -> Iterator[None]:
    """Install the patches for the duration of the block, then restore moto.

    Args:
        invoker: runs Lambda functions (replaces moto's echoing simple backend).
        launcher: runs the SageMaker training, transform and processing jobs moto records.

    Yields:
        Nothing; moto is patched inside the block.

    Raises:
        MotoVersionError: when the installed moto is not :data:`MOTO_VERSION`.
    """
    check_moto_version()
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.responses import DynamoHandler
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_unsupported as unsupported,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.utils import json_path

    def start_training(job: Any, _backend: Any) -> None:
        job.training_job_status = job.secondary_status = "InProgress"
        launcher.start_training(job)

    def start_transform(job: Any, backend: Any) -> None:
        job.transform_job_status = "InProgress"
        launcher.start_transform(job, backend)

    def start_processing(job: Any) -> None:
        launcher.start_processing(job)  # looked up per job: the launcher may not run them

    service = unsupported.StateTaskServiceUnsupported
    replacements: list[tuple[Any, str, Any]] = [
        (LambdaSimpleBackend, "invoke", _lambda_invoke(invoker)),
        (Item, "__init__", _item_init_sized_once()),
        (
            DynamoHandler,
            "parse_parameters",
            _batch_write_parsed_as_json(DynamoHandler.parse_parameters),
        ),
        (state_fail, "CustomErrorName", _fail_state_error_name()),
        (
            distributed.DistributedIterationComponent,
            "_map_run",
            _map_run_with_tolerance(distributed.DistributedIterationComponent._map_run),
        ),
        (
            json_path,
            "_contains_slice_or_wildcard_array",
            _filters_are_indefinite(json_path._contains_slice_or_wildcard_array),
        ),
        (service, "_build_sync_resolver", _sync_resolver_builder()),
        (
            SageMakerModelBackend,
            "create_training_job",
            _launching(SageMakerModelBackend.create_training_job, start_training),
        ),
        (
            SageMakerModelBackend,
            "create_transform_job",
            _launching(SageMakerModelBackend.create_transform_job, start_transform),
        ),
        (
            SageMakerResponse,
            "create_processing_job",
            _launching_processing(SageMakerResponse.create_processing_job, start_processing),
        ),
    ]
    patterns: set[Any] = unsupported._SUPPORTED_INTEGRATION_PATTERNS
    added_sync = ResourceCondition.Sync not in patterns
    with ExitStack() as stack:
        for owner, name, replacement in replacements:
            stack.callback(_restore, owner, name, owner.__dict__.get(name))
            setattr(owner, name, replacement)
        if added_sync:
            patterns.add(ResourceCondition.Sync)
            stack.callback(patterns.discard, ResourceCondition.Sync)
        yield
