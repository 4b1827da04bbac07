"""The tiny random-weight models the CPU profile serves, and the builder that makes them.

Two sides, two interpreters. `catalog` runs in the project's venv: which models a config wants,
and starting a build. The rest is the builder, run by the engine venv's python (torch,
transformers, tokenizers), where modelyard is not installed: `build` is its entry point and it
imports only its siblings here, which import nothing of the project. This file imports nothing,
so the engine python can load the package.
"""
