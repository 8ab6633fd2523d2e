"""``python -m lanner``: the same as the ``lanner`` command."""

from lanner._launcher import main

main()
