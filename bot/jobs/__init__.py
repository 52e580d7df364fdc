"""One module per job: read via adapters, let the domain decide, render, skip what is done, write, record."""
