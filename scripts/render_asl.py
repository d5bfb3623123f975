"""Regenerate stepfunctions/pipeline.asl.json from the synthesized pipeline stack.

Usage: .venv/bin/python scripts/render_asl.py [--check]

The snapshot is the state machine definition exactly as ``cdk deploy`` would deploy it for
``infra.example.example_config()``, with CloudFormation tokens shown as ``${...}`` placeholders
(logical-id hashes removed). ``--check`` exits 1 when the checked-in file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO_ROOT / "stepfunctions" / "pipeline.asl.json"


def render() -> str:
    """The snapshot text of the example configuration's pipeline state machine."""
    from retailsage.pipeline.deployment import quiet_node_version_banner

    quiet_node_version_banner()  # as under make
    from infra.example import example_config
    from infra.synth import PIPELINE_STACK, render_asl_snapshot, synth_app

    result = synth_app(example_config(with_endpoint=False), nag=False)
    return render_asl_snapshot(result.templates[PIPELINE_STACK])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the snapshot is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = SNAPSHOT.read_text() if SNAPSHOT.is_file() else ""
        if current != text:
            print(f"{SNAPSHOT} is stale; run scripts/render_asl.py", file=sys.stderr)
            return 1
        return 0
    SNAPSHOT.write_text(text)
    print(f"wrote {SNAPSHOT} ({len(json.loads(text)['States'])} top-level states)")
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "container")]
    raise SystemExit(main())
