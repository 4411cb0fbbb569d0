"""The pytest plugin's entry point (`pytest11`): scenario files with an `expect` block become test items.

The plugin lives in `autogen_troupe.testing._plugin`; this module only hands pytest its hooks and fixture,
under the name installed entry points and `-p autogen_troupe.pytest_plugin` use.
"""

from autogen_troupe.testing._plugin import (
    pytest_addoption,
    pytest_collect_file,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_unconfigure,
    troupe_run,
)

__all__ = [
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_unconfigure",
    "troupe_run",
]
