"""The optional compiled fast path (resp_arbiter/_fastpath.c); everything else is in
pyproject.toml. Without a C compiler the install still succeeds, pure Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("resp_arbiter._fastpath", ["resp_arbiter/_fastpath.c"],
                             optional=True)])
