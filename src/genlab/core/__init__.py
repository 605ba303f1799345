"""What every part of genlab stands on: the one error type, typed configs, atomic file writes,
progress output, and the like (interpolation.py: paths between latent codes). Imports nothing else of genlab."""
