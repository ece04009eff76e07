"""Builds concbench.clients._engine, the load generator's native engine (concbench/clients/_engine.c), where it can.

Everything else about the package is in pyproject.toml. Where the extension cannot be built (no C
compiler, no Python headers, not Linux), the install still succeeds and the uvloop engine is used.
"""
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """A failed build of the native engine is one warning, not a failed install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:            # noqa: BLE001 - any failure means: no native engine
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:            # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        print(f"WARNING: concbench's native load-generator engine was not built ({exc}); "
              f"the uvloop engine will be used", file=sys.stderr)


flags = ["-O2", "-std=gnu11", "-Wall", "-Wno-unused-result"]
if os.environ.get("CONCBENCH_ASAN"):        # make asan: AddressSanitizer build
    flags = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address", "-std=gnu11", "-Wall"]

setup(
    ext_modules=[Extension("concbench.clients._engine", ["concbench/clients/_engine.c"], extra_compile_args=flags,
                           extra_link_args=["-fsanitize=address"] if os.environ.get("CONCBENCH_ASAN") else [],
                           libraries=["m"], optional=sys.platform != "linux")] if sys.platform == "linux" else [],
    cmdclass={"build_ext": OptionalBuildExt},
)
