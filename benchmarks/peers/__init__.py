"""tokentrace side by side with the other OpenAI instrumentations, each in its own virtual environment.

``bash benchmarks/run.sh`` is the one command (see ``benchmarks/README.md``). The orchestrator
(``__main__``, standard library only) builds one venv per peer, starts a loopback server, and runs
``worker`` inside each venv, alternating peers repetition by repetition; ``report`` writes
``benchmarks/RESULTS.md``.
"""
