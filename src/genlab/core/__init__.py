"""What every part of genlab stands on: the one error type, typed configs, atomic file writes and
progress output. Imports nothing else of genlab."""
