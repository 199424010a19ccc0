"""The report of a benchmark run: Markdown and one self-contained HTML file, with plots and tables.

>>> from ffilab.report import write_report
>>> paths = write_report("results.json", "report/")  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['build', 'html', 'markdown', 'overhead', 'scaling', 'speedup']
"""

from __future__ import annotations

from ffilab.report.render import write_report
from ffilab.report.results import load_results

__all__ = ["load_results", "write_report"]
