"""``python -m xsim``."""

from xsim.cli import main

main()
