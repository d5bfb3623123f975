"""Build hook for the one C extension (``retailsage.models._treewalk``); metadata is in pyproject.

The extension is optional: without a C compiler the install still succeeds and the XGBoost
family keeps XGBoost's own predictor (retailsage/models/compiled_trees.py).
"""

import platform

from setuptools import Extension, setup

FLAGS = ["-O3"]
if platform.machine() in ("x86_64", "AMD64"):
    FLAGS.append("-march=x86-64-v2")  # SSE4.2/POPCNT: every x86 SageMaker instance has them

setup(
    ext_modules=[
        Extension(
            "retailsage.models._treewalk",
            sources=["container/retailsage/models/_treewalk.c"],
            extra_compile_args=FLAGS,
            optional=True,
        )
    ]
)
