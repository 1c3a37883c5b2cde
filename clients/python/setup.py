"""Of the top-level ``kassagate`` package only ``__init__`` (and ``py.typed``) belong to the
client distribution: the other top-level modules are the server's."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: The only module of the top-level package that the client distribution ships.
TOP_LEVEL_MODULES = frozenset({"__init__"})


class ClientModulesOnly(build_py):
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules = super().find_package_modules(package, package_dir)
        if package == "kassagate":
            return [m for m in modules if m[1] in TOP_LEVEL_MODULES]
        return modules


#: The egg-info goes beside this file, not into the shared src/ (where it would pass for an
#: installed distribution).
EGG_BASE = Path(__file__).resolve().parent / "build"
EGG_BASE.mkdir(exist_ok=True)

setup(cmdclass={"build_py": ClientModulesOnly}, options={"egg_info": {"egg_base": str(EGG_BASE)}})
