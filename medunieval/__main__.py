"""``python -m medunieval``."""

from .cli import main

main()
