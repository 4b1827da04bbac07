"""`python -m modelyard`: the `modelyard` command, as the proxy's workers are started
(modelyard/workers.py), with the same interpreter as the process that starts them."""

from modelyard.cli import main

if __name__ == "__main__":
    main()
