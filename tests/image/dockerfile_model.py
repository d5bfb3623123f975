"""A small Dockerfile reader for the static checks: instructions grouped by build stage."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One instruction with its continuation lines joined (comments dropped)."""

    keyword: str
    args: str
    line: int

    def flags(self) -> dict[str, str]:
        """The leading ``--name=value`` flags (COPY --from=..., --chmod=...)."""
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.args.split(" /", 1)[0]))

    def operands(self) -> list[str]:
        """The shell-split arguments without leading ``--flags``."""
        return [word for word in shlex.split(self.args) if not word.startswith("--")]


@dataclass
class Stage:
    """One ``FROM`` and the instructions up to the next one."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        """The stage's instructions of one kind."""
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """Every ``ENV key=value`` of the stage (later ones win)."""
        values: dict[str, str] = {}
        for instruction in self.of("ENV"):
            for word in shlex.split(instruction.args):
                key, _, value = word.partition("=")
                values[key] = value
        return values

    def labels(self) -> dict[str, str]:
        """Every ``LABEL key=value`` of the stage."""
        values: dict[str, str] = {}
        for instruction in self.of("LABEL"):
            for word in shlex.split(instruction.args):
                key, _, value = word.partition("=")
                values[key] = value
        return values


@dataclass
class Dockerfile:
    """The parsed file: global ARGs (before the first FROM) and the stages in order."""

    global_args: dict[str, str]
    stages: list[Stage]
    instructions: list[Instruction]

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        """Read and parse ``path``."""
        instructions: list[Instruction] = []
        pending: list[str] = []
        start = 0
        for number, raw in enumerate(path.read_text().splitlines(), start=1):
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if pending and line.startswith("#"):
                continue
            if not pending:
                start = number
            pending.append(line.removesuffix("\\").strip())
            if not line.endswith("\\"):
                keyword, _, args = " ".join(pending).partition(" ")
                instructions.append(Instruction(keyword.upper(), args.strip(), start))
                pending = []
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for instruction in instructions:
            if instruction.keyword == "FROM":
                words = instruction.args.split()
                name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
                stages.append(Stage(base=words[0], name=name))
            elif not stages and instruction.keyword == "ARG":
                key, _, value = instruction.args.partition("=")
                global_args[key] = value
            elif stages:
                stages[-1].instructions.append(instruction)
        return cls(global_args=global_args, stages=stages, instructions=instructions)

    @property
    def final(self) -> Stage:
        """The last stage: what the built image is."""
        return self.stages[-1]
