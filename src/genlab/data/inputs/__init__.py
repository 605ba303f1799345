"""What a user points at beside a data spec: one image (image.py: a file, an upload or
SPEC:SPLIT:INDEX), one sound (sound.py: a .wav or SPEC:SPLIT:INDEX), and the pixels `genlab
complete` hides (masks.py)."""
