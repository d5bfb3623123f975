"""SIGTERM handling: a stop flag that training hooks poll.

``StopTrainingJob`` and spot interruptions send SIGTERM and SIGKILL 120 s later. The handler only
sets a flag; the family reads it through ``TrainingHooks.should_stop`` at the end of an epoch or
boosting round, saves a checkpoint and raises ``TrainingInterrupted``.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

logger = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGTERM (or SIGINT), read by ``TrainingHooks.should_stop``.

    Attributes:
        received_at: ``time.monotonic()`` when the first signal arrived, else ``None``.
        signal_name: the name of that signal, e.g. ``SIGTERM``.
    """

    def __init__(self) -> None:
        """Create an unset flag; call :meth:`install` to connect it to signals."""
        self.received_at: float | None = None
        self.signal_name: str | None = None

    def __call__(self) -> bool:
        """Return True once a stop signal arrived (the ``should_stop`` hook signature)."""
        return self.received_at is not None

    def request(self, signum: int, frame: FrameType | None = None) -> None:
        """Record a stop request; the signal-handler signature.

        Args:
            signum: the signal number.
            frame: the interrupted frame (unused).
        """
        if self.received_at is None:
            self.received_at = time.monotonic()
            self.signal_name = signal.Signals(signum).name
            logger.warning("%s received: stopping after the current epoch/round", self.signal_name)

    def install(self, signums: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Install :meth:`request` as the handler of the given signals (main thread only).

        Args:
            signums: the signals that request a stop.
        """
        for signum in signums:
            signal.signal(signum, self.request)
