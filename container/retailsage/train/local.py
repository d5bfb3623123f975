"""Run one training job locally in a SageMaker-shaped tree, and pack the model as SageMaker does.

The local equivalent of the AWS sample's ``train_local.sh``: :func:`build_training_tree` lays out
``input/config/*.json`` and ``input/data/<channel>/``, :func:`run_training` runs
``entrypoint.sh train`` against it (``SAGEMAKER_BASE_DIR``, no Docker; or ``podman``/``docker
run -v TREE:/opt/ml IMAGE train`` with an image), and :func:`pack_model` writes ``model.tar.gz``
with the files at the archive root, exactly like SageMaker's upload of ``/opt/ml/model``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from retailsage.core.containers import find_engine
from retailsage.core.errors import UserError
from retailsage.core.paths import BASE_DIR_ENV, SageMakerPaths

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
ENTRYPOINT = REPO_ROOT / "entrypoint.sh"
CONTAINER_BASE = "/opt/ml"
LOCAL_HOST = "algo-1"


def _write_json(path: Path, data: object) -> None:
    """Write one config file (pretty, newline-terminated)."""
    path.write_text(json.dumps(data, indent=2) + "\n")


def build_training_tree(
    base: Path,
    data_files: Mapping[str, Sequence[Path]],
    hyperparameters: Mapping[str, object],
    checkpoint_dir: Path | str | None = None,
    *,
    hosts: Sequence[str] = (LOCAL_HOST,),
    current_host: str = LOCAL_HOST,
    distribution: Mapping[str, str] | None = None,
) -> SageMakerPaths:
    """Lay out a SageMaker training tree: config files, channel data, empty outputs.

    Existing ``input/``, ``model/`` and ``output/`` under ``base`` are replaced; a populated
    ``checkpoints/`` is kept, so a second run resumes like a restarted spot job.

    Args:
        base: the tree's root (what ``/opt/ml`` is in the container).
        data_files: channel name -> files to copy into ``input/data/<channel>/``.
        hyperparameters: name -> value; values are written as strings, as SageMaker does.
        checkpoint_dir: when given, written as ``checkpointconfig.json``'s ``LocalPath``.
        hosts: every host of the job (``resourceconfig.json``; several for a multi-host job,
            whose hosts then talk over the loopback interface ``lo``).
        current_host: the host this tree belongs to.
        distribution: channel -> ``S3DistributionType`` (``FullyReplicated`` by default).

    Returns:
        The tree's paths.

    Raises:
        UserError: a data file does not exist.
    """
    paths = SageMakerPaths.from_env({BASE_DIR_ENV: str(base)})
    for sub in (paths.input_dir, paths.model_dir, paths.output_dir):
        shutil.rmtree(sub, ignore_errors=True)
    for sub in (paths.config_dir, paths.model_dir, paths.output_data_dir):
        sub.mkdir(parents=True, exist_ok=True)
    for channel, files in data_files.items():
        target = paths.channel_dir(channel)
        target.mkdir(parents=True, exist_ok=True)
        for source in files:
            if not Path(source).is_file():
                raise UserError(f"data file {source} for channel {channel!r} does not exist")
            shutil.copy2(source, target / Path(source).name)
    _write_json(paths.hyperparameters_file, {k: str(v) for k, v in hyperparameters.items()})
    spread = distribution or {}
    _write_json(
        paths.input_data_config_file,
        {
            name: {
                "TrainingInputMode": "File",
                "S3DistributionType": spread.get(name, "FullyReplicated"),
                "RecordWrapperType": "None",
            }
            for name in data_files
        },
    )
    _write_json(
        paths.resource_config_file,
        {
            "current_host": current_host,
            "hosts": list(hosts),
            "network_interface_name": "lo" if len(hosts) > 1 else "eth0",
        },
    )
    if checkpoint_dir is not None:
        _write_json(paths.checkpoint_config_file, {"LocalPath": str(checkpoint_dir)})
    return paths


def pack_model(model_dir: Path, out_tar: Path) -> Path:
    """Pack a model directory into ``model.tar.gz`` with its files at the archive root.

    Args:
        model_dir: the trained model directory (``/opt/ml/model``).
        out_tar: the archive to write.

    Returns:
        ``out_tar``.

    Raises:
        UserError: ``model_dir`` is missing or empty (the job wrote no model).
    """
    files = sorted(p for p in model_dir.rglob("*") if p.is_file()) if model_dir.is_dir() else []
    if not files:
        raise UserError(f"no model files in {model_dir}; did the training job succeed?")
    out_tar.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out_tar, "w:gz") as archive:
        for path in files:
            archive.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    return out_tar


def training_command(
    base: Path, image: str | None = None, checkpoint_dir: Path | None = None
) -> list[str]:
    """Return the command that runs ``train`` against the tree at ``base``.

    Args:
        base: the tree's root.
        image: a container image to run instead of the source checkout's ``entrypoint.sh``.
        checkpoint_dir: with an image, a host directory mounted at ``/opt/ml/checkpoints``.

    Returns:
        The argv list.
    """
    if image is None:
        return [str(ENTRYPOINT), "train"]
    engine = find_engine()
    if engine is None:
        raise UserError("--image needs a working docker engine or podman; neither answered")
    mounts = {base: CONTAINER_BASE}
    if checkpoint_dir is not None:
        mounts[checkpoint_dir] = f"{CONTAINER_BASE}/checkpoints"
    run = engine.run_args(image, "train", mounts=mounts)
    return [engine.name, *engine.global_flags, run[0], "--rm", *run[1:]]


def run_training(
    base: Path,
    image: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    checkpoint_dir: Path | None = None,
) -> int:
    """Run one training job against the tree at ``base`` and return its exit code.

    Args:
        base: the tree's root, laid out by :func:`build_training_tree`.
        image: run this container image (``-v base:/opt/ml``) instead of the source checkout.
        extra_env: variables added to the job's environment (source-checkout runs only).
        checkpoint_dir: with an image, a host checkpoint directory to mount.

    Returns:
        The job's exit code (0 success, 1 user error, 2 algorithm error, 143 stopped).
    """
    env = dict(os.environ)
    env.update({BASE_DIR_ENV: str(base), "RETAILSAGE_PYTHON": sys.executable})
    env.update(extra_env or {})
    command = training_command(base, image, checkpoint_dir)
    logger.info("running %s", " ".join(command))
    return subprocess.run(command, env=env, check=False).returncode


def _parse_hyperparameters(args: argparse.Namespace) -> dict[str, str]:
    """Merge ``--hyperparameters FILE`` with ``--hp key=value`` (the latter wins)."""
    values: dict[str, str] = {}
    if args.hyperparameters:
        loaded = json.loads(Path(args.hyperparameters).read_text())
        values.update({k: str(v) for k, v in loaded.items()})
    for item in args.hp:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--hp expects KEY=VALUE, got {item!r}")
        values[key] = value
    return values


def _parse_channels(args: argparse.Namespace) -> dict[str, list[Path]]:
    """Collect ``--data FILE`` (channel train) and ``--channel NAME=FILE`` into a map."""
    channels: dict[str, list[Path]] = {}
    for item in args.channel:
        name, sep, file = item.partition("=")
        if not sep:
            raise UserError(f"--channel expects NAME=FILE, got {item!r}")
        channels.setdefault(name, []).append(Path(file))
    for file in args.data:
        channels.setdefault("train", []).append(Path(file))
    if "train" not in channels:
        raise UserError("give the training data with --data FILE or --channel train=FILE")
    return channels


def build_parser() -> argparse.ArgumentParser:
    """Build the ``train_local`` argument parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="train_local",
        description="Run one SageMaker training job locally and pack model.tar.gz.",
    )
    parser.add_argument("--base", type=Path, default=Path("build/local_train/opt_ml"))
    parser.add_argument("--data", action="append", default=[], help="file for channel train")
    parser.add_argument("--channel", action="append", default=[], help="NAME=FILE")
    parser.add_argument("--hyperparameters", help="JSON file of hyperparameters")
    parser.add_argument("--hp", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--checkpoint-dir", type=Path, help="checkpoint LocalPath")
    parser.add_argument("--image", help="run this image with podman/docker instead")
    parser.add_argument("--model-tar", type=Path, help="default: BASE/../model.tar.gz")
    parser.add_argument(
        "--instance-count", type=int, default=1, help="hosts (one entrypoint.sh train each)"
    )
    parser.add_argument(
        "--sharded",
        action="append",
        default=[],
        metavar="CHANNEL",
        help="deal this channel's files to the hosts (ShardedByS3Key)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Build the tree, run the job, pack the model; return the job's exit code.

    Args:
        argv: command-line arguments without the program name.

    Returns:
        The training job's exit code (the failure file is printed when it is non-zero), or 2
        when the arguments are unusable (a missing data file, a malformed ``--hp``, ...).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _train_and_pack(args)
    except UserError as exc:  # this tool's own usage errors; the job's go to its failure file
        logger.error("UserError: %s", exc)
        return 2


def _train_and_pack(args: argparse.Namespace) -> int:
    """Everything :func:`main` does after parsing the arguments."""
    base: Path = args.base.resolve()
    ckpt_local = args.checkpoint_dir
    if args.image and args.checkpoint_dir is not None:
        ckpt_local = Path(CONTAINER_BASE) / "checkpoints"
    if args.instance_count > 1:
        return _main_multi_host(args, base)
    paths = build_training_tree(
        base, _parse_channels(args), _parse_hyperparameters(args), checkpoint_dir=ckpt_local
    )
    code = run_training(base, args.image, checkpoint_dir=args.checkpoint_dir)
    if code != 0:
        failure = paths.failure_file
        reason = failure.read_text() if failure.is_file() else "(no failure file)"
        logger.error("training failed with exit code %d:\n%s", code, reason)
        return code
    out_tar = args.model_tar or base.parent / "model.tar.gz"
    pack_model(paths.model_dir, out_tar)
    logger.info("model: %s; reports: %s", out_tar, paths.output_data_dir)
    return 0


def _main_multi_host(args: argparse.Namespace, base: Path) -> int:
    """Run ``--instance-count`` local hosts (source checkout only); pack algo-1's model."""
    from retailsage.train.local_cluster import SHARDED, build_cluster, run_cluster

    if args.image:
        raise UserError("--instance-count > 1 runs the source checkout; drop --image")
    cluster = build_cluster(
        base,
        _parse_channels(args),
        _parse_hyperparameters(args),
        instance_count=args.instance_count,
        distribution=dict.fromkeys(args.sharded, SHARDED),
    )
    codes = run_cluster(cluster)
    if any(codes):
        for host, tree, code in zip(cluster.hosts, cluster.trees, codes, strict=True):
            reason = tree.failure_file.read_text() if tree.failure_file.is_file() else "-"
            logger.error("%s exited %d: %s", host, code, reason.strip()[:1024])
        return next(code for code in codes if code)
    out_tar = args.model_tar or base.parent / "model.tar.gz"
    pack_model(cluster.trees[0].model_dir, out_tar)
    logger.info("model: %s; reports: %s", out_tar, cluster.trees[0].output_data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
