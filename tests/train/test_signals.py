from __future__ import annotations

import os
import signal

from retailsage.train.signals import StopFlag


def test_sigterm_sets_the_flag_once():
    previous = signal.getsignal(signal.SIGTERM)
    flag = StopFlag()
    try:
        flag.install((signal.SIGTERM,))
        assert not flag()
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag()
        first = flag.received_at
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag.received_at == first
        assert flag.signal_name == "SIGTERM"
    finally:
        signal.signal(signal.SIGTERM, previous)
