"""Runs a Lambda function's real handler in-process, as moto's Lambda ``invoke`` backend."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from retailsage.core.errors import UserError
from retailsage.pipeline.faults import FaultPlan
from retailsage.pipeline.gc_policy import invocation_gc
from retailsage.pipeline.moto_patches import LambdaOutcome

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


class InjectedFailure(Exception):
    """Raised in place of a handler's result when ``--inject-failure`` names its state."""


@dataclass
class LambdaContext:
    """The context object the Lambda runtime passes to a handler (the fields Powertools reads).

    Attributes:
        function_name: the function's name.
        invoked_function_arn: the function's ARN.
        memory_limit_in_mb: the configured memory.
        timeout_s: the configured timeout, for ``get_remaining_time_in_millis``.
        function_version: always ``$LATEST`` locally.
        aws_request_id: a fresh id per invocation.
    """

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        """The CloudWatch log group Lambda would write to."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name in Lambda's format."""
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        """Return the milliseconds left before the function's timeout.

        Returns:
            The remaining time, never negative.
        """
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed) * 1000))


@dataclass(frozen=True)
class LambdaCode:
    """Where one function's code lives locally.

    Attributes:
        code_dir: the directory deployed as the function's code (its asset source).
        handler: ``module.path.function``, as in the function's ``Handler`` property.
    """

    code_dir: Path
    handler: str


class LocalLambdaRunner:
    """Invokes functions by running their handler modules in this process.

    Each function's environment variables are set for the duration of its import and of each
    invocation (invocations are serialised, as one local "container" per function would be).
    """

    def __init__(
        self,
        code: Mapping[str, LambdaCode],
        faults: FaultPlan,
        on_error: Callable[[str, str, str], None] | None = None,
        on_start: Callable[[str], None] | None = None,
    ) -> None:
        """Record where each function's code is.

        Args:
            code: function name -> its code directory and handler.
            faults: functions named in ``faults.functions`` raise :class:`InjectedFailure`
                instead of running (the ``--inject-failure`` demonstration).
            on_error: called with (function name, error type, message) for every failed
                invocation; inside a Distributed Map the engine's history does not show them.
            on_start: called with the function name before each invocation (the progress
                printer catches up on the execution's history, so the handler's log lines
                appear under the state that invoked it).
        """
        self._on_start = on_start
        self._code = dict(code)
        self._faults = faults
        self._on_error = on_error
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.invocations: dict[str, int] = {}

    def __call__(self, function: Any, payload: bytes) -> LambdaOutcome:
        """Run one invocation (the :class:`~retailsage.pipeline.moto_patches.LambdaInvoker`).

        Args:
            function: moto's ``LambdaFunction``.
            payload: the JSON event.

        Returns:
            The JSON-encoded return value, or Lambda's error document with the exception's class
            name as ``error_type``.
        """
        name = function.function_name
        if self._on_start is not None:
            self._on_start(name)
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            timeout_s=int(function.timeout),
        )
        with self._lock, _environment(runtime_environment(function)), invocation_gc():
            self.invocations[name] = self.invocations.get(name, 0) + 1
            try:
                if name in self._faults.functions:
                    raise InjectedFailure(f"failure injected into Lambda function {name}")
                result = self._handler(name)(json.loads(payload or b"{}"), context)
                return LambdaOutcome(json.dumps(result).encode())
            except Exception as exc:  # every handler error becomes the Step Functions error
                logger.debug("Lambda %s raised %s: %s", name, type(exc).__name__, exc)
                if self._on_error is not None:
                    self._on_error(name, type(exc).__name__, str(exc))
                return LambdaOutcome(_error_document(exc, context), type(exc).__name__)

    def _handler(self, name: str) -> Handler:
        """Import (once) and return the handler function of one function."""
        if name not in self._handlers:
            code = self._code.get(name)
            if code is None:
                raise UserError(f"no local code registered for Lambda function {name!r}")
            self._handlers[name] = load_handler(code)
        return self._handlers[name]


def runtime_environment(function: Any) -> dict[str, str]:
    """The environment a function's handler sees: the Lambda runtime's variables, then its own.

    Args:
        function: moto's ``LambdaFunction``.

    Returns:
        ``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``AWS_LAMBDA_FUNCTION_*`` (as the runtime sets
        them) overlaid with the function's configured ``Environment.Variables``.
    """
    region = str(function.function_arn).split(":")[3]
    env = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
    }
    env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
    return env


def load_handler(code: LambdaCode) -> Handler:
    """Import a handler from its code directory, as the Lambda runtime does.

    The code directory goes first on ``sys.path`` (Lambda's ``/var/task``), so the handler's own
    imports resolve as they do when deployed. A package-qualified handler
    (``lambdas.extract.handler.lambda_handler``) is imported by its dotted name (a package of
    that name imported earlier in this process is reused); a top-level module (``handler``) is
    imported from its file under a unique name, since every function may have one.

    Args:
        code: the code directory and ``module.function`` handler string.

    Returns:
        The handler callable.

    Raises:
        UserError: the module file or the function does not exist.
    """
    module_path, _, attribute = code.handler.rpartition(".")
    source = code.code_dir / (module_path.replace(".", "/") + ".py")
    if not source.is_file():
        raise UserError(f"Lambda handler module {source} does not exist")
    if str(code.code_dir) not in sys.path:
        sys.path.insert(0, str(code.code_dir))
    if "." in module_path:
        module = importlib.import_module(module_path)
    else:
        module = _import_file(f"_retailsage_lambda_{abs(hash(source))}", source)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise UserError(f"{source} has no callable {attribute!r}")
    return handler


def _import_file(name: str, source: Path) -> ModuleType:
    """Import one source file under a unique module name (two functions may share ``handler``)."""
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _error_document(exc: BaseException, context: LambdaContext) -> bytes:
    """Render an exception as the Lambda runtime's error response."""
    document = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": context.aws_request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }
    return json.dumps(document).encode()


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore the previous values."""
    previous = {key: os.environ.get(key) for key in variables}
    os.environ.update({key: str(value) for key, value in variables.items()})
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
