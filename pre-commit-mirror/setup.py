# pre-commit installs a hook repository as a package; this one is empty and
# the hook's additional_dependencies bring the scar-lint wheel.
from setuptools import setup

setup(name="pre_commit_placeholder_package", version="0.0.0")
