"""``python -m curatune``: the command, for launchers that take a module (``accelerate launch -m curatune train ...``,
``torchrun --nproc_per_node 2 -m curatune train ...``)."""

from .cli import main

main()
