"""The lesson's decision framework on the user's own code: ``ffilab advise`` (profile, try, estimate, recommend) and ``ffilab try``.

Modules, one idea each: ``profiling`` (run the program in a child, read and classify the profile),
``target`` (find a user function without running the program), ``compile`` (the tried routes),
``timing`` (verify and time on recorded calls), ``estimate`` (hand-written routes, Amdahl,
recommendation), ``session`` (the two workflows), ``_cli`` (rendering and errors); ``_runner`` and
``_swap`` run inside the user's interpreter.
"""

from ffilab.advise.session import AdviseOptions, TryOptions, advise, try_function

__all__ = ["AdviseOptions", "TryOptions", "advise", "try_function"]
