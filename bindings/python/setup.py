"""Packaging of raindrop_dspy: the ctypes package plus the native core library inside it.

The library reaches the wheel in one of two ways:

* ``RAINDROP_DSPY_PREBUILT=/path/to/libraindrop_dspy.so`` (or ``raindrop_dspy.dll``): copied as
  is; ``make dist`` does this with the stripped libraries of its archives, and names the wheel's
  platform in ``RAINDROP_DSPY_PLAT`` (``manylinux2014_x86_64``, ``win_amd64``, ...).
* otherwise cargo builds the crate: ``native/`` inside an sdist (profile ``dist``: LTO, stripped),
  or the repository root in a checkout (profile ``release``, shared with the other suites).

The wheel is tagged ``py3-none-<platform>``: ctypes loads the library, so one wheel serves every
CPython >= 3.9. The version is the crate's (Cargo.toml), the single source.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
# What the sdist carries of the crate, under native/.
CRATE_FILES = ["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "LICENSE", "src", "include"]


def crate_dir() -> Path:
    for d in (os.environ.get("RAINDROP_DSPY_CRATE"), HERE / "native", HERE.parent.parent):
        if d and (Path(d) / "Cargo.toml").is_file():
            return Path(d)
    sys.exit("raindrop-dspy: the Rust crate is missing (an sdist carries it in native/)")


def version() -> str:
    text = (crate_dir() / "Cargo.toml").read_text(encoding="utf-8")
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)


def library_name(platform: str = sys.platform) -> str:
    if platform == "win32":
        return "raindrop_dspy.dll"
    if platform == "darwin":
        return "libraindrop_dspy.dylib"
    return "libraindrop_dspy.so"


class BuildWithNative(build_py):
    """build_py, then the native library into the package folder."""

    def run(self):
        super().run()
        dest = Path(self.build_lib) / "raindrop_dspy"
        prebuilt = os.environ.get("RAINDROP_DSPY_PREBUILT")
        if prebuilt:
            src = Path(prebuilt)
            if not src.is_file():
                sys.exit(f"raindrop-dspy: RAINDROP_DSPY_PREBUILT={prebuilt} is not a file")
        else:
            src = self.cargo_build()
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / src.name)
        # raindrop_dspy.__version__ (a checkout reads Cargo.toml instead)
        (dest / "_version.py").write_text(f'version = "{version()}"\n', encoding="utf-8")

    def cargo_build(self) -> Path:
        cargo = shutil.which(os.environ.get("CARGO", "cargo"))
        if not cargo:
            sys.exit(
                "raindrop-dspy: building from source needs Rust (cargo, see https://rustup.rs); "
                "or install a prebuilt wheel (py3-none-<platform>) instead"
            )
        crate = crate_dir()
        profile = "dist" if crate == HERE / "native" else "release"
        target = Path(os.environ.get("CARGO_TARGET_DIR") or crate / "target")
        cmd = [cargo, "build", "--lib", "--profile", profile, "--manifest-path", str(crate / "Cargo.toml")]
        if profile == "dist":
            # The shared library alone: with every crate type of Cargo.toml in one build, rustc
            # applies less LTO. (A checkout shares target/release with the other suites instead.)
            cmd[1:2] = ["rustc", "--crate-type", "cdylib"]
        subprocess.check_call(cmd + ["--target-dir", str(target)], cwd=crate)
        return target / profile / library_name()


class SdistWithCrate(sdist):
    """An sdist that builds: it carries the crate in native/."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        crate, native = crate_dir(), Path(base_dir) / "native"
        if crate.resolve() == (HERE / "native").resolve():
            return  # already listed by MANIFEST.in
        for name in CRATE_FILES:
            src = crate / name
            if src.is_dir():
                shutil.copytree(src, native / name, dirs_exist_ok=True)
            else:
                native.mkdir(exist_ok=True)
                shutil.copyfile(src, native / name)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: not pure (it carries a library), but bound to no Python ABI."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        plat = os.environ.get("RAINDROP_DSPY_PLAT") or super().get_tag()[2]
        return "py3", "none", plat


class NativeDistribution(Distribution):
    """Carries a native library: installs into platlib (the wheel's root), not purelib."""

    def has_ext_modules(self):
        return True


setup(
    version=version(),
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildWithNative, "sdist": SdistWithCrate, "bdist_wheel": PlatformWheel},
)
