"""Put on PYTHONPATH by `python -m autogen_troupe.runtime._torch_extras`, so that the processes vLLM's server
spawns (its engine core) hide the mismatched torch extras too."""

from autogen_troupe.runtime._torch_extras import hide_broken_torch_extras

hide_broken_torch_extras()
